/*
 * Each API connection is idle (between requests), in its head (bytes of a
 * request came, the head is not complete), in its body, or replying. Only
 * the head and the body have deadlines: an idle keep-alive connection costs
 * nothing but its fd, and libmicrohttpd's idle timeout closes it in time.
 *
 * A request's first byte is seen with an epoll set of our own, watching
 * idle connections for input. libmicrohttpd reads the socket dry whenever
 * it runs, and epoll re-checks readiness when events are taken, so the
 * events are taken before every MHD_run() (guard_poll), while the bytes
 * that woke both sets still wait in the socket. The same set reports
 * half-closed clients (EPOLLRDHUP).
 *
 * Closing a connection from outside: libmicrohttpd has no call for it, so
 * the socket is shut down (the client sees the end at once, and its later
 * bytes are refused) and the connection's own timeout cut to one second,
 * after which libmicrohttpd closes it whatever state it is in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "mvm/api.h"
#include "mvm/clock.h"
#include "mvm/vmm.h"

#include "conn_guard.h"
#include "mhd.h"

enum guard_state { GS_IDLE, GS_HEAD, GS_BODY, GS_REPLY };

struct guard_conn {
	struct guard_conn *prev, *next;
	struct MHD_Connection *c;
	int fd;
	enum guard_state state;
	uint64_t since_ms;    /* when the state began */
	uint64_t deadline_ms; /* 0: none */
	bool doomed;          /* shut down, waiting for MHD to close it */
	bool half_closed;     /* the client sent its end mid-request */
};

#define EVENTS_PER_POLL 64

int guard_init(struct conn_guard *g, const struct mhd_lib *lib,
	       struct vmm *v)
{
	memset(g, 0, sizeof(*g));
	g->lib = lib;
	g->vmm = v;
	g->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return g->epoll_fd < 0 ? -errno : 0;
}

void guard_fini(struct conn_guard *g)
{
	/* MHD_stop_daemon() reported every close; anything left is freed. */
	while (g->head) {
		struct guard_conn *k = g->head;

		g->head = k->next;
		free(k);
	}
	if (g->epoll_fd >= 0)
		close(g->epoll_fd);
	g->epoll_fd = -1;
}

/* Watch k for what its state needs (nothing while it replies). */
static void watch(struct conn_guard *g, struct guard_conn *k, int op)
{
	struct epoll_event ev = { .data.ptr = k };

	if (k->doomed)
		return;
	if (k->state == GS_IDLE)
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
	else if (k->state != GS_REPLY)
		ev.events = EPOLLRDHUP | EPOLLONESHOT;
	/* EPOLLONESHOT with no events left: disabled until the next MOD. */
	if (!ev.events)
		ev.events = EPOLLONESHOT;
	epoll_ctl(g->epoll_fd, op, k->fd, &ev);
}

static void set_state(struct conn_guard *g, struct guard_conn *k,
		      enum guard_state st)
{
	uint64_t now = mvm_mono_ms();

	if (k->state == st)
		return;
	k->state = st;
	k->since_ms = now;
	k->half_closed = false;
	k->deadline_ms = st == GS_HEAD ? now + API_HEAD_DEADLINE_MS :
			 st == GS_BODY ? now + API_BODY_DEADLINE_MS : 0;
	watch(g, k, EPOLL_CTL_MOD);
}

static void doom(struct conn_guard *g, struct guard_conn *k,
		 enum api_log_level level, const char *why)
{
	if (k->doomed)
		return;
	vmm_log(g->vmm, level, "api", "closing a connection: %s", why);
	epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, k->fd, NULL);
	k->doomed = true;
	k->deadline_ms = 0;
	g->live--;
	shutdown(k->fd, SHUT_RDWR);
	g->lib->set_connection_option(k->c, MHD_CONNECTION_OPTION_TIMEOUT,
				      1u);
}

void guard_opened(struct conn_guard *g, struct MHD_Connection *c,
		  void **socket_context)
{
	const union MHD_ConnectionInfo *info =
		g->lib->get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct guard_conn *k;

	*socket_context = NULL;
	/* Without memory the connection just goes unguarded, as before. */
	k = info ? calloc(1, sizeof(*k)) : NULL;
	if (!k)
		return;
	k->c = c;
	k->fd = info->connect_fd;
	k->since_ms = mvm_mono_ms();
	k->next = g->head;
	if (g->head)
		g->head->prev = k;
	g->head = k;
	g->live++;
	watch(g, k, EPOLL_CTL_ADD);
	*socket_context = k;
}

