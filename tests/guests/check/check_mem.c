/*
 * The memory map: well formed, RAM where a PC has it, about as much as the
 * host configured, and actually usable.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "checks.h"

/*
 * Default slack between mem= and the RAM the map reports. mvm reserves
 * 0x9FC00-0xFFFFF (385 KiB); SeaBIOS also keeps ~132 KiB at the top of RAM.
 * A host that knows the exact figure passes memtol= to tighten it.
 */
#define DEFAULT_MEMTOL_KIB 1024

static const struct bi_region *ram_at(const struct bootinfo *bi, uint64_t pa)
{
	for (int i = 0; i < bi->nmmap; i++) {
		const struct bi_region *r = &bi->mmap[i];
		if (r->type == E820_RAM && pa >= r->addr && pa - r->addr < r->size)
			return r;
	}
	return NULL;
}

/* RAM contiguous from pa on, merging touching RAM entries. */
static uint64_t ram_run(const struct bootinfo *bi, uint64_t pa)
{
	uint64_t end = pa;
	const struct bi_region *r;

	while ((r = ram_at(bi, end)) != NULL)
		end = r->addr + r->size;
	return end - pa;
}

void check_memmap(const struct bootinfo *bi)
{
	uint64_t total = 0;
	const char *bad = NULL;

	for (int i = 0; i < bi->nmmap; i++) {
		const struct bi_region *r = &bi->mmap[i];
		kprintf("mmap: 0x%llx-0x%llx %s\n", (unsigned long long)r->addr,
			(unsigned long long)(r->addr + r->size - 1),
			e820_type_name(r->type));
		if (r->type == E820_RAM)
			total += r->size;
		if (r->size == 0 || r->addr + r->size < r->addr)
			bad = "an empty or wrapping region";
		else if (i > 0 && r->addr < bi->mmap[i - 1].addr)
			bad = "regions not sorted";
		else if (i > 0 &&
			 r->addr < bi->mmap[i - 1].addr + bi->mmap[i - 1].size)
			bad = "regions overlap";
	}
	kprintf("memmap: %llu KiB RAM in %d regions\n",
		(unsigned long long)(total >> 10), bi->nmmap);
	if (!check_enabled(bi, "memmap"))
		return;
	if (bi->nmmap == 0) {
		fail("memmap", "no memory map");
		return;
	}
	if (bi->mmap_truncated)
		bad = "more regions than the guest can hold";
	if (bad) {
		fail("memmap", "%s", bad);
		return;
	}
	if (ram_run(bi, 0) < 512 * KIB) {
		fail("memmap", "no RAM at 0 (want at least 512 KiB)");
		return;
	}
	if (!ram_at(bi, MIB)) {
		fail("memmap", "no RAM at 1 MiB");
		return;
	}
	if (ram_at(bi, 0xa0000) || ram_at(bi, 0xf0000)) {
		fail("memmap", "the legacy VGA/BIOS hole is RAM");
		return;
	}
	if (!ram_at(bi, bi->image_start) || !ram_at(bi, bi->image_end - 1)) {
		fail("memmap", "the kernel image is not in RAM");
		return;
	}
	uint64_t mem_mib;
	if (cmdline_u64(bi->cmdline, "mem", &mem_mib) == 1) {
		uint64_t want = mem_mib << 20;
		uint64_t tol = cmdline_u64_or(bi->cmdline, "memtol",
					      DEFAULT_MEMTOL_KIB) << 10;
		if (total > want || total + tol < want) {
			fail("memmap", "%llu KiB RAM, want %llu KiB minus at most %llu KiB",
			     (unsigned long long)(total >> 10),
			     (unsigned long long)(want >> 10),
			     (unsigned long long)(tol >> 10));
			return;
		}
	}
	pass("memmap");
}

