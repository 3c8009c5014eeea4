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

#endif
