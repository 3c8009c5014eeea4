/*
 * The user-mode backend (--net user): the NIC's frames go through
 * libslirp's NAT (slirp_net), needing no root and no tap.
 *
 * virtio-net drives every backend the same way, reads and writes of
 * header-led frames on one fd with io_uring. Here that fd is one end of a
 * datagram socketpair; the other end is this file's, on the loop: a frame
 * the guest sent is read from it and given to slirp_net_input, a frame
 * slirp has for the guest is written to it, and virtio-net reads it into
 * the RX ring when the guest has posted buffers. slirp runs on the loop
 * thread only, wherever virtio-net does its work.
 *
 * Backpressure: while the guest's RX ring is full, frames wait in the
 * socket (its send buffer), then in a bounded queue here, written out as
 * the socket drains; past that they are dropped, and counted.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/net.h"
#include "mvm/slirp_net.h"

#define USER_QUEUE_MAX 256  /* frames waiting for the socket */
#define USER_FRAME_MAX 1536 /* slirp's MTU 1500, Ethernet, VLAN */
#define USER_SNDBUF (1 << 20)

struct user_frame {
	struct user_frame *next;
	size_t len; /* with the header */
	uint8_t data[];
};

/* A POLLOUT wait on the socket; outlives the backend if still pending. */
struct user_pollout {
	struct loop_op op;
	struct user_backend *u; /* NULL: the backend is gone */
};

struct user_backend {
	struct net_backend be; /* first: what virtio-net holds */
	struct loop *loop;
	int peer; /* this side of the socketpair */
	struct loop_watch tx_watch;
	struct slirp_net *sn;
	void (*dropped)(void *ctx);
	void *drop_ctx;
	struct user_frame *head, **tail;
	unsigned queued;
	struct user_pollout *pollout; /* pending, or NULL */
};

static void flush_queue(struct user_backend *u);

static void pollout_done(struct loop_op *op, int res, unsigned flags)
{
	struct user_pollout *p = (struct user_pollout *)op;

	(void)res;
	(void)flags;
	if (!p->u) {
		free(p);
		return;
	}
	p->u->pollout = NULL;
	flush_queue(p->u);
	free(p);
}

static void wait_writable(struct user_backend *u)
{
	struct io_uring_sqe *sqe;
	struct user_pollout *p;

	if (u->pollout)
		return;
	p = calloc(1, sizeof(*p));
	sqe = p ? loop_sqe(u->loop) : NULL;
	if (!sqe) {
		free(p);
		return; /* the next frame out tries the socket again */
	}
	p->op.done = pollout_done;
	p->u = u;
	io_uring_prep_poll_add(sqe, u->peer, POLLOUT);
	loop_prep(u->loop, sqe, &p->op);
	u->pollout = p;
}

static void flush_queue(struct user_backend *u)
{
	while (u->head) {
		struct user_frame *f = u->head;

		if (send(u->peer, f->data, f->len, MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				wait_writable(u);
				return;
			}
			u->dropped(u->drop_ctx); /* the reader is gone */
		}
		u->head = f->next;
		if (!u->head)
			u->tail = &u->head;
		u->queued--;
		free(f);
	}
}

static void enqueue(struct user_backend *u, const void *frame, size_t len)
{
	struct user_frame *f;

	if (u->queued >= USER_QUEUE_MAX ||
	    !(f = malloc(sizeof(*f) + NET_HDR_LEN + len))) {
		u->dropped(u->drop_ctx);
		return;
	}
	f->next = NULL;
	f->len = NET_HDR_LEN + len;
	memset(f->data, 0, NET_HDR_LEN);
	memcpy(f->data + NET_HDR_LEN, frame, len);
	*u->tail = f;
	u->tail = &f->next;
	u->queued++;
	wait_writable(u);
}

