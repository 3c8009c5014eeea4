/*
 * virtio-net transmit. Each chain is one frame, written to the backend by
 * one io_uring write whose iovecs point into the guest's buffers, or, for
 * a backend with no fd, copied out and handed to it by call. The
 * virtio-net header and the Ethernet header are first copied out: the
 * spoof filter judges the copy, and the copy is what gets sent, so the
 * guest cannot change the source address after the check.
 */
#include <stdlib.h>
#include <string.h>

#include "net_dev.h"

#define HEAD_COPY (NET_HDR_LEN + NET_ETH_HLEN)

struct tx_req {
	struct loop_op op; /* first: the CQE's user_data */
	struct net *n;
	uint16_t head;
	uint8_t head_copy[HEAD_COPY];
	unsigned niov;
	struct iovec iov[];
};

static void tx_done(struct loop_op *op, int res, unsigned flags);

/* A frame not sent: counted (why, if why is a counter too) and dropped. */
static void drop(struct net *n, struct virtio_queue *q, uint16_t head,
		 int why)
{
	virtio_count(n->t, VIRTIO_CTR_TX_FAILS, 1);
	if (why >= 0)
		virtio_count(n->t, (enum virtio_counter)why, 1);
	virtio_queue_complete(q, head, 0);
}

/* The largest frame MMDS takes: an MTU's, with its virtio header. */
#define MMDS_FRAME_MAX (NET_HDR_LEN + 1514)

/*
 * A frame for MMDS goes to its carrier, not the backend; one too big for
 * it (a segmentation offload's) is dropped. False: not MMDS's.
 */
static bool tx_mmds(struct net *n, struct virtio_queue *q,
		    const struct virtq_chain *c)
{
	uint8_t peek[NET_HDR_LEN + MMDS_NET_PEEK], frame[MMDS_FRAME_MAX];
	size_t got = iov_to_buf(n->tx_iov, c->nr_out, 0, peek, sizeof(peek));

	if (got < sizeof(peek) ||
	    !mmds_net_wants(n->mmds, peek + NET_HDR_LEN, got - NET_HDR_LEN))
		return false;
	if (c->out_len > sizeof(frame)) {
		drop(n, q, c->head, VIRTIO_CTR_TX_MALFORMED);
		return true;
	}
	got = iov_to_buf(n->tx_iov, c->nr_out, 0, frame, c->out_len);
	mmds_net_input(n->mmds, frame, got, NET_HDR_LEN);
	virtio_count(n->t, VIRTIO_CTR_TX_BYTES, got - NET_HDR_LEN);
	virtio_count(n->t, VIRTIO_CTR_TX_PACKETS, 1);
	virtio_queue_complete(q, c->head, 0);
	return true;
}

/*
 * With mac_spoofing off, a frame from another source MAC is dropped and
 * logged: true then. eth is mvm's copy of the Ethernet header.
 */
static bool tx_spoofed(struct net *n, struct virtio_queue *q, uint16_t head,
		       const uint8_t *eth)
{
	const uint8_t *m = eth + NET_MAC_LEN;

	if (net_tx_allowed(n->mac, n->spoofing, eth, NET_ETH_HLEN))
		return false;
	n->tx_spoofed++;
	virtio_log(n->t, "dropped a frame from source MAC "
		   "%02x:%02x:%02x:%02x:%02x:%02x, not the NIC's "
		   "(%llu so far; mac_spoofing=off)", m[0], m[1], m[2], m[3],
		   m[4], m[5], (unsigned long long)n->tx_spoofed);
	drop(n, q, head, VIRTIO_CTR_TX_SPOOFED);
	return true;
}

/*
 * A frame for a backend with no fd: copied out whole into n->tx_frame
 * (the copy is what the spoof filter judges and what is sent), handed
 * over, and its chain completed at once. The guest is offered no
 * segmentation offload for such a backend, so a chain longer than the
 * MTU's frame is malformed.
 */
static void tx_local(struct net *n, struct virtio_queue *q,
		     const struct virtq_chain *c)
{
	uint8_t *frame = n->tx_frame;
	size_t len;

	if (c->out_len > NET_HDR_LEN + n->frame_max) {
		n->tx_errors++;
		drop(n, q, c->head, VIRTIO_CTR_TX_MALFORMED);
		return;
	}
	len = iov_to_buf(n->tx_iov, c->nr_out, 0, frame, c->out_len);
	if (len < HEAD_COPY) {
		n->tx_errors++;
		drop(n, q, c->head, VIRTIO_CTR_TX_MALFORMED);
		return;
	}
	if (tx_spoofed(n, q, c->head, frame + NET_HDR_LEN))
		return;
	if (n->mmds && tx_mmds(n, q, c))
		return;
	if (frame[1] != NET_HDR_GSO_NONE ||
	    !net_csum_complete(frame, frame + NET_HDR_LEN, len - NET_HDR_LEN)) {
		n->tx_errors++;
		drop(n, q, c->head, VIRTIO_CTR_TX_MALFORMED);
		return;
	}
	n->be->ops->send(n->be, frame + NET_HDR_LEN, len - NET_HDR_LEN);
	virtio_count(n->t, VIRTIO_CTR_TX_BYTES, len - NET_HDR_LEN);
	virtio_count(n->t, VIRTIO_CTR_TX_PACKETS, 1);
	virtio_queue_complete(q, c->head, 0);
}

