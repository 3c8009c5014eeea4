/*
 * The boot GDT and the identity page tables. The vCPU is put straight into
 * protected or long mode without running firmware, so the descriptors its
 * segment registers claim to come from must really exist in guest memory:
 * a kernel reloading a selector before installing its own GDT reads them.
 */
#include <stdint.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

/* Flat 4 GiB descriptors: base 0, limit 0xfffff in 4 KiB units. */
#define GDT_CODE64 0x00af9b000000ffffULL /* P, S, exec/read, accessed, L */
#define GDT_CODE32 0x00cf9b000000ffffULL /* P, S, exec/read, accessed, D */
#define GDT_DATA 0x00cf93000000ffffULL   /* P, S, read/write, accessed, D */

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_PS 0x80ULL /* a 2 MiB page in a PD entry */
#define PT_ENTRIES 512
#define PT_SIZE 0x1000
#define NR_PDS 4       /* 4 x 1 GiB: the low 4 GiB, MMIO hole included */
#define PAGE_2M (2ULL << 20)

static int write_gdt(struct guest_mem *gm)
{
	uint64_t gdt[BOOT_GDT_ENTRIES] = { 0 };

	/* Indexed by selector so the table cannot drift from boot.h. */
	gdt[BOOT_GDT_CODE64 / 8] = GDT_CODE64;
	gdt[BOOT_GDT_CODE32 / 8] = GDT_CODE32;
	gdt[BOOT_GDT_DATA / 8] = GDT_DATA;
	return gm_write(gm, LAYOUT_GDT, gdt, sizeof(gdt));
}

static int write_page_tables(struct guest_mem *gm)
{
	uint64_t t[PT_ENTRIES];
	int ret;

	memset(t, 0, sizeof(t));
	t[0] = LAYOUT_PDPT | PTE_P | PTE_RW;
	ret = gm_write(gm, LAYOUT_PML4, t, sizeof(t));

	memset(t, 0, sizeof(t));
	for (int i = 0; i < NR_PDS; i++)
		t[i] = (LAYOUT_PD + (uint64_t)i * PT_SIZE) | PTE_P | PTE_RW;
	ret = ret ? ret : gm_write(gm, LAYOUT_PDPT, t, sizeof(t));

	for (int pd = 0; pd < NR_PDS && !ret; pd++) {
		for (int i = 0; i < PT_ENTRIES; i++)
			t[i] = ((uint64_t)pd * PT_ENTRIES + i) * PAGE_2M |
			       PTE_P | PTE_RW | PTE_PS;
		ret = gm_write(gm, LAYOUT_PD + (uint64_t)pd * PT_SIZE, t,
			       sizeof(t));
	}
	return ret;
}

int boot_write_gdt(struct guest_mem *gm, struct mvm_err *err)
{
	if (write_gdt(gm))
		return mvm_fail(err, -EFAULT,
				"boot: guest RAM does not cover the boot GDT at 0x%llx",
				LAYOUT_GDT);
	return 0;
}

int boot_write_cpu_tables(struct guest_mem *gm, struct mvm_err *err)
{
	if (write_gdt(gm) || write_page_tables(gm))
		return mvm_fail(err, -EFAULT,
				"boot: guest RAM does not cover the boot GDT and page tables at 0x%llx-0x%llx",
				LAYOUT_GDT, LAYOUT_PD + NR_PDS * PT_SIZE);
	return 0;
}
