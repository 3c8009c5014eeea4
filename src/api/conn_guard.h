/*
 * Deadlines and a cap for the API's connections (src/api/conn_guard.c).
 * libmicrohttpd only knows one idle timeout, which every byte restarts, so
 * a client trickling its request, or one that half-closed mid-request,
 * would hold a connection (and an fd) for ever, and idle clients at the
 * limit would lock everybody else out.
 */
#ifndef MVM_API_CONN_GUARD_H
#define MVM_API_CONN_GUARD_H

#include <stdbool.h>
#include <stdint.h>

struct MHD_Connection;
struct mhd_lib;
struct vmm;
struct guard_conn;

/* Connections beyond this shed the one idle the longest. */
#define API_MAX_CONNECTIONS 512
/* Above the cap while the shed ones finish closing; then refused. */
#define API_CONN_SLACK 64
/* From a request's first byte to the end of its head. */
#define API_HEAD_DEADLINE_MS 10000
/* From the end of the head to the end of the body. */
#define API_BODY_DEADLINE_MS 10000
/* A client that half-closed mid-request can never finish it. */
#define API_HALF_CLOSED_GRACE_MS 500

struct conn_guard {
	const struct mhd_lib *lib;
	struct vmm *vmm;
	int epoll_fd;             /* first bytes and half-closes */
	struct guard_conn *head;  /* every open connection */
	unsigned live;            /* open and not being closed */
};

int guard_init(struct conn_guard *g, const struct mhd_lib *lib,
	       struct vmm *v);
/* After MHD has closed every connection. */
void guard_fini(struct conn_guard *g);

/* libmicrohttpd's connection notifications (socket_context is ours). */
void guard_opened(struct conn_guard *g, struct MHD_Connection *c,
		  void **socket_context);
void guard_closed(struct conn_guard *g, void **socket_context);

/* Before a new connection is added: shed the longest idle at the cap. */
void guard_make_room(struct conn_guard *g);

/* Request phases, as libmicrohttpd's callbacks see them. */
void guard_line_seen(struct conn_guard *g, struct MHD_Connection *c);
void guard_head_done(struct conn_guard *g, struct MHD_Connection *c);
void guard_replying(struct conn_guard *g, struct MHD_Connection *c);
void guard_request_done(struct conn_guard *g, struct MHD_Connection *c);
/* The connection is being closed: serve nothing more on it. */
bool guard_doomed(struct conn_guard *g, struct MHD_Connection *c);

/*
 * Take the readiness events: call before every MHD_run(), so a request's
 * first bytes are seen while they still wait in the socket.
 */
void guard_poll(struct conn_guard *g);
/* Close the connections past their deadline; ms to the next one. */
uint64_t guard_sweep(struct conn_guard *g);

#endif
