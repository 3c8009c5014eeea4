/*
 * MMDS's guest connections, each its own: the stack (libslirp's Unix
 * guest forward) connects to a Unix socket of this process's for every
 * TCP connection the guest opens to the service, so each gets a socket
 * here, and an HTTP parser (mmds_conn) of its own. libslirp's callback
 * forward has no such thing: it names a connection by address and port
 * alone, so it carries one at a time.
 *
 * The socket lives in a directory only this user can enter, and a peer
 * that is not this process (SO_PEERCRED) is turned away: what it serves
 * is the guest's metadata.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/mmds.h"
#include "mvm/mmds_net.h"

#include "mmds_conns.h"

/*
 * Connections open at once; one more is accepted and closed at once. The
 * carrier refuses the guest's SYNs past the same count (mmds_net.c), so
 * this one is a second line.
 */
#define CONNS_MAX MMDS_NET_CONNS_MAX
/* The backlog: the stack's connect() blocks when it is full, and the
 * listener is drained after every frame, so it never gets near. */
#define BACKLOG 128
/* Answers kept while the stack does not take them: one is always kept,
 * past this the next are dropped (a guest that sends and never reads). */
#define PENDING_MAX (1u << 20)
/* Reads per wake-up, so one busy connection cannot hold the loop. */
#define READS_MAX 16

struct conn {
	struct mmds_conns *set;
	int fd;
	struct loop_watch rd, wr;
	bool writing; /* wr is armed */
	bool closed;
	struct mmds_conn *http;
	char *pending;
	size_t pending_len, pending_cap;
	struct conn *next;
};

struct mmds_conns {
	struct mmds *m;
	struct loop *loop;
	void (*kick)(void *ctx);
	void *kick_ctx;
	char dir[64];
	struct sockaddr_un addr;
	int lfd;
	struct loop_watch lw;
	bool watching;
	unsigned nr_open;
	struct conn *open, *dead;
};

const char *mmds_conns_path(const struct mmds_conns *s)
{
	return s->addr.sun_path;
}

unsigned mmds_conns_open(const struct mmds_conns *s)
{
	return s->nr_open;
}

static void unlink_conn(struct conn **list, struct conn *c)
{
	while (*list && *list != c)
		list = &(*list)->next;
	if (*list)
		*list = c->next;
}

/*
 * Closed, but freed later (reap): this may run inside one of c's own
 * watch callbacks, which touches its watch after returning.
 */
static void conn_close(struct conn *c)
{
	struct mmds_conns *s = c->set;

	if (c->closed)
		return;
	c->closed = true;
	loop_watch_cancel(&c->rd);
	if (c->writing)
		loop_watch_cancel(&c->wr);
	c->writing = false;
	close(c->fd);
	c->fd = -1;
	unlink_conn(&s->open, c);
	s->nr_open--;
	c->next = s->dead;
	s->dead = c;
}

static void reap(struct mmds_conns *s)
{
	while (s->dead) {
		struct conn *c = s->dead;

		s->dead = c->next;
		mmds_conn_free(c->http);
		free(c->pending);
		free(c);
	}
}

static void on_writable(void *ctx);

/* What is pending, written as far as the socket takes it. */
static void conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->pending_len) {
		n = send(c->fd, c->pending, c->pending_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
		c->pending_len -= (size_t)n;
	}
	if (c->pending_len && !c->writing)
		c->writing = !loop_watch_add_events(c->set->loop, &c->wr, c->fd,
						    POLLOUT, on_writable, c);
	else if (!c->pending_len && c->writing) {
		c->writing = false;
		loop_watch_cancel(&c->wr);
	}
}

/* mmds_conn's answers: queued, then written. */
static void keep(void *opaque, const void *buf, size_t len)
{
	struct conn *c = opaque;
	size_t cap = c->pending_cap ? c->pending_cap : 4096;
	char *p;

	if (c->closed || (c->pending_len && c->pending_len + len > PENDING_MAX))
		return;
	while (cap < c->pending_len + len)
		cap *= 2;
	if (cap != c->pending_cap) {
		p = realloc(c->pending, cap);
		if (!p)
			return;
		c->pending = p;
		c->pending_cap = cap;
	}
	memcpy(c->pending + c->pending_len, buf, len);
	c->pending_len += len;
}

