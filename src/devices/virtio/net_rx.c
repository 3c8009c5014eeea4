/*
 * virtio-net receive. One read is outstanding on the backend at a time,
 * straight into guest buffers taken from the RX ring beforehand. With
 * MRG_RXBUF a frame may span several buffers, so enough of them for the
 * largest frame are taken first; when the read completes, the ones it did
 * not fill go back to the ring (they were the last taken, and nothing else
 * takes from this ring meanwhile).
 */
#include <stddef.h>
#include <string.h>

#include "net_dev.h"

#define ETH_MAX_FRAME (1514 + 4)            /* with one VLAN tag */
#define GSO_MAX_FRAME (65535 + NET_ETH_HLEN + 4)
#define NUM_BUFFERS_OFF 10 /* virtio_net_hdr_v1.num_buffers */
#define RETRY_NS 100000000 /* after a failed read: 100 ms */

static void rx_done(struct loop_op *op, int res, unsigned flags);

static uint32_t rx_need(struct net *n)
{
	bool gso = virtio_has(n->t, NET_F_GUEST_TSO4) ||
		   virtio_has(n->t, NET_F_GUEST_TSO6);

	return NET_HDR_LEN + (gso ? GSO_MAX_FRAME : ETH_MAX_FRAME);
}

/* Take buffers for one frame. Returns true when the read can start. */
static bool gather(struct net *n, struct virtio_queue *q)
{
	bool mrg = virtio_has(n->t, NET_F_MRG_RXBUF);
	uint32_t need = rx_need(n), total = 0;
	struct iovec *scratch = n->rx_scratch;
	struct virtq_chain c;

	n->rx_nchains = n->rx_niov = 0;
	while (n->rx_nchains < NET_RX_CHAINS) {
		if (virtio_queue_pop(q, &c, scratch, VIRTQ_MAX_SEGS) <= 0)
			break;
		if (c.nr_out || !c.in_len) {
			virtio_log(n->t, "queue %u: receive buffer with no "
				   "writable part or a readable one; dropped",
				   q->index);
			virtio_queue_complete(q, c.head, 0);
			continue;
		}
		if (n->rx_niov + c.nr_in > VIRTQ_MAX_SEGS) {
			virtio_queue_unpop(q, 1); /* next time */
			break;
		}
		memcpy(n->rx_iov + n->rx_niov, scratch,
		       c.nr_in * sizeof(*scratch));
		n->rx_chain[n->rx_nchains++] = (struct net_rx_chain){
			.head = c.head, .len = c.in_len, .first = n->rx_niov,
			.niov = c.nr_in };
		n->rx_niov += c.nr_in;
		total += c.in_len;
		if (!mrg || total >= need)
			return true;
	}
	if (!n->rx_nchains)
		return false;
	/* Short of a full frame: wait for more, unless none can come. */
	if (total >= need || n->rx_nchains == NET_RX_CHAINS ||
	    n->rx_nchains >= q->vq.size || n->rx_niov == VIRTQ_MAX_SEGS)
		return true;
	virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
	n->rx_nchains = n->rx_niov = 0;
	return false;
}

void net_rx_kick(struct net *n)
{
	struct virtio_queue *q = &n->t->queues[NET_RXQ];
	struct io_uring_sqe *sqe;

	if (n->rx_inflight || n->stopping)
		return;
	while (!gather(n, q)) {
		/* Ask for a kick on refill; look again if one raced in. */
		if (!virtio_queue_notify_enable(q)) {
			virtio_queue_flush(q);
			return;
		}
	}
	virtio_queue_flush(q); /* dropped bad buffers */
	sqe = loop_sqe(n->vm->loop);
	if (!sqe) {
		virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
		n->rx_nchains = 0;
		return;
	}
	io_uring_prep_readv(sqe, n->be->fd, n->rx_iov, n->rx_niov, 0);
	n->rx_op.done = rx_done;
	loop_prep(n->vm->loop, sqe, &n->rx_op);
	n->rx_inflight = true;
	n->rx_is_timer = false;
}

/*
 * A failed read gave every buffer back, so no refill kick will come:
 * retry after a delay instead of spinning on a broken backend.
 */
static void retry_later(struct net *n)
{
	struct io_uring_sqe *sqe = loop_sqe(n->vm->loop);

	if (!sqe)
		return;
	n->rx_delay.tv_sec = 0;
	n->rx_delay.tv_nsec = RETRY_NS;
	io_uring_prep_timeout(sqe, &n->rx_delay, 0, 0);
	n->rx_op.done = rx_done;
	loop_prep(n->vm->loop, sqe, &n->rx_op);
	n->rx_inflight = true;
	n->rx_is_timer = true;
}

void net_rx_cancel(struct net *n)
{
	struct io_uring_sqe *sqe;

	if (!n->rx_inflight)
		return;
	sqe = loop_sqe(n->vm->loop);
	if (!sqe)
		return;
	io_uring_prep_cancel(sqe, &n->rx_op, 0);
	/* The cancel's own completion needs no callback. */
	io_uring_sqe_set_data(sqe, NULL);
}

/* Hand the first k chains to the driver, sharing res bytes among them. */
static void deliver(struct net *n, struct virtio_queue *q, uint32_t res)
{
	uint16_t k = 0;
	uint8_t nb[2];

	for (uint32_t left = res; left && k < n->rx_nchains; k++) {
		uint32_t take = left < n->rx_chain[k].len ? left
							  : n->rx_chain[k].len;

		virtio_queue_push(q, n->rx_chain[k].head, take);
		left -= take;
	}
	/* The header's num_buffers tells the driver how many to gather. */
	pci_put16(nb, k);
	iov_from_buf(n->rx_iov, n->rx_chain[0].niov, NUM_BUFFERS_OFF, nb,
		     sizeof(nb));
	virtio_queue_publish(q);
	virtio_queue_unpop(q, (uint16_t)(n->rx_nchains - k));
	virtio_queue_flush(q);
}

static void rx_done(struct loop_op *op, int res, unsigned flags)
{
	struct net *n = (struct net *)((char *)op - offsetof(struct net,
							     rx_op));
	struct virtio_queue *q = &n->t->queues[NET_RXQ];

	(void)flags;
	n->rx_inflight = false;
	if (n->stopping) {
		/* The rings are being reset: these chains are void. */
		n->rx_nchains = 0;
		net_maybe_reset_done(n);
		return;
	}
	if (n->rx_is_timer) {
		net_rx_kick(n);
		return;
	}
	if (res < NET_HDR_LEN) {
		virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
		n->rx_nchains = 0;
		if (res < 0 && res != -EAGAIN && res != -EINTR) {
			virtio_log(n->t, "backend read failed: %s",
				   strerror(-res));
			retry_later(n);
			return;
		}
		net_rx_kick(n);
		return;
	}
	deliver(n, q, (uint32_t)res);
	n->t->counters.total[VIRTIO_CTR_RX_BYTES] += (uint64_t)res -
						      NET_HDR_LEN;
	n->t->counters.total[VIRTIO_CTR_RX_PACKETS]++;
	n->rx_nchains = 0;
	net_rx_kick(n);
}
