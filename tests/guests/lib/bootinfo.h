/*
 * What every boot protocol tells a kernel, in one form. Each protocol front
 * end copies its loader's data into this struct first thing, because the
 * loader's structures sit in low memory the guest later reuses.
 */
#ifndef GUEST_BOOTINFO_H
#define GUEST_BOOTINFO_H

#include "types.h"

#define BI_MMAP_MAX 64
#define BI_CMDLINE_MAX 2048

/* E820 region types, also used by multiboot and PVH. */
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_NVS 4
#define E820_UNUSABLE 5

struct bi_region {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct bootinfo {
	const char *proto; /* "multiboot", "bzimage", "pvh" */

	char cmdline[BI_CMDLINE_MAX];
	bool cmdline_truncated;

	struct bi_region mmap[BI_MMAP_MAX];
	int nmmap;
	bool mmap_truncated;

	/* Multiboot's mem_lower/mem_upper, in KiB. */
	bool has_meminfo;
	uint32_t mem_lower, mem_upper;

	bool has_initrd;
	uint64_t initrd_addr, initrd_size;

	uint64_t rsdp; /* 0: the protocol gave none; scan for it */

	/* This kernel's own image in memory, bss and stack included. */
	uint64_t image_start, image_end;
};

/* Copies a NUL-terminated string at physical pa, bounded by max bytes. */
void bi_set_cmdline(struct bootinfo *bi, uint64_t pa, uint32_t max);
void bi_add_region(struct bootinfo *bi, uint64_t addr, uint64_t size,
		   uint32_t type);
/* Fills image_start/image_end from the linker symbols. */
void bi_set_image(struct bootinfo *bi);
const char *e820_type_name(uint32_t type);

/* Implemented once per kernel: what it does with the boot information. */
NORETURN void guest_main(struct bootinfo *bi);

#endif