static void on_writable(void *ctx)
{
	struct conn *c = ctx;

	if (!c->closed)
		conn_flush(c);
}

/*
 * The guest's bytes. A request too long for MMDS is answered 413 and
 * the connection closed after the answer, as Firecracker's does.
 */
static void on_readable(void *ctx)
{
	struct conn *c = ctx;
	char buf[4096];
	bool sent = false;
	ssize_t n;

	for (int i = 0; i < READS_MAX && !c->closed; i++) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			break;
		}
		if (mmds_conn_recv(c->http, buf, (size_t)n)) {
			conn_flush(c);
			conn_close(c);
			sent = true;
			break;
		}
		if (c->pending_len) {
			conn_flush(c);
			sent = true;
		}
	}
	/* The stack reads the answer now, not at its socket's wake-up. */
	if (sent && c->set->kick)
		c->set->kick(c->set->kick_ctx);
}

static int conn_new(struct mmds_conns *s, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->set = s;
	c->fd = fd;
	c->http = mmds_conn_new(s->m, keep, c);
	if (!c->http || loop_watch_add(s->loop, &c->rd, fd, on_readable, c)) {
		mmds_conn_free(c->http);
		free(c);
		return -ENOMEM;
	}
	c->next = s->open;
	s->open = c;
	s->nr_open++;
	return 0;
}

/* Only this process's stack may connect. */
static bool peer_is_us(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return !getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) &&
	       len == sizeof(cred) && cred.pid == getpid();
}

void mmds_conns_accept(struct mmds_conns *s)
{
	int fd;

	reap(s);
	for (;;) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (!peer_is_us(fd) || s->nr_open >= CONNS_MAX ||
		    conn_new(s, fd))
			close(fd); /* the guest sees its connection closed */
	}
}

static void on_listener(void *ctx)
{
	mmds_conns_accept(ctx);
}

static int listen_on(struct mmds_conns *s, struct mvm_err *err)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = snprintf(s->dir, sizeof(s->dir), "%s/mvm-mmds-XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(s->dir))
		return mvm_fail(err, -ENAMETOOLONG, "mmds: TMPDIR %.64s is too "
				"long for a socket's path", tmp);
	if (!mkdtemp(s->dir)) {
		s->dir[0] = 0;
		return mvm_fail_host(err, -errno, "mmds: a directory in %.64s: "
				     "%s", tmp, strerror(errno));
	}
	s->addr.sun_family = AF_UNIX;
	snprintf(s->addr.sun_path, sizeof(s->addr.sun_path), "%s/http",
		 s->dir);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (s->lfd < 0 ||
	    bind(s->lfd, (struct sockaddr *)&s->addr, sizeof(s->addr)) ||
	    listen(s->lfd, BACKLOG))
		return mvm_fail_host(err, -errno, "mmds: socket %s: %s",
				     s->addr.sun_path, strerror(errno));
	if (loop_watch_add(s->loop, &s->lw, s->lfd, on_listener, s))
		return mvm_fail_host(err, -EBUSY, "mmds: cannot watch %s",
				     s->addr.sun_path);
	s->watching = true;
	return 0;
}

int mmds_conns_new(struct mmds_conns **out, struct mmds *m, struct loop *loop,
		   void (*kick)(void *ctx), void *kick_ctx,
		   struct mvm_err *err)
{
	struct mmds_conns *s = calloc(1, sizeof(*s));
	int ret;

	if (!s)
		return mvm_fail(err, -ENOMEM, "out of memory");
	s->m = m;
	s->loop = loop;
	s->kick = kick;
	s->kick_ctx = kick_ctx;
	s->lfd = -1;
	ret = listen_on(s, err);
	if (ret) {
		mmds_conns_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void mmds_conns_free(struct mmds_conns *s)
{
	if (!s)
		return;
	while (s->open)
		conn_close(s->open);
	reap(s);
	if (s->watching)
		loop_watch_cancel(&s->lw);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->addr.sun_path[0])
		unlink(s->addr.sun_path);
	if (s->dir[0])
		rmdir(s->dir);
	free(s);
}
