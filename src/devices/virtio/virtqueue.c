/*
 * Split virtqueues (virtio 1.2, 2.7), device side.
 *
 * The driver shares the rings with us and may be hostile, so:
 *  - every index read from guest memory is checked against the table it
 *    indexes before use;
 *  - each descriptor is copied out once and only the copy is trusted, so
 *    the guest cannot change it between the check and the use;
 *  - a walk visits at most as many descriptors as its table holds, which
 *    ends loops without remembering visited entries;
 *  - buffers become iovecs only through gm_ptr(), which refuses anything
 *    not wholly inside one RAM region.
 */
#include <errno.h>
#include <string.h>

#include "mvm/mem.h"
#include "mvm/mem_file.h"
#include "mvm/virtio.h"

/* Ring words live in guest memory shared with other CPUs. */
static inline uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#define AVAIL_FLAGS(vq) (&(vq)->avail[0])
#define AVAIL_IDX(vq) (&(vq)->avail[1])
#define AVAIL_RING(vq, i) (&(vq)->avail[2 + (i)])
#define AVAIL_USED_EVENT(vq) (&(vq)->avail[2 + (vq)->size])
#define USED_FLAGS(vq) (&(vq)->used[0])
#define USED_IDX(vq) (&(vq)->used[1])
#define USED_ELEM(vq, i) ((struct virtq_used_elem *)&(vq)->used[2] + (i))
#define USED_AVAIL_EVENT(vq) ((uint16_t *)USED_ELEM(vq, (vq)->size))

int virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
	       uint64_t desc, uint64_t avail, uint64_t used, uint64_t features,
	       const char **why)
{
	const char *dummy;
	bool event_idx = features & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	/* The trailing event words exist only with EVENT_IDX (2.7.6, 2.7.8). */
	uint64_t extra = event_idx ? 2 : 0;

	if (!why)
		why = &dummy;
	memset(vq, 0, sizeof(*vq));
	if (size == 0 || (size & (size - 1)) || size > VIRTQ_MAX_SIZE) {
		*why = "queue size is not a power of two up to 32768";
		return -EINVAL;
	}
	if ((desc & 15) || (avail & 1) || (used & 3)) {
		*why = "ring address misaligned";
		return -EINVAL;
	}
	vq->desc = gm_ptr(mem, desc, 16ULL * size);
	vq->avail = gm_ptr(mem, avail, 4 + 2ULL * size + extra);
	vq->used = gm_ptr(mem, used, 4 + 8ULL * size + extra);
	if (!vq->desc || !vq->avail || !vq->used) {
		*why = "ring outside guest RAM";
		memset(vq, 0, sizeof(*vq));
		return -EINVAL;
	}
	vq->mem = mem;
	vq->size = size;
	vq->event_idx = event_idx;
	vq->indirect = features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	return 0;
}

uint16_t virtq_pending(const struct virtq *vq)
{
	return (uint16_t)(load16(AVAIL_IDX(vq)) - vq->last_avail);
}

struct walk {
	struct virtq_chain *c;
	struct iovec *iov;
	unsigned cap, nseg;
	uint64_t total;
	bool seen_writable;
	bool mark_only; /* mark the writable buffers written; no iovecs */
};

static int chain_error(struct virtq_chain *c, const char *why)
{
	c->error = why;
	return -EBADMSG;
}

/* One plain (non-indirect) descriptor into the iovec array. */
static int add_buffer(struct virtq *vq, struct walk *w,
		      const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	/* 2.7.4.2: device-writable descriptors come after readable ones. */
	if (!writable && w->seen_writable)
		return chain_error(w->c, "readable descriptor after a "
				   "writable one");
	w->seen_writable |= writable;
	w->total += d->len;
	/* 2.7.5.2: no chain is longer than 2^32 bytes in total. */
	if (w->total > UINT32_MAX)
		return chain_error(w->c, "chain longer than 4 GiB");
	/*
	 * An empty buffer carries nothing, so its address is never used and
	 * not checked; it adds no iovec.
	 */
	if (d->len == 0)
		return 0;
	if (w->mark_only) {
		if (writable)
			gm_mark_written(vq->mem, d->addr, d->len);
		return 0;
	}
	p = gm_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return chain_error(w->c, "buffer outside guest RAM");
	if (w->nseg == w->cap)
		return chain_error(w->c, "too many segments in one chain");
	w->iov[w->nseg].iov_base = p;
	w->iov[w->nseg].iov_len = d->len;
	w->nseg++;
	if (writable) {
		w->c->nr_in++;
		w->c->in_len += d->len;
	} else {
		w->c->nr_out++;
		w->c->out_len += d->len;
	}
	return 0;
}