/* A frame from slirp for the guest: header-led, into the socket. */
static void to_guest(void *opaque, const void *frame, size_t len)
{
	struct user_backend *u = opaque;
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) },
				{ (void *)frame, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	if (len > USER_FRAME_MAX) {
		u->dropped(u->drop_ctx);
		return;
	}
	if (!u->head && sendmsg(u->peer, &m, MSG_DONTWAIT) >= 0)
		return;
	enqueue(u, frame, len);
}

/*
 * Frames the guest sent: each datagram a header and a frame. Drained to
 * the end (as much as the socket's buffer holds): the watch fires again
 * only on a new datagram, not for one left waiting.
 */
static void from_guest(void *ctx)
{
	struct user_backend *u = ctx;
	static uint8_t buf[NET_HDR_LEN + 65536]; /* loop thread only */
	ssize_t n;

	slirp_net_batch_begin(u->sn);
	while ((n = recv(u->peer, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
		if (n > NET_HDR_LEN)
			slirp_net_input(u->sn, buf + NET_HDR_LEN,
					(size_t)n - NET_HDR_LEN);
	slirp_net_batch_end(u->sn);
}

/* Nothing to switch: the guest is offered no offloads (be.offloads). */
static int user_set_offload(struct net_backend *b, unsigned offloads)
{
	(void)b;
	return offloads ? -EOPNOTSUPP : 0;
}

static void user_close(struct net_backend *b)
{
	struct user_backend *u = (struct user_backend *)b;

	loop_watch_cancel(&u->tx_watch);
	if (u->pollout) {
		struct io_uring_sqe *sqe = loop_sqe_wait(u->loop);

		u->pollout->u = NULL; /* freed by its completion */
		if (sqe) {
			io_uring_prep_poll_remove(sqe,
					(__u64)(uintptr_t)&u->pollout->op);
			io_uring_sqe_set_data(sqe, NULL);
		}
	}
	slirp_net_free(u->sn);
	while (u->head) {
		struct user_frame *f = u->head;

		u->head = f->next;
		free(f);
	}
	close(u->peer);
	close(b->fd);
	free(u);
}

static const struct net_backend_ops user_ops = {
	.set_offload = user_set_offload,
	.close = user_close,
};

static int make_pair(struct user_backend *u, struct mvm_err *err)
{
	int sv[2], sz = USER_SNDBUF;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0)
		return mvm_fail_host(err, -errno, "user net: socketpair: %s",
				     strerror(errno));
	/* As much as the host allows (net.core.wmem_max): the frames a
	 * guest not reading its RX ring can leave waiting. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	u->be.fd = sv[0];
	u->peer = sv[1];
	return 0;
}

int user_net_open(const struct net_config *cfg, struct loop *loop,
		  void (*dropped)(void *ctx), void *drop_ctx,
		  struct net_backend **out, struct mvm_err *err)
{
	struct slirp_net_config sc;
	struct user_backend *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return mvm_fail(err, -ENOMEM, "out of memory");
	u->be.ops = &user_ops;
	u->be.fd = u->peer = -1;
	snprintf(u->be.name, sizeof(u->be.name), "user");
	u->loop = loop;
	u->dropped = dropped;
	u->drop_ctx = drop_ctx;
	u->tail = &u->head;
	slirp_net_config_default(&sc);
	sc.nr_hostfwd = cfg->nr_hostfwd;
	memcpy(sc.hostfwd, cfg->hostfwd, sizeof(sc.hostfwd));
	ret = make_pair(u, err);
	if (!ret)
		ret = slirp_net_new(&u->sn, &sc, loop, to_guest, u, err);
	if (!ret) {
		ret = loop_watch_add(loop, &u->tx_watch, u->peer, from_guest,
				     u);
		if (ret) {
			slirp_net_free(u->sn);
			mvm_fail_host(err, ret, "user net: cannot watch its "
				      "socket");
		}
	}
	if (ret) {
		if (u->peer >= 0) {
			close(u->peer);
			close(u->be.fd);
		}
		free(u);
		return ret;
	}
	*out = &u->be;
	return 0;
}