void guard_closed(struct conn_guard *g, void **socket_context)
{
	struct guard_conn *k = *socket_context;

	if (!k)
		return;
	*socket_context = NULL;
	if (!k->doomed) {
		epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, k->fd, NULL);
		g->live--;
	}
	if (k->prev)
		k->prev->next = k->next;
	else
		g->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	free(k);
}

void guard_make_room(struct conn_guard *g)
{
	struct guard_conn *oldest = NULL;

	if (g->live < API_MAX_CONNECTIONS)
		return;
	for (struct guard_conn *k = g->head; k; k = k->next)
		if (!k->doomed && k->state == GS_IDLE &&
		    (!oldest || k->since_ms < oldest->since_ms))
			oldest = k;
	/* All busy: each is bounded by its deadlines; MHD's limit holds. */
	if (oldest)
		doom(g, oldest, API_LOG_INFO, "at the connection limit, the "
		     "one idle the longest makes room");
}

static struct guard_conn *conn_of(struct conn_guard *g,
				  struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		g->lib->get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

void guard_line_seen(struct conn_guard *g, struct MHD_Connection *c)
{
	struct guard_conn *k = conn_of(g, c);

	/* The first bytes came along with the whole line. */
	if (k && k->state == GS_IDLE)
		set_state(g, k, GS_HEAD);
}

void guard_head_done(struct conn_guard *g, struct MHD_Connection *c)
{
	struct guard_conn *k = conn_of(g, c);

	if (k)
		set_state(g, k, GS_BODY);
}

void guard_replying(struct conn_guard *g, struct MHD_Connection *c)
{
	struct guard_conn *k = conn_of(g, c);

	if (k)
		set_state(g, k, GS_REPLY);
}

void guard_request_done(struct conn_guard *g, struct MHD_Connection *c)
{
	struct guard_conn *k = conn_of(g, c);

	if (k)
		set_state(g, k, GS_IDLE);
}

bool guard_doomed(struct conn_guard *g, struct MHD_Connection *c)
{
	struct guard_conn *k = conn_of(g, c);

	return k && k->doomed;
}

static const char *late_reason(const struct guard_conn *k)
{
	if (k->half_closed)
		return "the client closed its end mid-request";
	return k->state == GS_HEAD ? "no complete request head within 10 s" :
				     "no complete request body within 10 s";
}

static void on_event(struct conn_guard *g, struct guard_conn *k,
		     uint32_t ev)
{
	char b;

	if (k->state == GS_IDLE) {
		/* The end of the stream with no request: nothing will come. */
		if ((ev & (EPOLLRDHUP | EPOLLHUP)) &&
		    recv(k->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
			doom(g, k, API_LOG_DEBUG, "the client closed its end");
			return;
		}
		set_state(g, k, GS_HEAD);
		ev &= ~(uint32_t)EPOLLIN;
	}
	if ((ev & (EPOLLRDHUP | EPOLLHUP)) &&
	    (k->state == GS_HEAD || k->state == GS_BODY)) {
		/*
		 * A whole request followed by the end is fine: MHD answers
		 * it on this run. Anything short of that never completes.
		 */
		uint64_t end = mvm_mono_ms() + API_HALF_CLOSED_GRACE_MS;

		k->half_closed = true;
		if (end < k->deadline_ms)
			k->deadline_ms = end;
	}
}

void guard_poll(struct conn_guard *g)
{
	struct epoll_event ev[EVENTS_PER_POLL];
	int n;

	do {
		n = epoll_wait(g->epoll_fd, ev, EVENTS_PER_POLL, 0);
		for (int i = 0; i < n; i++)
			on_event(g, ev[i].data.ptr, ev[i].events);
	} while (n == EVENTS_PER_POLL);
}

uint64_t guard_sweep(struct conn_guard *g)
{
	uint64_t now = mvm_mono_ms(), next = UINT64_MAX;

	for (struct guard_conn *k = g->head; k; k = k->next) {
		if (!k->deadline_ms || k->doomed)
			continue;
		if (k->deadline_ms <= now)
			doom(g, k, API_LOG_WARNING, late_reason(k));
		else if (k->deadline_ms - now < next)
			next = k->deadline_ms - now;
	}
	return next;
}
