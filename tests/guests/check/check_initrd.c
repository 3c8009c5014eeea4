/* The initrd is where the loader said, with the length and CRC the host expects. */
#include "../lib/cmdline.h"
#include "../lib/crc32.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "checks.h"

static bool in_ram(const struct bootinfo *bi, uint64_t addr, uint64_t size)
{
	for (int i = 0; i < bi->nmmap; i++) {
		const struct bi_region *r = &bi->mmap[i];
		if (r->type == E820_RAM && addr >= r->addr &&
		    addr + size <= r->addr + r->size)
			return true;
	}
	return false;
}

void check_initrd(const struct bootinfo *bi)
{
	uint64_t want_len = 0, want_crc = 0;
	int has_len = cmdline_u64(bi->cmdline, "initrd_len", &want_len);
	int has_crc = cmdline_u64(bi->cmdline, "initrd_crc", &want_crc);

	if (bi->has_initrd)
		kprintf("initrd: 0x%llx, %llu bytes\n",
			(unsigned long long)bi->initrd_addr,
			(unsigned long long)bi->initrd_size);
	else
		kprintf("initrd: none\n");
	if ((has_len <= 0 && has_crc <= 0) || !check_enabled(bi, "initrd"))
		return;
	if (has_len < 0 || has_crc < 0) {
		fail("initrd", "initrd_len/initrd_crc malformed");
		return;
	}
	if (!bi->has_initrd) {
		check("initrd", has_len > 0 && want_len == 0, "no initrd");
		return;
	}
	if (has_len > 0 && bi->initrd_size != want_len) {
		fail("initrd", "length %llu, want %llu",
		     (unsigned long long)bi->initrd_size,
		     (unsigned long long)want_len);
		return;
	}
	if (!phys_reachable(bi->initrd_addr, bi->initrd_size)) {
		fail("initrd", "above 4 GiB");
		return;
	}
	if (bi->nmmap && !in_ram(bi, bi->initrd_addr, bi->initrd_size)) {
		fail("initrd", "not inside a RAM region of the memory map");
		return;
	}
	/* Multiboot: our header asked for page-aligned modules. */
	if (strcmp(bi->proto, "multiboot") == 0 && (bi->initrd_addr & 0xfff)) {
		fail("initrd", "module not page-aligned");
		return;
	}
	if (bi->initrd_addr < bi->image_end &&
	    bi->image_start < bi->initrd_addr + bi->initrd_size) {
		fail("initrd", "overlaps the kernel image");
		return;
	}
	if (has_crc > 0) {
		uint32_t crc = crc32_update(0, phys_ptr(bi->initrd_addr),
					    (size_t)bi->initrd_size);
		kprintf("initrd: crc32 0x%08x\n", crc);
		if (crc != (uint32_t)want_crc) {
			fail("initrd", "crc32 0x%08x, want 0x%08x", crc,
			     (uint32_t)want_crc);
			return;
		}
	}
	pass("initrd");
}
