/*
 * virtio-net receive. One read is outstanding on the backend at a time,
 * straight into guest buffers taken from the RX ring beforehand. With
 * MRG_RXBUF a frame may span several buffers, so enough of them for the
 * largest frame are taken first; when the read completes, the ones it did
 * not fill go back to the ring (they were the last taken, and nothing else
 * takes from this ring meanwhile). Whether enough are there is counted
 * before any is taken, so a driver that posts too few makes the device
 * wait for its next kick, not spin.
 */
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "net_dev.h"

#define GSO_MAX_FRAME (65535 + NET_ETH_HLEN + 4)
#define NUM_BUFFERS_OFF 10 /* virtio_net_hdr_v1.num_buffers */
#define RETRY_NS 100000000 /* after a failed read: 100 ms */
/*
 * Frames from mvm (MMDS's, the user backend's) waiting for buffers; past
 * that, dropped as a wire would, and counted. 512 full frames are
 * 750 KiB: a burst of slirp's TCP output fits.
 */
#define INJECT_MAX 512
/*
 * Frames read in place, one readv each, once the tap has shown it has
 * some: the io_uring round trip per frame costs more than the read, and
 * the burst shares one interrupt. Bounded so that the loop serves the
 * other queues and devices in between.
 */
#define RX_BURST 64

static void rx_done(struct loop_op *op, int res, unsigned flags);

static uint32_t rx_need(struct net *n)
{
	bool gso = virtio_has(n->t, NET_F_GUEST_TSO4) ||
		   virtio_has(n->t, NET_F_GUEST_TSO6);

	return NET_HDR_LEN + (gso ? GSO_MAX_FRAME : n->frame_max);
}

/* A chain no frame can go into: the device would only drop it. */
static bool rx_chain_bad(int ret, const struct virtq_chain *c)
{
	return ret < 0 || c->nr_out || !c->in_len;
}

/*
 * How many chains, from the next available one, the next receive takes;
 * 0 when those available now cannot hold a frame. They are counted in
 * place, not taken, so a short set costs the loop nothing until the
 * driver adds to it (QEMU's virtqueue_avail_bytes() does the same).
 */
static unsigned rx_count(struct net *n, struct virtio_queue *q, uint32_t need)
{
	bool mrg = virtio_has(n->t, NET_F_MRG_RXBUF);
	uint32_t total = 0;
	unsigned k, niov = 0;
	struct virtq_chain c;

	for (k = 0; k < NET_RX_CHAINS && k < q->vq.size; k++) {
		int ret = virtio_queue_peek(q, (uint16_t)k, &c, n->rx_scratch,
					    VIRTQ_MAX_SEGS);

		if (ret == 0)
			return 0; /* the ring ran out short of a frame */
		/* A bad chain ends the set; alone, it is taken to drop it. */
		if (rx_chain_bad(ret, &c))
			return k ? k : 1;
		/* One read takes at most VIRTQ_MAX_SEGS iovecs. */
		if (niov + c.nr_in > VIRTQ_MAX_SEGS)
			return k;
		niov += c.nr_in;
		total += c.in_len;
		if (!mrg || total >= need)
			return k + 1;
	}
	/* As many chains as one receive may span: a frame gets no more. */
	return k;
}

/* Drop a chain the driver offered for receive that cannot take a frame. */
static void rx_drop(struct net *n, struct virtio_queue *q,
		    const struct virtq_chain *c, int ret)
{
	if (ret >= 0)
		virtio_log(n->t, "queue %u: receive buffer with no writable "
			   "part or a readable one; dropped", q->index);
	virtio_queue_complete(q, c->head, 0);
}

enum rx_gather { RX_SHORT, RX_DROPPED, RX_READY };

/*
 * Take the chains rx_count() found for one frame. The set taken is always
 * the last thing taken from the ring, so unpop() can give back any tail
 * of it. The driver may have changed the ring since the count: a chain
 * that turned bad ends the set there (or, first, is dropped alone).
 * need: the bytes the frame may take, its virtio header included.
 */
