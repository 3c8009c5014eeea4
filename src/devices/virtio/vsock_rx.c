/*
 * virtio-vsock's packets to the guest (vsock.h): each receive buffer the
 * guest posted takes one packet: an RST for a packet of no connection,
 * a control packet a connection owes, or a connection's bytes read from
 * its socket straight into the buffer, never more than the guest's
 * credit. Connections are served in turn, so one busy socket does not
 * starve the others.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "mvm/virtio_dev.h"

#include "vsock.h"

static void hdr_init(const struct vsock *v, struct vsock_hdr *h,
		     uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = src_port;
	h->dst_port = dst_port;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_BUF_ALLOC;
}

/* A connection's header: its ports, and the guest learns our credit. */
static void conn_hdr(const struct vsock *v, struct vsock_conn *c,
		     struct vsock_hdr *h, uint16_t op)
{
	hdr_init(v, h, c->local_port, c->peer_port, op);
	h->fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_sent = c->fwd_cnt;
}

/* The control packet c owes first, in the order the protocol needs. */
static uint16_t owed_op(struct vsock_conn *c, uint32_t *flags)
{
	static const struct { unsigned bit; uint16_t op; } order[] = {
		{ VSOCK_OWE_RST, VSOCK_OP_RST },
		{ VSOCK_OWE_REQUEST, VSOCK_OP_REQUEST },
		{ VSOCK_OWE_RESPONSE, VSOCK_OP_RESPONSE },
		{ VSOCK_OWE_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
		{ VSOCK_OWE_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST },
		{ VSOCK_OWE_SHUTDOWN, VSOCK_OP_SHUTDOWN },
	};

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (c->owed & order[i].bit) {
			c->owed &= ~order[i].bit;
			*flags = order[i].bit == VSOCK_OWE_SHUTDOWN ?
					 c->shutdown_flags : 0;
			return order[i].op;
		}
	}
	return VSOCK_OP_INVALID;
}

static bool wants_data(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED && c->readable &&
	       !c->host_eof && !c->peer_no_rcv;
}

/*
 * Read c's socket into the chain after the header: the bytes read, 0 at
 * EOF, -EAGAIN with nothing there, or another -errno.
 */
static ssize_t read_into(struct vsock *v, struct vsock_conn *c,
			 const struct virtq_chain *ch, uint32_t max)
{
	struct iovec slice[VSOCK_MAX_SEGS];
	int n = iov_slice(v->iov + ch->nr_out, ch->nr_in,
			  sizeof(struct vsock_hdr), max, slice,
			  VSOCK_MAX_SEGS);
	ssize_t r;

	if (n <= 0)
		return -EINVAL;
	r = readv(c->fd, slice, n);
	return r < 0 ? -errno : r;
}

/*
 * The host's socket said EOF: it sends no more (SHUTDOWN SEND). It may
 * have shut only its write side and still read: the guest's bytes go on
 * to it, and a socket closed for good fails the next write, which resets
 * the connection. A guest that had stopped sending is done both ways.
 */
static void host_eof(struct vsock *v, struct vsock_conn *c,
		     struct vsock_hdr *h)
{
	c->host_eof = true;
	conn_hdr(v, c, h, VSOCK_OP_SHUTDOWN);
	h->flags = VSOCK_SHUTDOWN_SEND;
	if (c->peer_no_send && !c->buf_len)
		vsock_conn_kill(v, c); /* the RST follows the SHUTDOWN */
}

/*
 * c's next packet into the chain: its length (header and payload), or
 * 0 when c has nothing to send now.
 */
