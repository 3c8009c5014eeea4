/*
 * A bump allocator of 4 KiB pages from the RAM the memory map reports,
 * above 1 MiB and below 4 GiB, never touching this kernel's image or the
 * initrd. Pages are never freed: each guest runs one short test.
 */
#ifndef GUEST_PALLOC_H
#define GUEST_PALLOC_H

#include "bootinfo.h"

#define PAGE_SIZE 4096u

void palloc_init(const struct bootinfo *bi);
/* Keeps [addr, addr+size) out of future allocations. */
void palloc_reserve(uint64_t addr, uint64_t size);
/* n contiguous zeroed pages, or NULL when memory ran out. */
void *palloc_pages(unsigned n);
void *palloc_page(void);
/*
 * The longest run of free pages at the allocator's position, at most max
 * of them, NOT zeroed (taking all of RAM is for tests that write every
 * page themselves). *got = its length in pages. NULL once RAM ran out.
 */
void *palloc_run(uint32_t max, uint32_t *got);

#endif