static enum rx_gather gather(struct net *n, struct virtio_queue *q,
			     uint32_t need)
{
	unsigned want = rx_count(n, q, need);
	struct iovec *scratch = n->rx_scratch;
	struct virtq_chain c;

	n->rx_nchains = n->rx_niov = 0;
	if (!want)
		return RX_SHORT;
	while (n->rx_nchains < want) {
		int ret = virtio_queue_take(q, &c, scratch, VIRTQ_MAX_SEGS);

		if (ret == 0)
			break;
		if (rx_chain_bad(ret, &c) && !n->rx_nchains) {
			rx_drop(n, q, &c, ret);
			return RX_DROPPED;
		}
		if (rx_chain_bad(ret, &c) ||
		    n->rx_niov + c.nr_in > VIRTQ_MAX_SEGS) {
			virtio_queue_unpop(q, 1); /* the next receive's */
			break;
		}
		memcpy(n->rx_iov + n->rx_niov, scratch,
		       c.nr_in * sizeof(*scratch));
		n->rx_chain[n->rx_nchains++] = (struct net_rx_chain){
			.head = c.head, .len = c.in_len, .first = n->rx_niov,
			.niov = c.nr_in };
		n->rx_niov += c.nr_in;
	}
	return n->rx_nchains ? RX_READY : RX_SHORT;
}

/*
 * Buffers for one frame, or false when the driver has not posted enough:
 * then a kick is asked for on its next buffer, and the ring is looked at
 * once more for one that came before the request was visible. Never more
 * than that: buffers that stay short wait for the kick, not in a loop.
 */
static bool rx_buffers(struct net *n, struct virtio_queue *q, uint32_t need)
{
	bool rearmed = false;
	enum rx_gather got;

	while ((got = gather(n, q, need)) != RX_READY) {
		if (got == RX_DROPPED)
			continue; /* each turn consumed a chain: this ends */
		if (rearmed)
			return false;
		virtio_queue_notify_enable(q);
		rearmed = true;
	}
	return true;
}

static void deliver(struct net *n, struct virtio_queue *q, uint32_t res);

static void rx_count_drop(struct net *n)
{
	if (n->t)
		virtio_count(n->t, VIRTIO_CTR_RX_DROPPED, 1);
}

/*
 * One frame from mvm (no virtio header) into the guest's buffers; false
 * when the buffers or the limiter's tokens ran out first, and nothing
 * was taken. The interrupt is the caller's to send.
 */
static bool rx_put(struct net *n, struct virtio_queue *q, const void *frame,
		   size_t len)
{
	uint8_t hdr[NET_HDR_LEN] = { 0 }; /* no segmentation, sums done */
	size_t room = 0;

	/* mvm's frames (slirp's) carry valid sums: the guest need not check. */
	if (virtio_has(n->t, NET_F_GUEST_CSUM))
		hdr[0] = NET_HDR_F_DATA_VALID;

	/* Its size is known: as many buffers as it takes, not a largest
	 * frame's (an ACK among 64 KiB segments takes one). */
	if (!throttle_ready(&n->rx_thr) ||
	    !rx_buffers(n, q, (uint32_t)(NET_HDR_LEN + len)))
		return false;
	for (unsigned k = 0; k < n->rx_nchains; k++)
		room += n->rx_chain[k].len;
	if (room < NET_HDR_LEN + len) {
		/* Buffers smaller than one frame: a driver's bug. */
		virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
		n->rx_nchains = 0;
		rx_count_drop(n);
		return true;
	}
	iov_from_buf(n->rx_iov, n->rx_niov, 0, hdr, sizeof(hdr));
	iov_from_buf(n->rx_iov, n->rx_niov, NET_HDR_LEN, frame, len);
	deliver(n, q, (uint32_t)(NET_HDR_LEN + len));
	throttle_charge(&n->rx_thr, len);
	virtio_count(n->t, VIRTIO_CTR_RX_BYTES, len);
	virtio_count(n->t, VIRTIO_CTR_RX_PACKETS, 1);
	n->rx_nchains = 0;
	return true;
}

/*
 * The frames mvm queued into the buffers, before any read; false when
 * the buffers or the limiter's tokens ran out first.
 */