/* Multiboot's mem_lower/mem_upper must agree with its own memory map. */
void check_meminfo(const struct bootinfo *bi)
{
	if (!bi->has_meminfo) {
		if (strcmp(bi->proto, "multiboot") == 0 &&
		    check_enabled(bi, "meminfo"))
			fail("meminfo", "multiboot info has no mem_lower/mem_upper");
		return;
	}
	uint64_t low_kib = ram_run(bi, 0) >> 10;
	uint64_t up_kib = ram_run(bi, MIB) >> 10;
	uint64_t tol = cmdline_u64_or(bi->cmdline, "memtol", DEFAULT_MEMTOL_KIB);

	kprintf("meminfo: mem_lower=%u KiB mem_upper=%u KiB (map: %llu, %llu)\n",
		bi->mem_lower, bi->mem_upper, (unsigned long long)low_kib,
		(unsigned long long)up_kib);
	if (!check_enabled(bi, "meminfo"))
		return;
	/* Conventional memory ends at the EBDA (639 KiB) or at 640 KiB. */
	if (bi->mem_lower < low_kib || bi->mem_lower > 640)
		fail("meminfo", "mem_lower %u KiB, map says %llu KiB",
		     bi->mem_lower, (unsigned long long)low_kib);
	else if (bi->mem_upper + tol < up_kib || bi->mem_upper > up_kib + tol)
		fail("meminfo", "mem_upper %u KiB, map says %llu KiB",
		     bi->mem_upper, (unsigned long long)up_kib);
	else
		pass("meminfo");
}

/*
 * Write, read back and restore a word at the edges of each RAM region: the
 * map must not promise memory the VMM did not back. Restoring keeps the
 * probe harmless when it lands on the initrd.
 */
static bool probe(uint64_t pa)
{
	volatile uint32_t *p = phys_ptr(pa);
	uint32_t old = *p;
	bool ok;

	*p = 0x5a5aa5a5u ^ (uint32_t)pa;
	ok = *p == (0x5a5aa5a5u ^ (uint32_t)pa);
	*p = ~old;
	ok = ok && *p == ~old;
	*p = old;
	return ok;
}

void check_memprobe(const struct bootinfo *bi)
{
	int probes = 0;

	if (!check_enabled(bi, "memprobe") || bi->nmmap == 0)
		return;
	for (int i = 0; i < bi->nmmap; i++) {
		const struct bi_region *r = &bi->mmap[i];
		uint64_t first = r->addr, last = r->addr + r->size - 4;
		if (r->type != E820_RAM || r->size < 8)
			continue;
		/* Our own image is in use; probe past it. */
		if (first < bi->image_end && first + 4 > bi->image_start)
			first = bi->image_end;
		uint64_t at[2] = {first, last};
		for (int k = 0; k < 2; k++) {
			if (at[k] > last || !phys_reachable(at[k], 4))
				continue;
			probes++;
			if (!probe(at[k])) {
				fail("memprobe", "RAM at 0x%llx does not hold data",
				     (unsigned long long)at[k]);
				return;
			}
		}
	}
	check("memprobe", probes > 0, "no RAM below 4 GiB to probe");
}

/* The page allocator hands out RAM that nothing else uses. */
void check_palloc(const struct bootinfo *bi)
{
	if (!check_enabled(bi, "palloc") || bi->nmmap == 0)
		return;
	palloc_init(bi);
	uint8_t *a = palloc_page(), *b = palloc_pages(2);
	if (!a || !b) {
		fail("palloc", "out of memory");
		return;
	}
	uint64_t pa = (uintptr_t)a, pb = (uintptr_t)b;
	kprintf("palloc: 0x%llx 0x%llx\n", (unsigned long long)pa,
		(unsigned long long)pb);
	if ((pa | pb) & (PAGE_SIZE - 1) || pa == pb)
		fail("palloc", "pages not distinct and aligned");
	else if (!ram_at(bi, pa) || !ram_at(bi, pb + 2 * PAGE_SIZE - 1))
		fail("palloc", "page outside RAM");
	else if ((pa < bi->image_end && pa + PAGE_SIZE > bi->image_start) ||
		 (bi->has_initrd && pa < bi->initrd_addr + bi->initrd_size &&
		  pa + PAGE_SIZE > bi->initrd_addr))
		fail("palloc", "page overlaps the image or the initrd");
	else if (a[0] != 0 || b[2 * PAGE_SIZE - 1] != 0)
		fail("palloc", "page not zeroed");
	else
		pass("palloc");
}
