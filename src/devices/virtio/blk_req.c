/*
 * virtio-blk requests (5.2.6): header, data, status byte. Each request
 * becomes one io_uring operation on the backing file whose iovecs are the
 * guest's own buffers; short transfers are resubmitted for the rest, and
 * the status byte is written and the chain completed from the CQE.
 */
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/virtio_dev.h"

#include "blk_req.h"

/* Request types and statuses (5.2.6). */
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define HDR_LEN 16
#define SEG_LEN 16 /* discard / write-zeroes segment */
#define ID_BYTES 20
#define WZ_UNMAP 1

struct blk_req {
	struct loop_op op; /* first: the CQE's user_data */
	struct blk *b;
	struct virtio_queue *q;
	uint16_t head;
	uint32_t type;
	uint8_t *status;   /* the chain's last byte, in guest memory */
	uint32_t used_len; /* bytes written into the guest's buffers */
	int fd;
	bool retried;      /* an O_DIRECT refusal was retried buffered */
	uint64_t off;      /* file offset of the next byte */
	uint64_t left;     /* bytes still to move */
	uint64_t bytes;    /* data bytes of the request, for the metrics */
	int mode;          /* fallocate mode */
	unsigned first, niov;
	struct iovec iov[];
};

/* Requests that succeeded, as the metrics count them. */
static void count(struct blk *b, const struct blk_req *r)
{
	switch (r->type) {
	case T_IN:
		virtio_count(b->t, VIRTIO_CTR_READ_BYTES, r->bytes);
		virtio_count(b->t, VIRTIO_CTR_READ_COUNT, 1);
		break;
	case T_OUT:
		virtio_count(b->t, VIRTIO_CTR_WRITE_BYTES, r->bytes);
		virtio_count(b->t, VIRTIO_CTR_WRITE_COUNT, 1);
		break;
	case T_FLUSH:
		virtio_count(b->t, VIRTIO_CTR_FLUSH_COUNT, 1);
		break;
	}
}

static void finish(struct blk_req *r, uint8_t status)
{
	struct virtio_queue *q = r->q;
	struct blk *b = r->b;
	bool was_full = b->q_inflight[q->index]-- >= q->vq.size;

	if (status == S_OK)
		count(b, r);
	*r->status = status;
	virtio_queue_complete(q, r->head, r->used_len);
	free(r);
	if (was_full)
		blk_queue_notify(b, q); /* it stopped taking at the cap */
	else
		virtio_queue_flush_later(q);
}

/*
 * The host could not do what the guest asked (the image shrank under the
 * VM, the disk below it failed): the guest gets an I/O error, the metrics
 * count it, and mvm's stderr says why, at most a line a second per drive
 * with a count of the ones left out (virtio_log).
 */
static void fail_io(struct blk_req *r, int res)
{
	const char *what = r->type == T_IN ? "read" : r->type == T_OUT ?
			   "write" : r->type == T_FLUSH ? "flush" :
			   r->type == T_DISCARD ? "discard" : "write zeroes";

	virtio_count(r->b->t, VIRTIO_CTR_FAIL_COUNT, 1);
	virtio_log(r->b->t, "%s of %llu bytes at sector %llu failed: %s; the "
		   "guest got an I/O error", what,
		   (unsigned long long)r->left,
		   (unsigned long long)(r->off / BLK_SECTOR),
		   res ? strerror(-res) : "past the end of the image");
	finish(r, S_IOERR);
}

/* Complete a request that never reached the kernel. */
static void answer(struct virtio_queue *q, uint16_t head, uint8_t *status,
		   uint8_t value, uint32_t used_len)
{
	*status = value;
	if (value != S_OK)
		virtio_count(q->t, VIRTIO_CTR_INVALID_REQS, 1);
	virtio_queue_complete(q, head, used_len);
}

static void req_done(struct loop_op *op, int res, unsigned flags);

#define BLK_ASYNC_READ_MIN (64u << 10)

static void submit(struct blk_req *r)
{
	struct blk *b = r->b;
	struct io_uring_sqe *sqe = loop_sqe(b->ctx->loop);

	if (!sqe) {
		fail_io(r, -EBUSY);
		return;
	}
	switch (r->type) {
	case T_IN:
		io_uring_prep_readv(sqe, r->fd, r->iov + r->first,
				    r->niov - r->first, r->off);
		break;
	case T_OUT:
		io_uring_prep_writev(sqe, r->fd, r->iov + r->first,
				     r->niov - r->first, r->off);
		break;
	case T_FLUSH:
		io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
		break;
	default: /* discard, write zeroes */
		io_uring_prep_fallocate(sqe, r->fd, r->mode, (off_t)r->off,
					(off_t)r->left);
		break;
	}
	/*
	 * A large read that hits the page cache would be copied inline, on
	 * the loop thread, which serves every device meanwhile. Handed to
	 * io_uring's workers, the copy leaves the loop thread. It is not a
	 * parallel copy: io-wq wakes the first idle worker for each request
	 * it queues, and a burst of them all find the same one still on its
	 * idle list, so one worker copies a batch one request after another
	 * (per-thread CPU time of a 1 MiB depth-8 read run: one worker had
	 * all of it). Writes gained nothing, and small reads would only pay
	 * the hand-over.
	 */
	if (r->type == T_IN && r->left >= BLK_ASYNC_READ_MIN)
		sqe->flags |= IOSQE_ASYNC;
	r->op.done = req_done;
	loop_prep(b->ctx->loop, sqe, &r->op);
	b->inflight++;
}