static bool rx_injected(struct net *n, struct virtio_queue *q)
{
	struct net_inject *f;

	while ((f = n->inject_head)) {
		if (!rx_put(n, q, f->frame, f->len))
			return false;
		n->inject_head = f->next;
		if (!n->inject_head)
			n->inject_tail = NULL;
		n->inject_count--;
		free(f);
	}
	return true;
}

void net_rx_inject(void *opaque, const void *frame, size_t len)
{
	struct net *n = opaque;
	struct net_inject *f;

	if (n->inject_count >= INJECT_MAX ||
	    !(f = malloc(sizeof(*f) + len))) {
		rx_count_drop(n);
		return;
	}
	f->next = NULL;
	f->len = len;
	memcpy(f->frame, frame, len);
	if (n->inject_tail)
		n->inject_tail->next = f;
	else
		n->inject_head = f;
	n->inject_tail = f;
	n->inject_count++;
	/* A read holds the buffers: cancelled, its completion kicks. */
	if (n->rx_inflight) {
		n->rx_cancel_to_inject = true;
		net_rx_cancel(n);
	} else {
		net_rx_kick(n);
	}
}

/*
 * A frame from a backend with no fd: straight into the buffers when
 * nothing waits before it, else behind the frames that wait. The
 * interrupt goes once the loop has dispatched what it is doing, so a
 * burst of frames shares one.
 */
void net_rx_frame(void *opaque, const void *frame, size_t len)
{
	struct net *n = opaque;
	struct virtio_queue *q;

	if (!n->t || len < NET_ETH_HLEN || len > n->frame_max) {
		rx_count_drop(n);
		return;
	}
	q = virtio_queue_at(n->t, NET_RXQ);
	if (!n->inject_head && !n->rx_inflight && !n->stopping &&
	    virtio_serving(n->t) && !throttle_waiting(&n->rx_thr) &&
	    rx_put(n, q, frame, len)) {
		virtio_queue_flush_later(q);
		return;
	}
	net_rx_inject(n, frame, len);
}

void net_inject_free(struct net *n)
{
	while (n->inject_head) {
		struct net_inject *f = n->inject_head;

		n->inject_head = f->next;
		free(f);
	}
	n->inject_tail = NULL;
	n->inject_count = 0;
}

/* A frame of res bytes (header included) is in the chains taken. */
static void rx_delivered(struct net *n, struct virtio_queue *q, uint32_t res)
{
	deliver(n, q, res);
	throttle_charge(&n->rx_thr, (uint64_t)res - NET_HDR_LEN);
	virtio_count(n->t, VIRTIO_CTR_RX_BYTES, (uint64_t)res - NET_HDR_LEN);
	virtio_count(n->t, VIRTIO_CTR_RX_PACKETS, 1);
	n->rx_nchains = 0;
}

/*
 * Read the frames the tap holds now, in place (the fd is non-blocking),
 * while there are buffers and tokens, up to RX_BURST; the caller flushes
 * once for all. A failed or empty read ends the burst with its buffers
 * given back: the io_uring read that follows waits, and reports errors.
 */
static void rx_burst(struct net *n, struct virtio_queue *q)
{
	for (unsigned i = 0; i < RX_BURST; i++) {
		ssize_t got;

		if (!throttle_ready(&n->rx_thr) ||
		    !rx_buffers(n, q, rx_need(n)))
			return;
		got = readv(n->be->fd, n->rx_iov, (int)n->rx_niov);
		if (got < NET_HDR_LEN) {
			virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
			n->rx_nchains = 0;
			return;
		}
		rx_delivered(n, q, (uint32_t)got);
	}
}

