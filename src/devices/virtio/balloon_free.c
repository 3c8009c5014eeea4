/*
 * Free pages the driver tells the device about, which go back to the host
 * (gm_discard), from two queues (virtio 1.2, 5.5.6.4 and 5.5.6.6):
 *
 * - Free page hinting, a run the host starts: it writes a new command id
 *   into the config space; the driver sends that id (a 4-byte readable
 *   buffer), then its free pages as writable buffers, then STOP. Hints
 *   count only while the driver's id is the host's current run. The
 *   driver keeps the hinted pages until the host writes DONE (at once on
 *   STOP with acknowledge_on_stop, else when the API says so).
 * - Free page reporting, the driver's own: chains of writable buffers,
 *   each a free range, which it uses again once the chain is used.
 *
 * A range is the guest's word: it was checked to lie in RAM when the
 * chain was taken, and only the whole 4 KiB pages inside it go back.
 *
 * These go back at once, never held for their 2 MiB frame as inflated
 * pages are (balloon_pend.c): the driver uses a reported range again as
 * soon as its chain is used, and hinted ones at DONE, without telling the
 * device, so nothing may go back later. Nor is there a need: Linux reports
 * free blocks of a pageblock (2 MiB) or more and hints blocks of its
 * largest order, whole frames already, which split no huge page.
 */
#include <endian.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/mem.h"

#include "balloon_dev.h"

#define PAGE (1ull << BALLOON_PAGE_SHIFT)

/* The guest address of host memory p, which a chain's iovec points to. */
static bool gpa_of(const struct guest_mem *gm, const void *p, uint64_t *gpa)
{
	const uint8_t *b = p;

	for (int i = 0; i < gm->nr; i++) {
		const struct mem_region *r = &gm->r[i];

		if (b >= r->hva && b < r->hva + r->size) {
			*gpa = r->gpa + (uint64_t)(b - r->hva);
			return true;
		}
	}
	return false;
}

/* Give back the whole pages of one buffer; the bytes that went. */
static uint64_t give_back(struct balloon *b, const struct iovec *v)
{
	uint64_t gpa, start, end;
	struct mvm_err err;

	if (!v->iov_len || !gpa_of(b->ctx->mem, v->iov_base, &gpa))
		return 0;
	start = (gpa + PAGE - 1) & ~(PAGE - 1);
	end = (gpa + v->iov_len) & ~(PAGE - 1);
	if (end <= start)
		return 0;
	if (gm_discard(b->ctx->mem, start, end - start, &err)) {
		virtio_log(b->t, "free pages: %s", err.msg);
		virtio_count(b->t, VIRTIO_CTR_FAIL_COUNT, 1);
		return 0;
	}
	return end - start;
}

static uint64_t give_back_all(struct balloon *b, const struct virtq_chain *c)
{
	uint64_t n = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in; i++)
		n += give_back(b, &b->iov[i]);
	return n;
}

/* The driver's command id in a readable buffer: STOP ends its run. */
static bool hint_command(struct balloon *b, struct virtio_queue *q,
			 const struct virtq_chain *c)
{
	uint32_t cmd;

	if (!c->nr_out)
		return false;
	if (c->out_len != sizeof(cmd)) {
		virtio_log(b->t, "queue %u: a command of %u bytes, not 4; "
			   "ignored", q->index, c->out_len);
		return false;
	}
	iov_to_buf(b->iov, c->nr_out, 0, &cmd, sizeof(cmd));
	b->hint_guest = le32toh(cmd);
	b->hint_guest_seen = true;
	return b->hint_guest == BALLOON_HINT_STOP ||
	       b->hint_guest == BALLOON_HINT_DONE;
}

/* The host's command id now: a run's (above DONE), STOP or DONE. */
static uint32_t host_cmd(struct balloon *b)
{
	uint32_t cmd;

	virtio_config_begin(b->t);
	cmd = b->hint_cmd;
	virtio_config_end(b->t, false);
	return cmd;
}

/* Hints count while the driver answers the host's current run. */
static bool hinting_now(struct balloon *b)
{
	uint32_t host = host_cmd(b);

	return host > BALLOON_HINT_DONE && b->hint_guest_seen &&
	       b->hint_guest == host;
}

void balloon_hint(struct balloon *b, struct virtio_queue *q)
{
	struct virtq_chain c;
	bool stopped = false;

	do {
		virtio_queue_notify_disable(q);
		while (virtio_queue_pop(q, &c, b->iov, VIRTQ_MAX_SEGS) > 0) {
			if (hint_command(b, q, &c))
				stopped = true;
			if (c.nr_in && hinting_now(b))
				virtio_count(b->t, VIRTIO_CTR_HINT_BYTES,
					     give_back_all(b, &c));
			virtio_queue_complete(q, c.head, 0);
		}
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
	if (stopped && b->hint_ack_on_stop &&
	    host_cmd(b) > BALLOON_HINT_DONE)
		balloon_hint_cmd(b, BALLOON_HINT_DONE);
}

void balloon_report(struct balloon *b, struct virtio_queue *q)
{
	struct virtq_chain c;

	do {
		virtio_queue_notify_disable(q);
		while (virtio_queue_pop(q, &c, b->iov, VIRTQ_MAX_SEGS) > 0) {
			virtio_count(b->t, VIRTIO_CTR_REPORT_BYTES,
				     give_back_all(b, &c));
			virtio_queue_complete(q, c.head, 0);
		}
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
}
