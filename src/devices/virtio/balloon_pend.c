/*
 * Inflated pages held back until their 2 MiB frame is whole, with
 * MUST_TELL_HOST negotiated (balloon_pages.c decides). Guest RAM is on
 * transparent huge pages: giving back part of one makes the host split
 * it, and every later 4 KiB touch of the rest (Linux zeroes each page it
 * allocates for the balloon) then costs a page fault of its own. So a
 * page of a whole, 2 MiB-aligned frame of a region waits here, in a
 * bitmap over the region's frames (made on first use), and its frame goes
 * back in one piece once all its 512 pages are inflated. What is still
 * waiting goes back page runs at a time (balloon_pend_flush) when the
 * driver's actual reaches the target, when the inflate goes quiet, and at
 * a pause.
 *
 * Safe only because the driver must tell the device before it reuses a
 * page (virtio 1.2, 5.5.6.1, MUST_TELL_HOST): a deflate takes its pages
 * out of the set before it is acknowledged, so nothing the guest uses
 * again is ever given back later. After a reset the driver no longer
 * holds anything and may use every page without a word: the set is
 * forgotten, not given back (balloon_pend_forget).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem.h"

#include "balloon_dev.h"

#define PAGE (1ull << BALLOON_PAGE_SHIFT)
#define FRAME (PAGE * BALLOON_FRAME_PAGES)
#define WORDS_PER_FRAME (BALLOON_FRAME_PAGES / 64)
/* No inflate chain for this long: what waits goes back. */
#define QUIET_NS 500000000ull

/* Bitmaps for region i as it is now, or false (no whole frame, ENOMEM). */
static bool pend_region_ready(struct balloon *b, int i)
{
	const struct mem_region *r = &b->ctx->mem->r[i];
	struct balloon_pend_region *p = &b->pend.r[i];
	uint64_t first = (r->gpa + FRAME - 1) & ~(FRAME - 1);
	uint64_t end = (r->gpa + r->size) & ~(FRAME - 1);

	if (p->frames)
		return p->gpa == r->gpa && p->size == r->size;
	if (end <= first)
		return false;
	p->frames = (end - first) / FRAME;
	p->bits = calloc(p->frames * WORDS_PER_FRAME, sizeof(uint64_t));
	p->fill = calloc(p->frames, sizeof(uint16_t));
	if (!p->bits || !p->fill) {
		free(p->bits);
		free(p->fill);
		memset(p, 0, sizeof(*p));
		virtio_log(b->t, "inflate: no memory for the pending pages' "
			   "bitmap; pages go back one by one");
		return false;
	}
	p->first = first;
	p->gpa = r->gpa;
	p->size = r->size;
	return true;
}

/*
 * The region, frame and page index in it of gpa, if gpa lies in a whole
 * frame of a region whose bitmap is ready; else false.
 */
