/*
 * MMDS's guest connections, one Unix socket and one HTTP parser each
 * (mmds_conns.c): the stack connects to mmds_conns_path() for every TCP
 * connection a guest opens to the service. Runs on the loop's thread.
 */
#ifndef MVM_NET_MMDS_CONNS_H
#define MVM_NET_MMDS_CONNS_H

struct loop;
struct mmds;
struct mvm_err;
struct mmds_conns;

/*
 * A listener in a new private directory under $TMPDIR (or /tmp).
 * kick(kick_ctx) runs after answers were written, so that the stack
 * reads them at once.
 */
int mmds_conns_new(struct mmds_conns **out, struct mmds *m, struct loop *loop,
		   void (*kick)(void *ctx), void *kick_ctx,
		   struct mvm_err *err);
/* The socket's path, for libslirp's guest forward. */
const char *mmds_conns_path(const struct mmds_conns *s);
/* Take the connections the stack made: call after every frame it took. */
void mmds_conns_accept(struct mmds_conns *s);
/* Connections open now. */
unsigned mmds_conns_open(const struct mmds_conns *s);
/* Closes every connection, and removes the socket and its directory. */
void mmds_conns_free(struct mmds_conns *s);

#endif
