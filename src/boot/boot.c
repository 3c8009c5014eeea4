/*
 * Format detection. The order matters: a bzImage is recognised by its setup
 * header; an ELF vmlinux may carry both a PVH note and a multiboot header,
 * and PVH wins because it hands the kernel the RSDP and the memory map in
 * the form Linux prefers.
 */
#include <inttypes.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/mem.h"

#include "loader.h"

int boot_load(struct guest_mem *gm, const struct boot_input *in,
	      struct boot_entry *out, struct mvm_err *err)
{
	int ret;

	if (bzimage_probe(in->kernel, in->kernel_size))
		ret = boot_load_bzimage(gm, in, out, err);
	else if (pvh_probe(in->kernel, in->kernel_size))
		ret = boot_load_pvh(gm, in, out, err);
	else if (multiboot_find_header(in->kernel, in->kernel_size) >= 0)
		ret = boot_load_multiboot(gm, in, out, err);
	else
		return mvm_fail(err, -ENOEXEC,
				"kernel %s: not a bootable kernel (no bzImage header, PVH note or multiboot header)",
				in->kernel_name);
	if (ret)
		return ret;
	/* Headers may point the entry anywhere; the vCPU must start in RAM. */
	if (!gm_is_ram(gm, out->rip, 1))
		return mvm_fail(err, -ENOEXEC, "kernel %s: entry point 0x%"
				PRIx64 " is outside guest RAM",
				in->kernel_name, out->rip);
	/*
	 * Every entry mode needs the GDT; only 64-bit entries the page tables,
	 * which would otherwise overwrite a 32-bit kernel linked low.
	 */
	if (out->mode == BOOT_MODE_LONG64)
		return boot_write_cpu_tables(gm, err);
	return boot_write_gdt(gm, err);
}

const char *boot_format_name(enum boot_format f)
{
	switch (f) {
	case BOOT_FMT_BZIMAGE:
		return "bzImage, decompressed by the guest";
	case BOOT_FMT_BZIMAGE_UNPACKED:
		return "bzImage, its vmlinux unpacked by mvm (nokaslr)";
	case BOOT_FMT_PVH:
		return "ELF vmlinux, PVH entry";
	case BOOT_FMT_MULTIBOOT:
		return "multiboot";
	}
	return "unknown";
}