static int walk_chain(struct virtq *vq, struct walk *w, uint16_t head)
{
	const struct virtq_desc *table = vq->desc;
	uint32_t table_n = vq->size, idx = head, steps = 0;
	bool in_indirect = false;
	struct virtq_desc d;
	int ret;

	for (;;) {
		if (idx >= table_n)
			return chain_error(w->c, "next index out of range");
		/* More steps than entries means the chain revisits one. */
		if (++steps > table_n)
			return chain_error(w->c, "descriptor chain loops");
		memcpy(&d, &table[idx], sizeof(d));

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect)
				return chain_error(w->c, "indirect descriptor "
						   "without INDIRECT_DESC");
			if (in_indirect)
				return chain_error(w->c, "nested indirect "
						   "table");
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return chain_error(w->c, "indirect descriptor "
						   "with NEXT");
			if (d.len == 0 || d.len % sizeof(d) ||
			    d.len / sizeof(d) > VIRTQ_MAX_SIZE)
				return chain_error(w->c, "bad indirect table "
						   "length");
			table = gm_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return chain_error(w->c, "indirect table "
						   "outside guest RAM");
			/* The table's entries chain among themselves from 0. */
			table_n = d.len / sizeof(d);
			idx = 0;
			steps = 0;
			in_indirect = true;
			continue;
		}
		ret = add_buffer(vq, w, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c, struct iovec *iov,
	      unsigned iov_cap)
{
	struct walk w = { .c = c, .iov = iov, .cap = iov_cap };
	uint16_t avail_idx, head;

	memset(c, 0, sizeof(*c));
	if (!vq->size) {
		c->error = "queue not set up";
		return -EPROTO;
	}
	avail_idx = __atomic_load_n(AVAIL_IDX(vq), __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail)
		return 0;
	/* The driver can be at most a whole ring ahead of us. */
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		c->error = "available index ran more than a ring ahead";
		return -EPROTO;
	}
	head = load16(AVAIL_RING(vq, vq->last_avail & (vq->size - 1)));
	if (head >= vq->size) {
		c->error = "available ring entry out of range";
		return -EPROTO;
	}
	vq->last_avail++;
	c->head = head;
	/* Descriptor reads must not be hoisted above the avail_idx load. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (walk_chain(vq, &w, head)) {
		c->nr_in = c->nr_out = 0;
		c->in_len = c->out_len = 0;
		return -EBADMSG;
	}
	return 1;
}

int virtq_peek(struct virtq *vq, uint16_t skip, struct virtq_chain *c,
	       struct iovec *iov, unsigned iov_cap)
{
	uint16_t saved = vq->last_avail, pending;
	int ret;

	memset(c, 0, sizeof(*c));
	if (!vq->size)
		return 0;
	pending = virtq_pending(vq);
	/* A driver more than a ring ahead: pop refuses it before any walk. */
	if (pending > vq->size)
		skip = 0;
	else if (skip >= pending)
		return 0;
	/* The walk is pop's own; only where it starts and ends differs. */
	vq->last_avail = (uint16_t)(saved + skip);
	ret = virtq_pop(vq, c, iov, iov_cap);
	vq->last_avail = saved;
	return ret;
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail -= n;
}

/*
 * While dirty pages are tracked (a migration, a Diff snapshot), what the
 * device wrote must be marked after the writes: the buffers were marked
 * when popped, maybe a collect ago, and the used ring's pointer was
 * taken once, at virtq_init. A page missed here reaches the destination
 * stale: a completion the guest saw vanishes there, and its driver and
 * the device disagree on the ring for good.
 */
static void chain_written(struct virtq *vq, uint16_t head)
{
	struct virtq_chain c;
	struct walk w = { .c = &c, .mark_only = true };

	if (!gm_dirty_tracking(vq->mem) || head >= vq->size)
		return;
	/* The guest may have changed the chain since: marks stay in RAM. */
	walk_chain(vq, &w, head);
}

static void used_written(struct virtq *vq)
{
	gm_mark_written(vq->mem, vq->used_gpa,
			4 + 8ULL * vq->size + (vq->event_idx ? 2 : 0));
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct virtq_used_elem e = { .id = head, .len = len };

	chain_written(vq, head);
	memcpy(USED_ELEM(vq, vq->used_idx & (vq->size - 1)), &e, sizeof(e));
	vq->used_idx++;
}

void virtq_publish(struct virtq *vq)
{
	/* Elements must be visible before the index that covers them. */
	__atomic_store_n(USED_IDX(vq), vq->used_idx, __ATOMIC_RELEASE);
	used_written(vq);
}

bool virtq_need_interrupt(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, ev;
	bool valid = vq->signalled_valid;

	/*
	 * Full barrier: our used->idx store must be visible before we read
	 * the driver's used_event, or both sides could miss each other.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(AVAIL_FLAGS(vq)) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	ev = load16(AVAIL_USED_EVENT(vq));
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	return !valid || virtq_need_event(ev, vq->used_idx, old);
}

void virtq_notify_disable(struct virtq *vq)
{
	/* With EVENT_IDX a stale avail_event already keeps the driver quiet. */
	if (!vq->event_idx) {
		store16(USED_FLAGS(vq), VIRTQ_USED_F_NO_NOTIFY);
		used_written(vq);
	}
}

bool virtq_notify_enable(struct virtq *vq)
{
	/*
	 * With EVENT_IDX, ask for a kick on the next buffer the driver adds,
	 * not on the next we have not taken: a device that leaves buffers
	 * on the ring (too few for its request) must still hear of more.
	 */
	if (vq->event_idx)
		store16(USED_AVAIL_EVENT(vq), load16(AVAIL_IDX(vq)));
	else
		store16(USED_FLAGS(vq), 0);
	used_written(vq);
	/* Publish the request before re-checking, as for interrupts. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(AVAIL_IDX(vq)) != vq->last_avail;
}
