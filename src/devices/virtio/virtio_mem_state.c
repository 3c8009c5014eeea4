/*
 * virtio-mem's part of a device snapshot: which blocks are plugged and
 * the size the host asked for. The blocks' contents are guest RAM, saved
 * in the memory file with the rest (the region is one of its regions;
 * unplugged blocks are holes there). A blob is refused unless it was
 * taken from a device of the same region, block size and block count, and
 * its counts agree with its bitmap: a restored guest must find exactly
 * the blocks it had plugged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/virtio_dev.h"

#include "virtio_mem.h"

#define VMEM_STATE_MAGIC 0x314d454du /* "MEM1" */
#define WORD_BITS (8 * sizeof(unsigned long))

struct vmem_saved {
	uint32_t magic;
	uint32_t pad;
	uint64_t addr, block_size, nr;
	uint64_t usable, plugged, requested;
	/* then vmem_bitmap_words(nr) words of the bitmap */
};

size_t vmem_save(void *dev, void *buf, size_t cap)
{
	const struct vmem *m = dev;
	const struct vmem_blocks *b = &m->b;
	size_t bm = vmem_bitmap_words(b->nr) * sizeof(unsigned long);
	struct vmem_saved s = {
		.magic = VMEM_STATE_MAGIC,
		.addr = b->addr, .block_size = b->block_size, .nr = b->nr,
		.usable = b->usable, .plugged = b->plugged,
		.requested = b->requested,
	};

	if (cap < sizeof(s) + bm)
		return 0;
	memcpy(buf, &s, sizeof(s));
	memcpy((uint8_t *)buf + sizeof(s), b->bm, bm);
	return sizeof(s) + bm;
}

/* Blocks set in bm, and whether any bit lies past nr. */
static uint64_t popcount(const unsigned long *bm, uint64_t nr, bool *stray)
{
	size_t words = vmem_bitmap_words(nr);
	uint64_t c = 0;

	*stray = false;
	for (size_t w = 0; w < words; w++)
		c += (uint64_t)__builtin_popcountl(bm[w]);
	if (nr % WORD_BITS)
		*stray = bm[words - 1] >> (nr % WORD_BITS) != 0;
	return c;
}

/* Every value of s against this device's region and itself. */
static bool fits(const struct vmem_blocks *b, const struct vmem_saved *s,
		 const unsigned long *bm)
{
	bool stray;

	if (s->magic != VMEM_STATE_MAGIC || s->addr != b->addr ||
	    s->block_size != b->block_size || s->nr != b->nr)
		return false;
	if (s->usable > s->nr || s->requested > s->nr || s->plugged > s->nr)
		return false;
	if (popcount(bm, s->nr, &stray) != s->plugged || stray)
		return false;
	/* Plugged blocks all lie in the usable part. */
	for (uint64_t i = s->usable; i < s->nr; i++)
		if (bm[i / WORD_BITS] >> (i % WORD_BITS) & 1)
			return false;
	return true;
}

int vmem_load(void *dev, const void *buf, size_t len)
{
	struct vmem *m = dev;
	struct vmem_blocks *b = &m->b;
	size_t bm = vmem_bitmap_words(b->nr) * sizeof(unsigned long);
	unsigned long *copy;
	struct vmem_saved s;
	bool ok;

	if (len != sizeof(s) + bm)
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	/* Checked in a copy (buf has no alignment promise): a refused blob
	 * leaves the device as it was. */
	copy = malloc(bm);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, (const uint8_t *)buf + sizeof(s), bm);
	ok = fits(b, &s, copy);
	if (ok)
		memcpy(b->bm, copy, bm);
	free(copy);
	if (!ok)
		return -EINVAL;
	b->usable = s.usable;
	b->plugged = s.plugged;
	b->requested = s.requested;
	virtio_config_begin(m->t);
	vmem_config_update(m);
	virtio_config_end(m->t, false);
	return 0;
}
