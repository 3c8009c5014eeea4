/*
 * PVH front end: checks hvm_start_info and the entry state, and copies the
 * memory map, command line, first module (the initrd) and RSDP address
 * into the common bootinfo.
 */
#include "../lib/bootinfo.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/uart.h"
#include "entry_state.h"

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version; /* 1 adds the memory map */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} PACKED;

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
} PACKED;

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
} PACKED;

static struct bootinfo bi;

void boot_entry32(uint32_t magic, uint32_t info_pa, uint32_t eflags,
		  uint32_t cr0);

void boot_entry32(uint32_t magic, uint32_t info_pa, uint32_t eflags,
		  uint32_t cr0)
{
	(void)magic; /* PVH passes nothing in EAX */
	uart_init();
	kprintf("\nboot: pvh start_info=0x%x\n", info_pa);
	bi.proto = "pvh";
	bi_set_image(&bi);
	const struct hvm_start_info *si = phys_ptr(info_pa);
	if (!info_pa || si->magic != HVM_START_MAGIC) {
		fail("entry", "start_info magic 0x%x, want 0x%x",
		     info_pa ? si->magic : 0, HVM_START_MAGIC);
		report_finish();
	}
	entry_check_prot32(eflags, cr0);
	kprintf("pvh: version=%u flags=0x%x modules=%u memmap=%u rsdp=0x%llx\n",
		si->version, si->flags, si->nr_modules,
		si->version >= 1 ? si->memmap_entries : 0,
		(unsigned long long)si->rsdp_paddr);

	bi_set_cmdline(&bi, si->cmdline_paddr, BI_CMDLINE_MAX);
	bi.rsdp = si->rsdp_paddr;
	if (si->nr_modules > 0 && si->modlist_paddr) {
		const struct hvm_modlist_entry *m = phys_ptr(si->modlist_paddr);
		bi.has_initrd = true;
		bi.initrd_addr = m->paddr;
		bi.initrd_size = m->size;
	}
	if (si->version >= 1 && si->memmap_paddr) {
		const struct hvm_memmap_entry *e = phys_ptr(si->memmap_paddr);
		for (uint32_t i = 0; i < si->memmap_entries; i++)
			bi_add_region(&bi, e[i].addr, e[i].size, e[i].type);
	}
	guest_main(&bi);
}
