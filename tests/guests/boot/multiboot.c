/*
 * Multiboot v1 front end: checks the entry state and copies the multiboot
 * information (memory map, command line, module 0 as the initrd) into the
 * common bootinfo.
 */
#include "../lib/bootinfo.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/uart.h"
#include "entry_state.h"

#define MB_BOOT_MAGIC 0x2badb002
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper; /* KiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
} PACKED;

struct mb_module {
	uint32_t start, end; /* end is exclusive */
	uint32_t string;
	uint32_t reserved;
} PACKED;

/* 'size' counts the bytes after itself: entries may grow in later specs. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} PACKED;

static struct bootinfo bi;

static void read_mmap(const struct mb_info *mi)
{
	uint64_t p = mi->mmap_addr, end = p + mi->mmap_length;

	while (p + sizeof(struct mb_mmap_entry) <= end) {
		const struct mb_mmap_entry *e = phys_ptr(p);
		if (e->size < 20) {
			kprintf("multiboot: bad mmap entry size %u\n", e->size);
			break;
		}
		bi_add_region(&bi, e->addr, e->len, e->type);
		p += e->size + 4;
	}
}

void boot_entry32(uint32_t magic, uint32_t info_pa, uint32_t eflags,
		  uint32_t cr0);

void boot_entry32(uint32_t magic, uint32_t info_pa, uint32_t eflags,
		  uint32_t cr0)
{
	uart_init();
	kprintf("\nboot: multiboot magic=0x%x info=0x%x\n", magic, info_pa);
	bi.proto = "multiboot";
	bi_set_image(&bi);
	if (magic != MB_BOOT_MAGIC || !info_pa) {
		fail("entry", "EAX=0x%x, want 0x%x", magic, MB_BOOT_MAGIC);
		report_finish();
	}
	entry_check_prot32(eflags, cr0);

	const struct mb_info *mi = phys_ptr(info_pa);
	kprintf("multiboot: flags=0x%x\n", mi->flags);
	if (mi->flags & MBI_MEM) {
		bi.has_meminfo = true;
		bi.mem_lower = mi->mem_lower;
		bi.mem_upper = mi->mem_upper;
	}
	if (mi->flags & MBI_CMDLINE)
		bi_set_cmdline(&bi, mi->cmdline, BI_CMDLINE_MAX);
	if ((mi->flags & MBI_MODS) && mi->mods_count > 0) {
		const struct mb_module *m = phys_ptr(mi->mods_addr);
		bi.has_initrd = true;
		bi.initrd_addr = m->start;
		bi.initrd_size = m->end >= m->start ? m->end - m->start : 0;
		kprintf("multiboot: %u module(s)\n", mi->mods_count);
	}
	if (mi->flags & MBI_MMAP)
		read_mmap(mi);
	guest_main(&bi);
}