static bool pend_locate(struct balloon *b, uint64_t gpa,
			struct balloon_pend_region **out, uint64_t *frame,
			unsigned *page)
{
	const struct guest_mem *gm = b->ctx->mem;

	for (int i = 0; i < gm->nr && i < MEM_MAX_REGIONS; i++) {
		const struct mem_region *r = &gm->r[i];
		struct balloon_pend_region *p = &b->pend.r[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (!pend_region_ready(b, i) || gpa < p->first ||
		    (gpa - p->first) / FRAME >= p->frames)
			return false;
		*out = p;
		*frame = (gpa - p->first) / FRAME;
		*page = (unsigned)((gpa - p->first) % FRAME / PAGE);
		return true;
	}
	return false;
}

static uint64_t *frame_bits(struct balloon_pend_region *p, uint64_t frame)
{
	return p->bits + frame * WORDS_PER_FRAME;
}

/* Give back the pages of one frame that wait, runs at a time. */
static void flush_frame(struct balloon *b, struct balloon_pend_region *p,
			uint64_t frame)
{
	uint64_t *w = frame_bits(p, frame);
	uint64_t base = p->first + frame * FRAME;
	unsigned i = 0, start;

	while (i < BALLOON_FRAME_PAGES) {
		while (i < BALLOON_FRAME_PAGES && !(w[i / 64] >> (i % 64) & 1))
			i++;
		start = i;
		while (i < BALLOON_FRAME_PAGES && (w[i / 64] >> (i % 64) & 1))
			i++;
		if (i > start)
			balloon_give_back(b, base + start * PAGE,
					  (i - start) * PAGE);
	}
	memset(w, 0, WORDS_PER_FRAME * sizeof(*w));
	b->pend.count -= p->fill[frame];
	p->fill[frame] = 0;
}

bool balloon_pend_page(struct balloon *b, uint64_t gpa)
{
	struct balloon_pend_region *p;
	uint64_t frame, *w;
	unsigned pg;

	if (!pend_locate(b, gpa, &p, &frame, &pg))
		return false;
	w = frame_bits(p, frame);
	if (w[pg / 64] >> (pg % 64) & 1)
		return true; /* inflated twice: the driver's mistake */
	w[pg / 64] |= 1ull << (pg % 64);
	p->fill[frame]++;
	b->pend.count++;
	/* Whole: one call, and the host never splits the huge page. */
	if (p->fill[frame] == BALLOON_FRAME_PAGES) {
		memset(w, 0, WORDS_PER_FRAME * sizeof(*w));
		p->fill[frame] = 0;
		b->pend.count -= BALLOON_FRAME_PAGES;
		balloon_give_back(b, p->first + frame * FRAME, FRAME);
	}
	return true;
}

void balloon_pend_unpage(struct balloon *b, uint64_t gpa)
{
	struct balloon_pend_region *p;
	uint64_t frame, *w;
	unsigned pg;

	if (!b->pend.count || !pend_locate(b, gpa, &p, &frame, &pg))
		return;
	w = frame_bits(p, frame);
	if (!(w[pg / 64] >> (pg % 64) & 1))
		return; /* given back already, or never inflated */
	w[pg / 64] &= ~(1ull << (pg % 64));
	p->fill[frame]--;
	b->pend.count--;
}

void balloon_pend_flush(struct balloon *b)
{
	for (int i = 0; i < MEM_MAX_REGIONS && b->pend.count; i++) {
		struct balloon_pend_region *p = &b->pend.r[i];

		for (uint64_t f = 0; f < p->frames && b->pend.count; f++)
			if (p->fill[f])
				flush_frame(b, p, f);
	}
}

void balloon_pend_forget(struct balloon *b)
{
	for (int i = 0; i < MEM_MAX_REGIONS; i++) {
		struct balloon_pend_region *p = &b->pend.r[i];

		if (!p->frames)
			continue;
		memset(p->bits, 0, p->frames * WORDS_PER_FRAME *
		       sizeof(uint64_t));
		memset(p->fill, 0, p->frames * sizeof(uint16_t));
	}
	b->pend.count = 0;
	balloon_pend_arm(b, 0);
}

void balloon_pend_settle(struct balloon *b)
{
	bool reached;

	if (!b->pend.count)
		return;
	virtio_config_begin(b->t);
	reached = b->actual >= b->num_pages;
	virtio_config_end(b->t, false);
	if (reached)
		balloon_pend_flush(b);
}

void balloon_pend_arm(struct balloon *b, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(ns / 1000000000ull),
			      .tv_nsec = (long)(ns % 1000000000ull) },
	};

	if (b->pend.timer_fd >= 0)
		timerfd_settime(b->pend.timer_fd, 0, &its, NULL);
}

void balloon_pend_quiet(struct balloon *b)
{
	if (b->pend.count)
		balloon_pend_arm(b, QUIET_NS);
}

static void on_timer(void *ctx)
{
	struct balloon *b = ctx;
	uint64_t n;

	if (read(b->pend.timer_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: a re-arm cleared it meanwhile. */
	}
	/* Paused: the pause gave everything back; nothing new came since. */
	balloon_pend_flush(b);
}

void balloon_pend_kick(struct balloon *b)
{
	uint64_t one = 1;

	/* EAGAIN only with 2^64 - 2 kicks unread: the loop has one already. */
	if (write(b->pend.kick_fd, &one, sizeof(one)) < 0) {
	}
}

static void on_kick(void *ctx)
{
	struct balloon *b = ctx;
	uint64_t n;

	if (read(b->pend.kick_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing new. */
	}
	balloon_pend_settle(b);
}

int balloon_pend_init(struct balloon *b, struct mvm_err *err)
{
	b->pend.timer_fd = timerfd_create(CLOCK_MONOTONIC,
					  TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->pend.timer_fd < 0)
		return mvm_fail_host(err, -errno, "balloon: timerfd: %s",
				     strerror(errno));
	b->pend.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->pend.kick_fd < 0)
		return mvm_fail_host(err, -errno, "balloon: eventfd: %s",
				     strerror(errno));
	if (loop_watch_add(b->ctx->loop, &b->pend.watch, b->pend.timer_fd,
			   on_timer, b))
		return mvm_fail(err, -EBUSY, "balloon: event loop full");
	b->pend.watched = true;
	if (loop_watch_add(b->ctx->loop, &b->pend.kick_watch, b->pend.kick_fd,
			   on_kick, b))
		return mvm_fail(err, -EBUSY, "balloon: event loop full");
	b->pend.kick_watched = true;
	return 0;
}

void balloon_pend_fini(struct balloon *b)
{
	if (b->pend.watched)
		loop_watch_cancel(&b->pend.watch);
	if (b->pend.kick_watched)
		loop_watch_cancel(&b->pend.kick_watch);
	b->pend.watched = b->pend.kick_watched = false;
	if (b->pend.timer_fd >= 0)
		close(b->pend.timer_fd);
	if (b->pend.kick_fd >= 0)
		close(b->pend.kick_fd);
	b->pend.timer_fd = b->pend.kick_fd = -1;
	for (int i = 0; i < MEM_MAX_REGIONS; i++) {
		free(b->pend.r[i].bits);
		free(b->pend.r[i].fill);
		memset(&b->pend.r[i], 0, sizeof(b->pend.r[i]));
	}
	b->pend.count = 0;
}
