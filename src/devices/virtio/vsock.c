/*
 * virtio-vsock (virtio 1.2, 5.10) with Firecracker's hybrid backend
 * (vsock.h): the device's ops, its connections' lives, and the event
 * loop's callbacks: the sockets' polls and one timer for every
 * connection that waits (for a host's CONNECT line, for the guest's
 * answer to a REQUEST).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "devices.h"
#include "vsock.h"

/* How often the timer looks at the connections' deadlines. */
#define TIMER_TICK_NS 250000000ull

static void vsock_config_read(void *dev, uint32_t off, uint8_t *data,
			      uint32_t len)
{
	struct vsock *v = dev;
	uint64_t cid = v->guest_cid; /* le64 guest_cid, fixed */

	memcpy(data, (const uint8_t *)&cid + off, len); /* checked */
}

static void conn_free(struct vsock_conn *c)
{
	free(c->buf);
	free(c);
}

static bool conn_polled(const struct vsock_conn *c)
{
	return c->rd.armed || c->wr.armed;
}

static void maybe_reset_done(struct vsock *v)
{
	if (v->stopping && !v->armed) {
		v->stopping = false;
		virtio_reset_done(v->t);
	}
}

void vsock_conn_close(struct vsock *v, struct vsock_conn *c)
{
	if (c->state == VSOCK_CONN_DEAD)
		return;
	vsock_table_remove(&v->table, c);
	virtio_count(v->t, VIRTIO_CTR_CONNS_REMOVED, 1);
	if (c->fd >= 0)
		close(c->fd); /* a pending poll keeps its own reference */
	c->fd = -1;
	c->state = VSOCK_CONN_DEAD;
	vsock_poll_cancel(v, &c->rd);
	vsock_poll_cancel(v, &c->wr);
	if (!conn_polled(c)) {
		conn_free(c);
		return;
	}
	c->next_dead = v->dead;
	v->dead = c;
}

