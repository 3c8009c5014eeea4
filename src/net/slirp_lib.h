/*
 * libslirp, loaded when a user-mode stack first starts (slirp_lib.c):
 * the library and the GLib it brings stay out of every mvm that has no
 * such stack, which is most of them (their start and their RSS).
 */
#ifndef MVM_NET_SLIRP_LIB_H
#define MVM_NET_SLIRP_LIB_H

#include <libslirp.h>

struct mvm_err;

/* The calls mvm makes, typed as libslirp's header declares them. */
struct slirp_lib {
	void *handle;
	__typeof__(slirp_new) *new_;
	__typeof__(slirp_cleanup) *cleanup;
	__typeof__(slirp_input) *input;
	__typeof__(slirp_pollfds_fill) *pollfds_fill;
	__typeof__(slirp_pollfds_poll) *pollfds_poll;
	__typeof__(slirp_socket_can_recv) *socket_can_recv;
	__typeof__(slirp_socket_recv) *socket_recv;
	__typeof__(slirp_add_hostfwd) *add_hostfwd;
	__typeof__(slirp_add_guestfwd) *add_guestfwd;
	/* NULL in a libslirp before 4.7: MMDS then serves one connection
	 * at a time through a guest forward. */
	__typeof__(slirp_add_unix) *add_unix;
	/*
	 * Its socket table as text, and GLib's free for it: how many TCP
	 * sockets a stack holds (MMDS's cap on them). NULL: not found, and
	 * MMDS keeps to the guest forward, which holds no socket.
	 */
	__typeof__(slirp_connection_info) *connection_info;
	void (*g_free)(void *p);
};

/* Load libslirp and find its calls, or fail with how to install it. */
int slirp_lib_open(struct slirp_lib *l, struct mvm_err *err);
/* Let go of it (libslirp's own state must be gone: slirp_cleanup). */
void slirp_lib_close(struct slirp_lib *l);

#endif