/* The first submission of a request: it counts against its queue. */
static void start(struct blk_req *r)
{
	r->b->q_inflight[r->q->index]++;
	submit(r);
}

/* Drop n transferred bytes from the front of the iovecs. */
static void advance(struct blk_req *r, uint64_t n)
{
	r->off += n;
	r->left -= n;
	while (n && r->first < r->niov) {
		struct iovec *v = &r->iov[r->first];

		if (n < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		r->first++;
	}
}

static void rw_done(struct blk_req *r, int res)
{
	struct blk_file *f = &r->b->file;

	/* O_DIRECT refuses buffers it cannot align: go through the cache. */
	if (res == -EINVAL && f->direct && r->fd == f->fd && !r->retried) {
		r->retried = true;
		r->fd = f->fd_buffered;
		submit(r);
		return;
	}
	if (res == -EAGAIN || res == -EINTR) {
		submit(r);
		return;
	}
	if (res <= 0) {
		fail_io(r, res);
		return;
	}
	advance(r, (uint64_t)res);
	if (r->left)
		submit(r);
	else
		finish(r, S_OK);
}

static void falloc_done(struct blk_req *r, int res)
{
	struct blk_file *f = &r->b->file;

	if (res == -EOPNOTSUPP && r->type == T_WRITE_ZEROES &&
	    (r->mode & FALLOC_FL_ZERO_RANGE) && f->can_punch) {
		/* A punched hole reads back as zeroes just the same. */
		f->can_zero = false;
		r->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		submit(r);
		return;
	}
	/* Discard is a hint: a file system that cannot is not an error. */
	if (res == -EOPNOTSUPP && r->type == T_DISCARD)
		res = 0;
	if (res < 0)
		fail_io(r, res);
	else
		finish(r, S_OK);
}

static void req_done(struct loop_op *op, int res, unsigned flags)
{
	struct blk_req *r = (struct blk_req *)op;
	struct blk *b = r->b;

	(void)flags;
	b->inflight--;
	if (b->stopping) {
		/* The driver reset the device: the chain is no longer ours. */
		free(r);
		blk_maybe_reset_done(b);
		blk_swap_maybe_done(b);
		return;
	}
	switch (r->type) {
	case T_IN:
	case T_OUT:
		rw_done(r, res);
		break;
	case T_FLUSH:
		if (res < 0)
			fail_io(r, res);
		else
			finish(r, S_OK);
		break;
	default:
		falloc_done(r, res);
		break;
	}
	blk_swap_maybe_done(b);
}

static struct blk_req *new_req(struct blk *b, struct virtio_queue *q,
			       uint16_t head, uint32_t type, uint8_t *status,
			       unsigned niov)
{
	struct blk_req *r = calloc(1, sizeof(*r) + niov * sizeof(r->iov[0]));

	if (!r)
		return NULL;
	r->b = b;
	r->q = q;
	r->head = head;
	r->type = type;
	r->status = status;
	r->fd = b->file.fd;
	return r;
}

static bool in_range(const struct blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t size = b->file.size;

	return sector <= size / BLK_SECTOR && bytes <= size - sector * BLK_SECTOR;
}

static bool aligned(const struct iovec *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (((uintptr_t)v[i].iov_base | v[i].iov_len) % BLK_SECTOR)
			return false;
	return true;
}

/* IN and OUT: the data is the chain between header and status. */
static void start_rw(struct blk *b, struct virtio_queue *q,
		     const struct virtq_chain *c, const struct iovec *iov,
		     uint32_t type, uint64_t sector, uint8_t *status)
{
	const struct iovec *src = type == T_IN ? iov + c->nr_out : iov;
	unsigned nsrc = type == T_IN ? c->nr_in : c->nr_out;
	size_t skip = type == T_IN ? 0 : HDR_LEN;
	uint64_t len = type == T_IN ? c->in_len - 1u : c->out_len - HDR_LEN;
	uint32_t used = type == T_IN ? (uint32_t)len + 1 : 1;
	struct blk_req *r;
	int n;

	if (type == T_OUT && b->file.readonly) {
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	/*
	 * Data on the wrong side (a read into readable buffers, a write
	 * from writable ones) is a broken request, not an empty one.
	 */
	if ((type == T_IN && c->out_len != HDR_LEN) ||
	    (type == T_OUT && c->in_len != 1)) {
		virtio_log(b->t, "queue %u: %s data in %s buffers; failed",
			   q->index, type == T_IN ? "read" : "write",
			   type == T_IN ? "readable" : "writable");
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	if (len % BLK_SECTOR || !in_range(b, sector, len)) {
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	if (len == 0) {
		answer(q, c->head, status, S_OK, used);
		return;
	}
	r = new_req(b, q, c->head, type, status, nsrc);
	if (!r) {
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	n = iov_slice(src, nsrc, skip, len, r->iov, nsrc);
	if (n <= 0) {
		free(r);
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	r->niov = (unsigned)n;
	r->off = sector * BLK_SECTOR;
	r->left = len;
	r->bytes = len;
	r->used_len = used;
	if (b->file.direct && !aligned(r->iov, r->niov))
		r->fd = b->file.fd_buffered;
	start(r);
}

static void start_falloc(struct blk *b, struct virtio_queue *q,
			 const struct virtq_chain *c, const struct iovec *iov,
			 uint32_t type, uint8_t *status)
{
	struct { uint64_t sector; uint32_t num; uint32_t flags; } seg;
	uint32_t allowed = type == T_WRITE_ZEROES ? WZ_UNMAP : 0;
	struct blk_req *r;

	if (b->file.readonly) {
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	/* One segment per request: max_*_seg is 1 in the config. */
	if (c->out_len != HDR_LEN + SEG_LEN) {
		answer(q, c->head, status, S_UNSUPP, 1);
		return;
	}
	iov_to_buf(iov, c->nr_out, HDR_LEN, &seg, sizeof(seg));
	if (seg.flags & ~allowed) {
		answer(q, c->head, status, S_UNSUPP, 1);
		return;
	}
	if (!in_range(b, seg.sector, (uint64_t)seg.num * BLK_SECTOR)) {
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	if (seg.num == 0) {
		answer(q, c->head, status, S_OK, 1);
		return;
	}
	r = new_req(b, q, c->head, type, status, 0);
	if (!r) {
		answer(q, c->head, status, S_IOERR, 1);
		return;
	}
	r->off = seg.sector * BLK_SECTOR;
	r->left = (uint64_t)seg.num * BLK_SECTOR;
	r->used_len = 1;
	if (type == T_WRITE_ZEROES && b->file.can_zero)
		r->mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
	else
		r->mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	start(r);
}

static void get_id(struct blk *b, struct virtio_queue *q,
		   const struct virtq_chain *c, const struct iovec *iov,
		   uint8_t *status)
{
	char id[ID_BYTES] = { 0 };
	size_t n = c->in_len - 1u < ID_BYTES ? c->in_len - 1u : ID_BYTES;
	size_t idlen = strnlen(b->id, ID_BYTES);

	/* Not NUL-terminated when it fills all 20 bytes (5.2.6). */
	memcpy(id, b->id, idlen);
	iov_from_buf(iov + c->nr_out, c->nr_in, 0, id, n);
	answer(q, c->head, status, S_OK, (uint32_t)n + 1);
}

uint64_t blk_req_read_hdr(const struct virtq_chain *c,
			  const struct iovec *iov, struct blk_req_hdr *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	if (c->out_len < HDR_LEN || c->in_len < 1)
		return 0;
	iov_to_buf(iov, c->nr_out, 0, hdr, sizeof(*hdr));
	/* The same lengths start_rw() moves. */
	if (hdr->type == T_IN)
		return c->in_len - 1u;
	if (hdr->type == T_OUT)
		return c->out_len - HDR_LEN;
	return 0;
}

void blk_req_start(struct blk *b, struct virtio_queue *q,
		   const struct virtq_chain *c, const struct iovec *iov,
		   const struct blk_req_hdr *hdr)
{
	const struct iovec *last;
	uint8_t *status;

	if (c->out_len < HDR_LEN || c->in_len < 1) {
		virtio_log(b->t, "queue %u: request without a header or a "
			   "status byte; failed", q->index);
		virtio_queue_complete(q, c->head, 0);
		return;
	}
	last = &iov[c->nr_out + c->nr_in - 1];
	status = (uint8_t *)last->iov_base + last->iov_len - 1;

	switch (hdr->type) {
	case T_IN:
	case T_OUT:
		start_rw(b, q, c, iov, hdr->type, hdr->sector, status);
		break;
	case T_FLUSH: {
		struct blk_req *r = new_req(b, q, c->head, T_FLUSH, status, 0);

		if (!r) {
			answer(q, c->head, status, S_IOERR, 1);
			break;
		}
		r->used_len = 1;
		start(r);
		break;
	}
	case T_GET_ID:
		get_id(b, q, c, iov, status);
		break;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		start_falloc(b, q, c, iov, hdr->type, status);
		break;
	default:
		answer(q, c->head, status, S_UNSUPP, 1);
		break;
	}
}
