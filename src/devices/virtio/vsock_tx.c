/*
 * virtio-vsock's packets from the guest (vsock.h). Every field is the
 * guest's: the header is copied out and checked (vsock_check_tx), a
 * connection is found by both ports, and anything the protocol does not
 * allow in the connection's state is answered with an RST.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mvm/virtio_dev.h"

#include "vsock.h"

/* The guest connects to the host's port: "<uds_path>_<port>". */
static void guest_request(struct vsock *v, const struct vsock_hdr *h)
{
	struct vsock_conn *c;
	int fd;

	c = vsock_table_find(&v->table, h->dst_port, h->src_port);
	if (c) {
		/* A second REQUEST on a live connection: both are wrong. */
		vsock_conn_kill(v, c);
		return;
	}
	if (v->table.nr >= VSOCK_MAX_CONNS) {
		vsock_rst_unknown(v, h);
		return;
	}
	fd = vsock_uds_connect(v, h->dst_port);
	if (fd < 0) {
		vsock_rst_unknown(v, h);
		return;
	}
	c = vsock_table_add(&v->table, h->dst_port, h->src_port);
	if (!c) {
		vsock_rst_unknown(v, h);
		close(fd);
		return;
	}
	virtio_count(v->t, VIRTIO_CTR_CONNS_ADDED, 1);
	c->fd = fd;
	c->state = VSOCK_CONN_ESTABLISHED;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->readable = true; /* the first read finds out */
	vsock_conn_owe(v, c, VSOCK_OWE_RESPONSE);
}

/* The guest accepted a host's CONNECT: tell the host its port. */
static void guest_response(struct vsock *v, struct vsock_conn *c)
{
	char ok[32];
	struct iovec iov;
	int n;

	if (c->state != VSOCK_CONN_HOST_REQ) {
		vsock_conn_kill(v, c);
		return;
	}
	n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
	iov = (struct iovec){ ok, (size_t)n };
	/* A fresh socket's buffer takes a dozen bytes, or it is gone. */
	if (vsock_uds_send(c->fd, &iov, 1) != n) {
		vsock_conn_kill(v, c);
		return;
	}
	c->state = VSOCK_CONN_ESTABLISHED;
	c->expiry_ns = 0;
	c->readable = true;
}

/* The host's write side ends once what the guest sent has gone. */
static void maybe_shut_wr(struct vsock_conn *c)
{
	if (c->peer_no_send && !c->buf_len && c->fd >= 0)
		shutdown(c->fd, SHUT_WR);
}

/* The guest's bytes to the socket; what it will not take yet is held. */
static void guest_rw(struct vsock *v, struct vsock_conn *c,
		     const struct virtq_chain *ch, const struct vsock_hdr *h)
{
	size_t off = sizeof(*h);
	uint32_t len = h->len;

	if (c->state != VSOCK_CONN_ESTABLISHED || c->peer_no_send ||
	    len > vsock_buf_room(c)) {
		/* Past its credit, or after it said it would send no more. */
		virtio_log(v->t, "connection %u:%u: %u bytes the guest may "
			   "not send; reset", c->peer_port, c->local_port, len);
		vsock_conn_kill(v, c);
		return;
	}
	c->rx_cnt += len;
	if (!c->buf_len && len) {
		struct iovec slice[VSOCK_MAX_SEGS];
		int n = iov_slice(v->iov, ch->nr_out, off, len, slice,
				  VSOCK_MAX_SEGS);
		ssize_t w = n > 0 ? vsock_uds_send(c->fd, slice, (unsigned)n)
				  : -EINVAL;

		if (w < 0 && w != -EAGAIN) {
			virtio_count(v->t, VIRTIO_CTR_VSOCK_WRITE_FAILS, 1);
			vsock_conn_kill(v, c);
			return;
		}
		if (w > 0) {
			c->fwd_cnt += (uint32_t)w;
			off += (size_t)w;
			len -= (uint32_t)w;
		}
	}
	if (len) {
		if (!c->buf && !(c->buf = malloc(VSOCK_BUF_ALLOC))) {
			vsock_conn_kill(v, c);
			return;
		}
		vsock_buf_put(c, v->iov, ch->nr_out, off, len);
		vsock_poll_arm(v, &c->wr, c->fd, POLLOUT);
	}
	if (vsock_conn_credit_due(c))
		vsock_conn_owe(v, c, VSOCK_OWE_CREDIT_UPDATE);
}

static void guest_shutdown(struct vsock *v, struct vsock_conn *c,
			   uint32_t flags)
{
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->peer_no_rcv = true;
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->peer_no_send = true;
	if ((c->peer_no_rcv && c->peer_no_send) ||
	    (c->peer_no_send && c->host_eof)) {
		/* Done both ways: what it sent goes if it can, then RST. */
		if (c->fd >= 0)
			vsock_uds_flush(v, c);
		vsock_conn_kill(v, c);
		return;
	}
	maybe_shut_wr(c);
}

static void conn_packet(struct vsock *v, struct vsock_conn *c,
			const struct virtq_chain *ch,
			const struct vsock_hdr *h)
{
	if (c->state == VSOCK_CONN_KILLED || c->state == VSOCK_CONN_HOST_LINE)
		return; /* an RST is on its way; or the guest cannot know c */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vsock_peer_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt))
		c->credit_asked = false;
	switch (h->op) {
	case VSOCK_OP_RST:
		vsock_conn_close(v, c);
		break;
	case VSOCK_OP_RESPONSE:
		guest_response(v, c);
		break;
	case VSOCK_OP_RW:
		guest_rw(v, c, ch, h);
		break;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(v, c, h->flags);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break; /* the credit above is all it says */
	case VSOCK_OP_CREDIT_REQUEST:
		vsock_conn_owe(v, c, VSOCK_OWE_CREDIT_UPDATE);
		break;
	default: /* REQUEST was dealt with; anything else is unknown */
		vsock_conn_kill(v, c);
		break;
	}
}

static void tx_packet(struct vsock *v, const struct virtq_chain *ch)
{
	struct vsock_hdr h;
	struct vsock_conn *c;
	const char *why;

	memset(&h, 0, sizeof(h));
	iov_to_buf(v->iov, ch->nr_out, 0, &h, sizeof(h));
	if (vsock_check_tx(&h, ch->out_len, v->guest_cid, &why)) {
		virtio_log(v->t, "tx queue: packet dropped: %s", why);
		return;
	}
	virtio_count(v->t, VIRTIO_CTR_TX_PACKETS, 1);
	virtio_count(v->t, VIRTIO_CTR_TX_BYTES, h.len);
	if (h.type != VSOCK_TYPE_STREAM) {
		/* SEQPACKET and the rest were not offered. */
		if (h.op != VSOCK_OP_RST)
			vsock_rst_unknown(v, &h);
		return;
	}
	if (h.op == VSOCK_OP_REQUEST) {
		guest_request(v, &h);
		return;
	}
	c = vsock_table_find(&v->table, h.dst_port, h.src_port);
	if (c)
		conn_packet(v, c, ch, &h);
	else if (h.op != VSOCK_OP_RST)
		vsock_rst_unknown(v, &h);
}

void vsock_tx_kick(struct vsock *v, struct virtio_queue *q)
{
	struct virtq_chain ch;

	do {
		virtio_queue_notify_disable(q);
		while (virtio_queue_pop(q, &ch, v->iov, VSOCK_MAX_SEGS) > 0) {
			tx_packet(v, &ch);
			virtio_queue_complete(q, ch.head, 0);
		}
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
	vsock_rx_pump(v);
}