void net_rx_kick(struct net *n)
{
	struct virtio_queue *q = virtio_queue_at(n->t, NET_RXQ);
	struct io_uring_sqe *sqe;
	bool ready;

	if (n->rx_inflight || n->stopping || !virtio_serving(n->t) ||
	    throttle_waiting(&n->rx_thr))
		return;
	if (n->inject_head && !rx_injected(n, q)) {
		virtio_queue_flush(q);
		return;
	}
	/* A backend with no fd calls net_rx_frame: nothing to read. */
	if (n->be->fd < 0) {
		virtio_queue_flush(q);
		return;
	}
	/*
	 * A frame's size is known once read: a read starts while the
	 * limiter has tokens, and what it brought is charged after.
	 */
	if (!throttle_ready(&n->rx_thr)) {
		virtio_queue_flush(q);
		return;
	}
	rx_burst(n, q);
	/* A burst the limiter stopped has armed its timer already. */
	ready = !throttle_waiting(&n->rx_thr) && rx_buffers(n, q, rx_need(n));
	virtio_queue_flush(q); /* the frames read, dropped bad buffers */
	if (!ready)
		return;
	sqe = loop_sqe(n->ctx->loop);
	if (!sqe) {
		virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
		n->rx_nchains = 0;
		return;
	}
	io_uring_prep_readv(sqe, n->be->fd, n->rx_iov, n->rx_niov, 0);
	n->rx_op.done = rx_done;
	loop_prep(n->ctx->loop, sqe, &n->rx_op);
	n->rx_inflight = true;
	n->rx_is_wait = false;
}

/*
 * A read that returned every buffer gets no refill kick: the next one
 * waits, for a delay after a failure (not spinning on a broken backend),
 * or for a frame after EAGAIN (a kernel that does not wait for a
 * non-blocking file by itself). The wait's completion only kicks.
 */
static void rx_wait(struct net *n, bool failed)
{
	struct io_uring_sqe *sqe = loop_sqe(n->ctx->loop);

	if (!sqe)
		return;
	if (failed) {
		n->rx_delay.tv_sec = 0;
		n->rx_delay.tv_nsec = RETRY_NS;
		io_uring_prep_timeout(sqe, &n->rx_delay, 0, 0);
	} else {
		io_uring_prep_poll_add(sqe, n->be->fd, POLLIN);
	}
	n->rx_op.done = rx_done;
	loop_prep(n->ctx->loop, sqe, &n->rx_op);
	n->rx_inflight = true;
	n->rx_is_wait = true;
}

void net_rx_cancel(struct net *n)
{
	struct io_uring_sqe *sqe;

	if (!n->rx_inflight)
		return;
	/* Without the cancel, a read no frame answers keeps the reset (and
	 * the VM's teardown waiting on it) going forever. */
	sqe = loop_sqe_wait(n->ctx->loop);
	if (!sqe)
		return;
	io_uring_prep_cancel(sqe, &n->rx_op, 0);
	/* The cancel's own completion needs no callback. */
	io_uring_sqe_set_data(sqe, NULL);
}

/*
 * Hand the first k chains to the driver, sharing res bytes among them;
 * the interrupt is the caller's (virtio_queue_flush or _later).
 */
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
}

static void rx_done(struct loop_op *op, int res, unsigned flags)
{
	struct net *n = (struct net *)((char *)op - offsetof(struct net,
							     rx_op));
	struct virtio_queue *q = virtio_queue_at(n->t, NET_RXQ);
	bool for_inject = n->rx_cancel_to_inject;

	(void)flags;
	n->rx_inflight = false;
	n->rx_cancel_to_inject = false;
	if (n->stopping) {
		/* The rings are being reset: these chains are void. */
		n->rx_nchains = 0;
		net_maybe_reset_done(n);
		return;
	}
	if (n->rx_is_wait) {
		net_rx_kick(n);
		return;
	}
	if (res < NET_HDR_LEN) {
		virtio_queue_unpop(q, (uint16_t)n->rx_nchains);
		n->rx_nchains = 0;
		/* Cancelled for mvm's frames: they go first. */
		if (res == -ECANCELED && for_inject && virtio_serving(n->t)) {
			net_rx_kick(n);
			return;
		}
		/* Cancelled by a pause: resume reads again. */
		if (res == -ECANCELED || !virtio_serving(n->t))
			return;
		if (res == -EAGAIN) {
			rx_wait(n, false);
			return;
		}
		if (res < 0 && res != -EINTR) {
			virtio_count(n->t, VIRTIO_CTR_TAP_READ_FAILS, 1);
			virtio_log(n->t, "backend read failed: %s",
				   strerror(-res));
			rx_wait(n, true);
			return;
		}
		net_rx_kick(n);
		return;
	}
	rx_delivered(n, q, (uint32_t)res);
	net_rx_kick(n); /* reads what came meanwhile in place, flushes */
}
