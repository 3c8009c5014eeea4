/*
 * The balloon's inflate and deflate queues (virtio 1.2, 5.5.6.1): each
 * chain is an array of le32 page frame numbers, 4 KiB pages. Inflated
 * pages go back to the host (gm_discard), runs of consecutive ones in one
 * call. Without MUST_TELL_HOST they go at once, and deflated pages need
 * nothing: the driver may touch them before it says so, and the next
 * touch faults a fresh page in. With it, the pages of a whole 2 MiB frame
 * wait until the frame is whole (balloon_pend.c), and a deflate takes its
 * pages out of those that wait before it is acknowledged. Every PFN is
 * the guest's word: one outside RAM is logged and skipped, and the chain
 * is completed all the same.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/mem.h"

#include "balloon_dev.h"

#define PAGE (1ull << BALLOON_PAGE_SHIFT)

/* The chain's PFNs into b->pfns: how many, or -1 for a malformed chain. */
static int read_pfns(struct balloon *b, struct virtio_queue *q,
		     const struct virtq_chain *c)
{
	uint32_t n = c->out_len / 4;

	if (c->nr_in || c->out_len % 4 || n > BALLOON_MAX_PFNS) {
		virtio_log(b->t, "queue %u: a chain of %u readable and %u "
			   "writable bytes is not an array of at most %u "
			   "PFNs; ignored", q->index, c->out_len, c->in_len,
			   BALLOON_MAX_PFNS);
		return -1;
	}
	iov_to_buf(b->iov, c->nr_out, 0, b->pfns, c->out_len);
	for (uint32_t i = 0; i < n; i++)
		b->pfns[i] = le32toh(b->pfns[i]);
	return (int)n;
}

/* One page at a time: a run that spans two regions ends up here. */
static void discard_pages(struct balloon *b, uint64_t gpa, uint64_t len)
{
	struct mvm_err err;

	for (uint64_t at = gpa; at < gpa + len; at += PAGE) {
		if (gm_discard(b->ctx->mem, at, PAGE, &err)) {
			virtio_log(b->t, "inflate: %s", err.msg);
			virtio_count(b->t, VIRTIO_CTR_FAIL_COUNT, 1);
			continue;
		}
		virtio_count(b->t, VIRTIO_CTR_INFLATE_PAGES, 1);
	}
}

void balloon_give_back(struct balloon *b, uint64_t gpa, uint64_t len)
{
	if (!len)
		return;
	if (gm_discard(b->ctx->mem, gpa, len, NULL)) {
		discard_pages(b, gpa, len);
		return;
	}
	virtio_count(b->t, VIRTIO_CTR_INFLATE_PAGES, len / PAGE);
}

static bool pfn_in_ram(struct balloon *b, uint64_t gpa)
{
	if (gm_is_ram(b->ctx->mem, gpa, PAGE))
		return true;
	virtio_log(b->t, "inflate: PFN %#llx is not guest RAM; skipped",
		   (unsigned long long)(gpa >> BALLOON_PAGE_SHIFT));
	virtio_count(b->t, VIRTIO_CTR_FAIL_COUNT, 1);
	return false;
}

static int pfn_order(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void inflate_pfns(struct balloon *b, unsigned n)
{
	bool defer = virtio_has(b->t, BALLOON_F_MUST_TELL_HOST);
	uint64_t start = 0, len = 0;

	/*
	 * Linux hands its pages over in the reverse of the order it took
	 * them, so neighbours come downwards: in order, they are runs, each
	 * given back in one call instead of a call (and a KVM MMU
	 * invalidation) a page.
	 */
	qsort(b->pfns, n, sizeof(b->pfns[0]), pfn_order);

	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = (uint64_t)b->pfns[i] << BALLOON_PAGE_SHIFT;
		/* Now, or held for its frame (then it ends a run). */
		bool now = pfn_in_ram(b, gpa) &&
			   !(defer && balloon_pend_page(b, gpa));

		if (now && len && gpa == start + len) {
			len += PAGE;
			continue;
		}
		balloon_give_back(b, start, len);
		start = gpa;
		len = now ? PAGE : 0;
	}
	balloon_give_back(b, start, len);
}

/* A deflate's pages: none may go back to the host once it is used. */
static void deflate_pfns(struct balloon *b, unsigned n)
{
	if (virtio_has(b->t, BALLOON_F_MUST_TELL_HOST))
		for (unsigned i = 0; i < n; i++)
			balloon_pend_unpage(b, (uint64_t)b->pfns[i] <<
					    BALLOON_PAGE_SHIFT);
	virtio_count(b->t, VIRTIO_CTR_DEFLATE_PAGES, n);
}

static void drain(struct balloon *b, struct virtio_queue *q, bool inflate)
{
	struct virtq_chain c;
	int n;

	do {
		virtio_queue_notify_disable(q);
		while (virtio_queue_pop(q, &c, b->iov, VIRTQ_MAX_SEGS) > 0) {
			n = read_pfns(b, q, &c);
			virtio_count(b->t, inflate ? VIRTIO_CTR_INFLATE_COUNT :
					   VIRTIO_CTR_DEFLATE_COUNT, 1);
			if (n > 0 && inflate)
				inflate_pfns(b, (unsigned)n);
			else if (n > 0)
				deflate_pfns(b, (unsigned)n);
			virtio_queue_complete(q, c.head, 0);
		}
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
	if (inflate)
		balloon_pend_quiet(b);
}

void balloon_inflate(struct balloon *b, struct virtio_queue *q)
{
	drain(b, q, true);
}

void balloon_deflate(struct balloon *b, struct virtio_queue *q)
{
	drain(b, q, false);
}