void vsock_conn_kill(struct vsock *v, struct vsock_conn *c)
{
	if (c->state == VSOCK_CONN_KILLED || c->state == VSOCK_CONN_DEAD)
		return;
	virtio_count(v->t, VIRTIO_CTR_CONNS_KILLED, 1);
	/* A host socket the guest never heard of needs no RST. */
	if (c->state == VSOCK_CONN_HOST_LINE) {
		vsock_conn_close(v, c);
		return;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	vsock_poll_cancel(v, &c->rd);
	vsock_poll_cancel(v, &c->wr);
	c->state = VSOCK_CONN_KILLED;
	c->owed = VSOCK_OWE_RST;
	c->expiry_ns = 0;
}

void vsock_conn_owe(struct vsock *v, struct vsock_conn *c, unsigned what)
{
	(void)v;
	c->owed |= what;
}

void vsock_rst_unknown(struct vsock *v, const struct vsock_hdr *h)
{
	if (v->nr_rsts >= VSOCK_RST_QUEUE) {
		virtio_log(v->t, "more than %u RSTs waiting for receive "
			   "buffers; one dropped", VSOCK_RST_QUEUE);
		return;
	}
	/* The answer goes back: its source is the packet's destination. */
	v->rsts[v->nr_rsts].src_port = h->dst_port;
	v->rsts[v->nr_rsts].dst_port = h->src_port;
	v->nr_rsts++;
}

/* A dead connection whose last poll came back is freed. */
static void reap(struct vsock *v)
{
	struct vsock_conn **pp = &v->dead;

	while (*pp) {
		struct vsock_conn *c = *pp;

		if (conn_polled(c)) {
			pp = &c->next_dead;
			continue;
		}
		*pp = c->next_dead;
		conn_free(c);
	}
}

static void accept_all(struct vsock *v)
{
	for (;;) {
		int fd = accept4(v->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0)
			break;
		c = vsock_table_add(&v->table,
				    vsock_table_new_port(&v->table), 0);
		if (!c) {
			virtio_log(v->t, "host connection refused: %u "
				   "connections already", VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		virtio_count(v->t, VIRTIO_CTR_CONNS_ADDED, 1);
		c->fd = fd;
		c->state = VSOCK_CONN_HOST_LINE;
		c->expiry_ns = mvm_mono_ns() + VSOCK_TIMEOUT_MS * 1000000ull;
		vsock_uds_read_line(v, c);
	}
	vsock_timer_arm(v);
}

static void conn_writable(struct vsock *v, struct vsock_conn *c)
{
	if (!vsock_uds_flush(v, c)) {
		vsock_conn_kill(v, c);
		return;
	}
	if (c->peer_no_send && !c->buf_len) {
		if (c->host_eof) {
			vsock_conn_kill(v, c); /* done both ways */
			return;
		}
		shutdown(c->fd, SHUT_WR);
	}
	if (vsock_conn_credit_due(c))
		vsock_conn_owe(v, c, VSOCK_OWE_CREDIT_UPDATE);
}

void vsock_poll_done(struct vsock *v, struct vsock_poll *p, int res)
{
	struct vsock_conn *c = p->c;

	if (c && c->state == VSOCK_CONN_DEAD)
		reap(v);
	else if (res >= 0 && !v->stopping && virtio_serving(v->t)) {
		if (!c)
			accept_all(v);
		else if (c->state == VSOCK_CONN_HOST_LINE)
			vsock_uds_read_line(v, c);
		else if (p == &c->wr && c->fd >= 0)
			conn_writable(v, c);
		else if (c->fd >= 0)
			c->readable = true;
		if (!c && v->listen_fd >= 0)
			vsock_poll_arm(v, &v->listen_poll, v->listen_fd,
				       POLLIN);
		vsock_rx_pump(v);
	}
	maybe_reset_done(v);
}

/* Every poll a live connection needs (activate, resume). */
static void rearm_all(struct vsock *v)
{
	if (v->listen_fd >= 0)
		vsock_poll_arm(v, &v->listen_poll, v->listen_fd, POLLIN);
	for (unsigned i = 0; i < v->table.nr; i++) {
		struct vsock_conn *c = v->table.conns[i];

		if (c->fd < 0)
			continue;
		if (c->state == VSOCK_CONN_HOST_LINE ||
		    (c->state == VSOCK_CONN_ESTABLISHED && !c->readable &&
		     !c->host_eof))
			vsock_poll_arm(v, &c->rd, c->fd, POLLIN);
		if (c->buf_len)
			vsock_poll_arm(v, &c->wr, c->fd, POLLOUT);
	}
	vsock_timer_arm(v);
}

static void cancel_all(struct vsock *v)
{
	vsock_poll_cancel(v, &v->listen_poll);
	for (unsigned i = 0; i < v->table.nr; i++) {
		vsock_poll_cancel(v, &v->table.conns[i]->rd);
		vsock_poll_cancel(v, &v->table.conns[i]->wr);
	}
	if (v->timer_armed && !v->timer_cancelled) {
		struct io_uring_sqe *sqe = loop_sqe_wait(v->ctx->loop);

		if (sqe) {
			io_uring_prep_timeout_remove(
				sqe, (__u64)(uintptr_t)&v->timer_op, 0);
			io_uring_sqe_set_data(sqe, NULL);
			v->timer_cancelled = true;
		}
	}
}

static void expire(struct vsock *v)
{
	uint64_t now = mvm_mono_ns();

	for (unsigned i = 0; i < v->table.nr; i++) {
		struct vsock_conn *c = v->table.conns[i];

		if (c->expiry_ns && c->expiry_ns <= now) {
			virtio_log(v->t, "connection %u:%u: the guest did not "
				   "answer in %u ms; reset", c->peer_port,
				   c->local_port, VSOCK_TIMEOUT_MS);
			vsock_conn_kill(v, c);
			if (c->state == VSOCK_CONN_DEAD)
				i--; /* closed: the table moved */
		}
	}
}

static void timer_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock *v = (struct vsock *)((char *)op -
					   offsetof(struct vsock, timer_op));

	(void)res;
	(void)flags;
	v->timer_armed = false;
	v->timer_cancelled = false;
	v->armed--;
	if (!v->stopping && virtio_serving(v->t)) {
		expire(v);
		vsock_rx_pump(v);
		vsock_timer_arm(v);
	}
	maybe_reset_done(v);
}

void vsock_timer_arm(struct vsock *v)
{
	struct io_uring_sqe *sqe;
	bool due = false;

	if (v->timer_armed || v->stopping || !virtio_serving(v->t))
		return;
	for (unsigned i = 0; i < v->table.nr && !due; i++)
		due = v->table.conns[i]->expiry_ns != 0;
	if (!due)
		return;
	sqe = loop_sqe_wait(v->ctx->loop);
	if (!sqe)
		return;
	v->timer_ts.tv_sec = 0;
	v->timer_ts.tv_nsec = (long long)TIMER_TICK_NS;
	io_uring_prep_timeout(sqe, &v->timer_ts, 0, 0);
	v->timer_op.done = timer_done;
	loop_prep(v->ctx->loop, sqe, &v->timer_op);
	v->timer_armed = true;
	v->armed++;
}

/* TRANSPORT_RESET, once, into the guest's first event buffer. */
static void send_event(struct vsock *v)
{
	struct virtio_queue *q = virtio_queue_at(v->t, VSOCK_EVQ);
	struct virtq_chain ch;
	uint32_t id = VSOCK_EVENT_TRANSPORT_RESET;

	if (!v->event_reset_due || !q->ready || q->broken)
		return;
	while (virtio_queue_pop(q, &ch, v->iov, VSOCK_MAX_SEGS) > 0) {
		if (ch.nr_out || ch.in_len < sizeof(id)) {
			virtio_log(v->t, "event queue: a buffer not for an "
				   "event; failed");
			virtio_queue_complete(q, ch.head, 0);
			continue;
		}
		iov_from_buf(v->iov, ch.nr_in, 0, &id, sizeof(id));
		virtio_queue_complete(q, ch.head, sizeof(id));
		v->event_reset_due = false;
		break;
	}
	virtio_queue_flush(q);
}

/*
 * Live: the polls go out. A loaded device is paused here; its resume
 * notifies every queue, and the event queue's sends TRANSPORT_RESET
 * then (so a load leaves the state as it was until the guest runs).
 */
static void vsock_activate(void *dev)
{
	struct vsock *v = dev;

	if (!v->stopping && virtio_serving(v->t))
		rearm_all(v);
}

static void vsock_queue_notify(void *dev, struct virtio_queue *q)
{
	struct vsock *v = dev;

	if (v->stopping || !virtio_serving(v->t))
		return;
	/* A resume serves every queue: the polls a pause took go back. */
	rearm_all(v);
	if (q->index == VSOCK_TXQ)
		vsock_tx_kick(v, q);
	else if (q->index == VSOCK_EVQ)
		send_event(v);
	else
		vsock_rx_pump(v);
}

/* Every connection closed, silently: the guest's driver is gone. */
static void close_all(struct vsock *v)
{
	while (v->table.nr)
		vsock_conn_close(v, v->table.conns[0]);
	v->nr_rsts = 0;
}

static void vsock_reset(void *dev)
{
	struct vsock *v = dev;

	v->stopping = true;
	close_all(v);
	cancel_all(v);
	maybe_reset_done(v);
}

/* A pause keeps the connections; what waits on their sockets stops. */
static void vsock_pause(void *dev)
{
	cancel_all(dev);
}

static unsigned vsock_inflight(void *dev)
{
	return ((struct vsock *)dev)->armed;
}

static void vsock_destroy(void *dev)
{
	struct vsock *v = dev;

	while (v->table.nr) {
		struct vsock_conn *c = v->table.conns[0];

		vsock_table_remove(&v->table, c);
		if (c->fd >= 0)
			close(c->fd);
		conn_free(c);
	}
	while (v->dead) {
		struct vsock_conn *c = v->dead;

		v->dead = c->next_dead;
		conn_free(c);
	}
	vsock_uds_close_listener(v);
	free(v->uds_path);
	free(v);
}

static const struct virtio_dev_ops vsock_ops = {
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.pause = vsock_pause,
	.inflight = vsock_inflight,
	.save = vsock_save,
	.load = vsock_load,
	.destroy = vsock_destroy,
};

int vsock_create(struct dev_ctx *ctx, const struct vsock_config *cfg,
		 struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-vsock",
		.id = cfg->id[0] ? cfg->id : "vsock",
		.device_id = VIRTIO_ID_VSOCK,
		.pci_class = 0xff0000, /* unclassified device */
		.nr_queues = 3,
		.queue_size = VSOCK_QUEUE_SIZE,
		.config_size = sizeof(uint64_t),
	};
	struct vsock *v;
	int ret;

	if (cfg->guest_cid < 3 || !cfg->uds_path)
		return mvm_fail(err, -EINVAL, "vsock: guest_cid %u (must be "
				"3 or more) or no uds_path", cfg->guest_cid);
	v = calloc(1, sizeof(*v));
	if (!v)
		return mvm_fail(err, -ENOMEM, "out of memory");
	v->ctx = ctx;
	v->guest_cid = cfg->guest_cid;
	v->listen_fd = -1;
	v->table.next_port = VSOCK_HOST_PORT_FIRST;
	v->uds_path = strdup(cfg->uds_path);
	if (!v->uds_path) {
		free(v);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	ret = vsock_uds_listen(v, err);
	if (!ret)
		ret = virtio_pci_create(ctx, &info, &vsock_ops, v, &v->t, err);
	if (ret) {
		vsock_uds_close_listener(v);
		free(v->uds_path);
		free(v);
	}
	return ret;
}
