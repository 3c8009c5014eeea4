/*
 * The VMM's own dirty log: KVM logs what the guest writes, not what mvm's
 * devices write into guest RAM on its behalf (virtqueue rings, disk
 * reads, received frames). Those all go through gm_ptr(), which marks the
 * pages here once tracking is on. Devices run on the loop thread and
 * vCPU threads reach gm_ptr through MMIO handlers, so the bits are set
 * atomically.
 */
#include <stdlib.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

#define WORD_BITS 64u

uint64_t gm_dirty_bitmap_bytes(uint64_t region_size)
{
	uint64_t pages = (region_size + GM_PAGE - 1) / GM_PAGE;

	return (pages + WORD_BITS - 1) / WORD_BITS * sizeof(unsigned long);
}

int gm_dirty_track(struct guest_mem *gm, struct mvm_err *err)
{
	_Static_assert(sizeof(unsigned long) * 8 == WORD_BITS, "64-bit words");

	for (int i = 0; i < gm->nr; i++) {
		struct mem_region *r = &gm->r[i];

		if (r->dirty)
			continue;
		r->dirty = calloc(1, gm_dirty_bitmap_bytes(r->size));
		if (!r->dirty)
			return mvm_fail(err, -ENOMEM, "memory: no memory for "
					"the dirty page bitmap of region %d", i);
	}
	return 0;
}

bool gm_dirty_tracking(const struct guest_mem *gm)
{
	return gm->nr > 0 && gm->r[0].dirty != NULL;
}

/* A word's bits lo..hi (inclusive). */
static unsigned long bits(unsigned lo, unsigned hi)
{
	unsigned long upto_hi = hi == WORD_BITS - 1 ? ~0UL :
						       (1UL << (hi + 1)) - 1;

	return upto_hi & ~((1UL << lo) - 1);
}

void gm_dirty_mark(atomic_ulong *bm, uint64_t first, uint64_t last)
{
	uint64_t w = first / WORD_BITS, w_last = last / WORD_BITS;

	/* A word at a time: a 1 MiB range is 4 words, not 256 bits. */
	for (; w <= w_last; w++) {
		unsigned lo = w == first / WORD_BITS ? first % WORD_BITS : 0;
		unsigned hi = w == w_last ? last % WORD_BITS : WORD_BITS - 1;
		unsigned long m = bits(lo, hi);

		/* Most ranges land on pages already marked: no locked op. */
		if ((atomic_load_explicit(&bm[w], memory_order_relaxed) & m) !=
		    m)
			atomic_fetch_or_explicit(&bm[w], m,
						 memory_order_relaxed);
	}
}

void gm_dirty_take(const struct guest_mem *gm, int i, unsigned long *out)
{
	const struct mem_region *r;
	uint64_t words;

	if (i < 0 || i >= gm->nr || !gm->r[i].dirty)
		return;
	r = &gm->r[i];
	words = gm_dirty_bitmap_bytes(r->size) / sizeof(long);
	for (uint64_t w = 0; w < words; w++) {
		/* Skip the exchange on clean words: most of a big bitmap. */
		if (atomic_load_explicit(&r->dirty[w], memory_order_relaxed))
			out[w] |= atomic_exchange_explicit(
				&r->dirty[w], 0, memory_order_relaxed);
	}
}
