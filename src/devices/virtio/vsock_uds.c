/*
 * virtio-vsock's host side (vsock.h): the Unix socket host processes
 * connect to, the sockets the device connects for the guest, and the
 * one-shot polls the event loop runs on them. A poll points at its
 * connection, so a closed connection is freed only once its polls have
 * come back (vsock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "vsock.h"

static int uds_addr(const char *path, struct sockaddr_un *a,
		    socklen_t *len)
{
	size_t n = strlen(path);

	if (!n || n >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int vsock_uds_listen(struct vsock *v, struct mvm_err *err)
{
	struct sockaddr_un a;
	struct stat st;
	socklen_t len;
	int fd;

	if (uds_addr(v->uds_path, &a, &len))
		return mvm_fail(err, -ENAMETOOLONG, "vsock: uds_path %s: "
				"empty or longer than %zu bytes", v->uds_path,
				sizeof(a.sun_path) - 1);
	/* A socket left by an earlier run of the same VM is replaced;
	 * anything else at the path is not ours to remove. */
	if (!lstat(v->uds_path, &st) && S_ISSOCK(st.st_mode))
		unlink(v->uds_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mvm_fail(err, -errno, "vsock: socket: %s",
				strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, len) || listen(fd, 64)) {
		int e = errno;

		close(fd);
		return mvm_fail(err, -e, "vsock: uds_path %s: %s",
				v->uds_path, strerror(e));
	}
	v->listen_fd = fd;
	v->listen_poll.v = v;
	/* Which file is ours: another mvm may bind the path later. */
	if (!lstat(v->uds_path, &st)) {
		v->uds_dev = st.st_dev;
		v->uds_ino = st.st_ino;
	}
	return 0;
}

void vsock_uds_close_listener(struct vsock *v)
{
	struct stat st;

	if (v->listen_fd < 0)
		return;
	close(v->listen_fd);
	v->listen_fd = -1;
	/* Only the socket file this device made (a snapshot's new mvm may
	 * have bound the same path since). */
	if (!lstat(v->uds_path, &st) && st.st_dev == v->uds_dev &&
	    st.st_ino == v->uds_ino)
		unlink(v->uds_path);
}

int vsock_uds_connect(const struct vsock *v, uint32_t port)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 16];
	struct sockaddr_un a;
	socklen_t len;
	int fd, n;

	n = snprintf(path, sizeof(path), "%s_%u", v->uds_path, port);
	if (n < 0 || (size_t)n >= sizeof(path) || uds_addr(path, &a, &len))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A Unix socket connects at once or not at all (EAGAIN: the
	 * listener's backlog is full, which the guest sees as refused). */
	if (connect(fd, (struct sockaddr *)&a, len)) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void poll_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_poll *p = (struct vsock_poll *)op;

	(void)flags;
	p->armed = false;
	p->cancelled = false;
	p->v->armed--;
	vsock_poll_done(p->v, p, res);
}

void vsock_poll_arm(struct vsock *v, struct vsock_poll *p, int fd,
		    unsigned events)
{
	struct io_uring_sqe *sqe;

	if (p->armed || fd < 0)
		return;
	sqe = loop_sqe_wait(v->ctx->loop);
	if (!sqe)
		return; /* io_uring failed: the next event retries */
	io_uring_prep_poll_add(sqe, fd, events);
	p->op.done = poll_done;
	p->v = v;
	loop_prep(v->ctx->loop, sqe, &p->op);
	p->armed = true;
	v->armed++;
}

void vsock_poll_cancel(struct vsock *v, struct vsock_poll *p)
{
	struct io_uring_sqe *sqe;

	if (!p->armed || p->cancelled)
		return;
	sqe = loop_sqe_wait(v->ctx->loop);
	if (!sqe)
		return;
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)&p->op);
	/* The removal's own completion needs no callback. */
	io_uring_sqe_set_data(sqe, NULL);
	p->cancelled = true;
}

void vsock_uds_read_line(struct vsock *v, struct vsock_conn *c)
{
	uint32_t port;
	ssize_t n;
	int ret;

	/* Byte by byte up to the newline: what follows it is the
	 * connection's data, for the guest once it has accepted. */
	for (;;) {
		n = read(c->fd, c->line + c->line_len, 1);
		if (n < 0 && errno == EAGAIN) {
			vsock_poll_arm(v, &c->rd, c->fd, POLLIN);
			return;
		}
		if (n <= 0) {
			vsock_conn_close(v, c);
			return;
		}
		c->line_len++;
		ret = vsock_parse_connect(c->line, c->line_len, &port);
		if (ret == -EAGAIN)
			continue;
		if (ret) {
			virtio_log(v->t, "host connection: not a CONNECT "
				   "line; closed");
			vsock_conn_close(v, c);
			return;
		}
		break;
	}
	c->peer_port = port;
	c->state = VSOCK_CONN_HOST_REQ;
	c->expiry_ns = mvm_mono_ns() + VSOCK_TIMEOUT_MS * 1000000ull;
	vsock_conn_owe(v, c, VSOCK_OWE_REQUEST);
}

ssize_t vsock_uds_send(int fd, const struct iovec *iov, unsigned n)
{
	/* A peer that hung up is an error here, never a SIGPIPE. */
	struct msghdr m = { .msg_iov = (struct iovec *)iov,
			    .msg_iovlen = n };
	ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

	return w < 0 ? -errno : w;
}

bool vsock_uds_flush(struct vsock *v, struct vsock_conn *c)
{
	struct iovec iov[2];
	unsigned n = vsock_buf_iov(c, iov);
	ssize_t w;

	if (!n)
		return true;
	w = vsock_uds_send(c->fd, iov, n);
	if (w < 0 && w != -EAGAIN) {
		virtio_count(v->t, VIRTIO_CTR_VSOCK_WRITE_FAILS, 1);
		return false;
	}
	if (w > 0)
		vsock_buf_consume(c, (uint32_t)w);
	if (c->buf_len)
		vsock_poll_arm(v, &c->wr, c->fd, POLLOUT);
	return true;
}