static void tx_one(struct net *n, struct virtio_queue *q,
		   const struct virtq_chain *c)
{
	struct io_uring_sqe *sqe;
	struct tx_req *r;
	int k;

	if (c->nr_in) {
		virtio_log(n->t, "queue %u: transmit buffer with a writable "
			   "part; dropped", q->index);
		drop(n, q, c->head, VIRTIO_CTR_TX_MALFORMED);
		return;
	}
	if (c->out_len < HEAD_COPY) {
		n->tx_errors++;
		drop(n, q, c->head, VIRTIO_CTR_TX_MALFORMED);
		return;
	}
	if (n->be->fd < 0) {
		tx_local(n, q, c);
		return;
	}
	r = calloc(1, sizeof(*r) + (c->nr_out + 1) * sizeof(r->iov[0]));
	if (!r) {
		n->tx_errors++;
		drop(n, q, c->head, -1);
		return;
	}
	iov_to_buf(n->tx_iov, c->nr_out, 0, r->head_copy, HEAD_COPY);
	if (tx_spoofed(n, q, c->head, r->head_copy + NET_HDR_LEN)) {
		free(r);
		return;
	}
	if (n->mmds && tx_mmds(n, q, c)) {
		free(r);
		return;
	}
	r->iov[0].iov_base = r->head_copy;
	r->iov[0].iov_len = HEAD_COPY;
	k = iov_slice(n->tx_iov, c->nr_out, HEAD_COPY, c->out_len - HEAD_COPY,
		      r->iov + 1, c->nr_out);
	sqe = loop_sqe(n->ctx->loop);
	if (k < 0 || !sqe) {
		n->tx_errors++;
		free(r);
		drop(n, q, c->head, -1);
		return;
	}
	r->n = n;
	r->head = c->head;
	r->niov = 1 + (unsigned)k;
	r->op.done = tx_done;
	io_uring_prep_writev(sqe, n->be->fd, r->iov, r->niov, 0);
	loop_prep(n->ctx->loop, sqe, &r->op);
	n->tx_inflight++;
}

/*
 * The next frame, if the limiter lets it go (its bytes past the
 * virtio-net header, as the metrics count them); else it goes back to
 * the ring and the limiter's timer kicks again.
 */
static bool next_frame(struct net *n, struct virtio_queue *q,
		       struct virtq_chain *c)
{
	/* One slot short of IOV_MAX: the header copy takes one. */
	if (virtio_queue_pop(q, c, n->tx_iov, VIRTQ_MAX_SEGS - 1) <= 0)
		return false;
	if (throttle_take(&n->tx_thr, c->out_len > NET_HDR_LEN ?
				      c->out_len - NET_HDR_LEN : 0))
		return true;
	virtio_queue_unpop(q, 1);
	return false;
}

void net_tx_kick(struct net *n)
{
	struct virtio_queue *q = virtio_queue_at(n->t, NET_TXQ);
	struct virtq_chain c;

	if (n->stopping || !virtio_serving(n->t) ||
	    throttle_waiting(&n->tx_thr))
		return;
	/* A backend's bookkeeping after a frame, once for the burst. */
	if (n->be->ops->batch)
		n->be->ops->batch(n->be, true);
	do {
		virtio_queue_notify_disable(q);
		while (n->tx_inflight < NET_TX_INFLIGHT &&
		       next_frame(n, q, &c))
			tx_one(n, q, &c);
		/*
		 * At the cap, completions call back here; throttled, the
		 * timer does: no kick needed.
		 */
		if (n->tx_inflight >= NET_TX_INFLIGHT ||
		    throttle_waiting(&n->tx_thr))
			break;
	} while (virtio_queue_notify_enable(q));
	if (n->be->ops->batch)
		n->be->ops->batch(n->be, false);
	virtio_queue_flush(q);
}

static void tx_done(struct loop_op *op, int res, unsigned flags)
{
	struct tx_req *r = (struct tx_req *)op;
	struct net *n = r->n;
	struct virtio_queue *q = virtio_queue_at(n->t, NET_TXQ);
	bool was_full = n->tx_inflight >= NET_TX_INFLIGHT;

	(void)flags;
	n->tx_inflight--;
	if (n->stopping) {
		free(r);
		net_maybe_reset_done(n);
		return;
	}
	/* A frame the backend refused is lost, as on a real wire. */
	if (res < 0) {
		n->tx_errors++;
		virtio_count(n->t, VIRTIO_CTR_TX_FAILS, 1);
		virtio_count(n->t, VIRTIO_CTR_TAP_WRITE_FAILS, 1);
	} else if (res >= NET_HDR_LEN) {
		virtio_count(n->t, VIRTIO_CTR_TX_BYTES,
			     (uint64_t)res - NET_HDR_LEN);
		virtio_count(n->t, VIRTIO_CTR_TX_PACKETS, 1);
	}
	virtio_queue_complete(q, r->head, 0);
	free(r);
	if (was_full)
		net_tx_kick(n);
	else
		virtio_queue_flush_later(q);
}
