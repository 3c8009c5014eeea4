/*
 * bzImage front end (64-bit code): reads boot_params (the zero page) into
 * the common bootinfo and checks the entry state: long mode, interrupts
 * off, and the setup header present in boot_params.
 */
#include "../lib/bootinfo.h"
#include "../lib/cmdline.h"
#include "../lib/io.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/uart.h"
#include "entry_state.h"

/* boot_params offsets (Linux x86 boot protocol, zero-page.rst). */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR_HEADER 0x202
#define BP_HDR_VERSION 0x206
#define BP_HDR_TYPE_OF_LOADER 0x210
#define BP_HDR_LOADFLAGS 0x211
#define BP_HDR_RAMDISK_IMAGE 0x218
#define BP_HDR_RAMDISK_SIZE 0x21c
#define BP_HDR_CMD_LINE_PTR 0x228
#define BP_HDR_CMDLINE_SIZE 0x238
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128

#define MSR_EFER 0xc0000080
#define EFER_LMA (1u << 10)

/* Set by bz_head64.S before .bss is cleared. */
extern uint64_t bz_loaded_at;
extern uint32_t bz_entry_via, bz_entry_flags;

static struct bootinfo bi;

static uint8_t rd8(const uint8_t *bp, unsigned off)
{
	return bp[off];
}

static uint32_t rd32(const uint8_t *bp, unsigned off)
{
	uint32_t v;
	memcpy(&v, bp + off, 4);
	return v;
}

static uint64_t rd64(const uint8_t *bp, unsigned off)
{
	uint64_t v;
	memcpy(&v, bp + off, 8);
	return v;
}

static void check_entry(const uint8_t *bp)
{
	uint64_t cr0 = read_cr0();
	uint64_t efer = rdmsr(MSR_EFER);
	uint64_t want_via;

	if (!(efer & EFER_LMA) || !(cr0 & CR0_PG))
		fail("entry", "not in long mode (cr0=0x%llx efer=0x%llx)",
		     (unsigned long long)cr0, (unsigned long long)efer);
	else if (bz_entry_flags & EFLAGS_IF)
		fail("entry", "interrupts on (eflags=0x%x)", bz_entry_flags);
	else if (memcmp(bp + BP_HDR_HEADER, "HdrS", 4) != 0)
		fail("entry", "boot_params has no setup header");
	else if (cmdline_u64(bi.cmdline, "bzentry", &want_via) == 1 &&
		 want_via != bz_entry_via)
		fail("entry", "entered via the %u-bit entry, want %llu-bit",
		     bz_entry_via, (unsigned long long)want_via);
	else
		pass("entry");
}

void bz_start(uint64_t bp_pa);

void bz_start(uint64_t bp_pa)
{
	const uint8_t *bp = phys_ptr(bp_pa);

	uart_init();
	kprintf("\nboot: bzimage boot_params=0x%llx entry=%u-bit loaded_at=0x%llx\n",
		(unsigned long long)bp_pa, bz_entry_via,
		(unsigned long long)bz_loaded_at);
	bi.proto = "bzimage";
	bi_set_image(&bi);
	kprintf("bzimage: protocol 0x%x loader 0x%x loadflags 0x%x e820 %u\n",
		rd8(bp, BP_HDR_VERSION) | rd8(bp, BP_HDR_VERSION + 1) << 8,
		rd8(bp, BP_HDR_TYPE_OF_LOADER), rd8(bp, BP_HDR_LOADFLAGS),
		rd8(bp, BP_E820_ENTRIES));

	uint64_t cl = rd32(bp, BP_HDR_CMD_LINE_PTR) |
		      (uint64_t)rd32(bp, BP_EXT_CMD_LINE_PTR) << 32;
	uint32_t clmax = rd32(bp, BP_HDR_CMDLINE_SIZE);
	bi_set_cmdline(&bi, cl, clmax ? clmax + 1 : BI_CMDLINE_MAX);

	uint64_t rd = rd32(bp, BP_HDR_RAMDISK_IMAGE) |
		      (uint64_t)rd32(bp, BP_EXT_RAMDISK_IMAGE) << 32;
	uint64_t rdsize = rd32(bp, BP_HDR_RAMDISK_SIZE) |
			  (uint64_t)rd32(bp, BP_EXT_RAMDISK_SIZE) << 32;
	if (rd && rdsize) {
		bi.has_initrd = true;
		bi.initrd_addr = rd;
		bi.initrd_size = rdsize;
	}
	bi.rsdp = rd64(bp, BP_ACPI_RSDP);

	unsigned n = rd8(bp, BP_E820_ENTRIES);
	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *e = bp + BP_E820_TABLE + 20 * i;
		bi_add_region(&bi, rd64(e, 0), rd64(e, 8), rd32(e, 16));
	}
	check_entry(bp);
	guest_main(&bi);
}
