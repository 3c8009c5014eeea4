#include "palloc.h"

#include "string.h"

#define MAX_RESERVED 8
#define LOW_LIMIT MIB /* below: BIOS area and the loader's structures */

struct range {
	uint64_t start, end;
};

static const struct bootinfo *info;
static struct range reserved[MAX_RESERVED];
static int nreserved;
static int region;     /* memory map index being carved */
static uint64_t next;  /* next free byte in that region */

void palloc_reserve(uint64_t addr, uint64_t size)
{
	if (nreserved < MAX_RESERVED && size) {
		reserved[nreserved].start = addr;
		reserved[nreserved].end = addr + size;
		nreserved++;
	}
}

void palloc_init(const struct bootinfo *bi)
{
	info = bi;
	nreserved = 0;
	region = 0;
	next = 0;
	palloc_reserve(bi->image_start, bi->image_end - bi->image_start);
	if (bi->has_initrd)
		palloc_reserve(bi->initrd_addr, bi->initrd_size);
}

static uint64_t align_up(uint64_t v)
{
	return (v + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
}

/* Moves start past any reserved range overlapping [start, start+len). */
static uint64_t skip_reserved(uint64_t start, uint64_t len)
{
	bool moved;

	do {
		moved = false;
		for (int i = 0; i < nreserved; i++) {
			if (start < reserved[i].end &&
			    reserved[i].start < start + len) {
				start = align_up(reserved[i].end);
				moved = true;
			}
		}
	} while (moved);
	return start;
}

void *palloc_pages(unsigned n)
{
	uint64_t len = (uint64_t)n * PAGE_SIZE;

	if (!info || !n)
		return NULL;
	for (; region < info->nmmap; region++, next = 0) {
		const struct bi_region *r = &info->mmap[region];
		if (r->type != E820_RAM)
			continue;
		uint64_t end = r->addr + r->size;
		if (end > 4 * GIB)
			end = 4 * GIB;
		uint64_t start = next > r->addr ? next : r->addr;
		if (start < LOW_LIMIT)
			start = LOW_LIMIT;
		start = skip_reserved(align_up(start), len);
		if (start < end && end - start >= len) {
			next = start + len;
			void *p = phys_ptr(start);
			memset(p, 0, (size_t)len);
			return p;
		}
	}
	return NULL;
}

void *palloc_page(void)
{
	return palloc_pages(1);
}

void *palloc_run(uint32_t max, uint32_t *got)
{
	*got = 0;
	if (!info || !max)
		return NULL;
	for (; region < info->nmmap; region++, next = 0) {
		const struct bi_region *r = &info->mmap[region];
		if (r->type != E820_RAM)
			continue;
		uint64_t end = r->addr + r->size;
		if (end > 4 * GIB)
			end = 4 * GIB;
		end &= ~(uint64_t)(PAGE_SIZE - 1);
		uint64_t start = next > r->addr ? next : r->addr;
		if (start < LOW_LIMIT)
			start = LOW_LIMIT;
		start = skip_reserved(align_up(start), PAGE_SIZE);
		if (start >= end)
			continue;
		/* The run stops where the next reserved range begins. */
		for (int i = 0; i < nreserved; i++)
			if (reserved[i].start > start && reserved[i].start < end)
				end = reserved[i].start &
				      ~(uint64_t)(PAGE_SIZE - 1);
		uint64_t n = (end - start) >> 12; /* no 64-bit division */
		if (n > max)
			n = max;
		next = start + n * PAGE_SIZE;
		*got = (uint32_t)n;
		return phys_ptr(start);
	}
	return NULL;
}