static uint32_t conn_packet(struct vsock *v, struct vsock_conn *c,
			    const struct virtq_chain *ch, struct vsock_hdr *h)
{
	uint32_t flags, credit, max;
	uint16_t op = owed_op(c, &flags);
	ssize_t r;

	if (op != VSOCK_OP_INVALID) {
		conn_hdr(v, c, h, op);
		h->flags = flags;
		if (op == VSOCK_OP_CREDIT_REQUEST)
			c->credit_asked = true;
		return sizeof(*h);
	}
	if (!wants_data(c))
		return 0;
	credit = vsock_peer_credit(c->peer_buf_alloc, c->peer_fwd_cnt,
				   c->tx_cnt);
	if (!credit) {
		/* Ask once; the guest's CREDIT_UPDATE brings us back. */
		if (c->credit_asked)
			return 0;
		c->credit_asked = true;
		conn_hdr(v, c, h, VSOCK_OP_CREDIT_REQUEST);
		return sizeof(*h);
	}
	max = ch->in_len - (uint32_t)sizeof(*h);
	if (max > credit)
		max = credit;
	if (max > VSOCK_MAX_PKT)
		max = VSOCK_MAX_PKT;
	if (!max)
		return 0;
	r = read_into(v, c, ch, max);
	if (r == -EAGAIN) {
		c->readable = false;
		vsock_poll_arm(v, &c->rd, c->fd, POLLIN);
		return 0;
	}
	if (r == 0) {
		host_eof(v, c, h);
		return sizeof(*h);
	}
	if (r < 0) {
		virtio_count(v->t, VIRTIO_CTR_VSOCK_READ_FAILS, 1);
		vsock_conn_kill(v, c);
		return 0; /* the RST goes next */
	}
	conn_hdr(v, c, h, VSOCK_OP_RW);
	h->len = (uint32_t)r;
	c->tx_cnt += (uint32_t)r;
	return (uint32_t)(sizeof(*h) + (size_t)r);
}

/* The next packet for the guest into the chain; 0: none to send. */
static uint32_t next_packet(struct vsock *v, const struct virtq_chain *ch)
{
	struct vsock_hdr h;
	uint32_t len = 0;

	if (v->nr_rsts) {
		v->nr_rsts--;
		hdr_init(v, &h, v->rsts[v->nr_rsts].src_port,
			 v->rsts[v->nr_rsts].dst_port, VSOCK_OP_RST);
		len = sizeof(h);
	}
	for (unsigned i = 0; !len && i < v->table.nr; i++) {
		unsigned at = (v->rr + i) % v->table.nr;
		struct vsock_conn *c = v->table.conns[at];

		len = conn_packet(v, c, ch, &h);
		if (!len)
			continue;
		v->rr = at + 1;
		iov_from_buf(v->iov + ch->nr_out, ch->nr_in, 0, &h,
			     sizeof(h));
		/* The guest has its RST: nothing is left of c. */
		if (h.op == VSOCK_OP_RST)
			vsock_conn_close(v, c);
		return len;
	}
	if (len)
		iov_from_buf(v->iov + ch->nr_out, ch->nr_in, 0, &h, sizeof(h));
	return len;
}

/* Serve the receive queue until it or the packets run out; true when
 * buffers ran out with packets still to send. */
static bool pump_once(struct vsock *v, struct virtio_queue *q)
{
	struct virtq_chain ch;
	uint32_t len;

	for (;;) {
		if (virtio_queue_pop(q, &ch, v->iov, VSOCK_MAX_SEGS) <= 0)
			return true;
		if (ch.nr_out || ch.in_len < sizeof(struct vsock_hdr)) {
			virtio_log(v->t, "rx queue: a buffer with a readable "
				   "part or shorter than a header; failed");
			virtio_queue_complete(q, ch.head, 0);
			continue;
		}
		len = next_packet(v, &ch);
		if (!len) {
			virtio_queue_unpop(q, 1);
			return false;
		}
		virtio_count(v->t, VIRTIO_CTR_RX_PACKETS, 1);
		virtio_count(v->t, VIRTIO_CTR_RX_BYTES,
			     len - sizeof(struct vsock_hdr));
		virtio_queue_complete(q, ch.head, len);
	}
}

void vsock_rx_pump(struct vsock *v)
{
	struct virtio_queue *q;
	bool starved;

	if (v->stopping || !virtio_serving(v->t))
		return;
	q = virtio_queue_at(v->t, VSOCK_RXQ);
	if (!q->ready || q->broken)
		return;
	/* Called again from a connection it closes: served by this one. */
	if (v->pumping) {
		v->pump_again = true;
		return;
	}
	v->pumping = true;
	do {
		v->pump_again = false;
		virtio_queue_notify_disable(q);
		starved = pump_once(v, q);
		if (!virtio_queue_notify_enable(q) && starved)
			break;
	} while (starved || v->pump_again);
	v->pumping = false;
	virtio_queue_flush(q);
}
