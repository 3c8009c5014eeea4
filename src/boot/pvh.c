/*
 * PVH direct boot: an uncompressed ELF kernel (vmlinux) that advertises a
 * 32-bit entry point in a Xen ELF note. It is entered in flat 32-bit
 * protected mode, paging off, with EBX pointing at struct hvm_start_info
 * (Xen's public arch-x86/hvm/start_info.h ABI), which carries the command
 * line, the RSDP, the memory map and the initrd as module 0.
 */
#include <inttypes.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#include "loader.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578
#define HVM_START_VERSION 1 /* version 1 adds the memory map */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* the e820 type values */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info ABI");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist ABI");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap ABI");

/* Everything lives in the one boot info page. */
#define PVH_START_INFO LAYOUT_BOOT_INFO
#define PVH_MODLIST (LAYOUT_BOOT_INFO + 0x40)
#define PVH_MEMMAP (LAYOUT_BOOT_INFO + 0x80)
_Static_assert(0x80 + E820_MAX * sizeof(struct hvm_memmap_table_entry) <=
		       0x1000,
	       "PVH boot info must fit its page");

/* The entry from the PVH note: 4 bytes in ELF32, a pointer-sized 8 in ELF64. */
static int pvh_entry(const struct elf_file *ef, uint64_t *entry,
		     struct mvm_err *err)
{
	const uint8_t *desc;
	uint32_t descsz;

	if (elf_find_note(ef, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc, &descsz))
		return -ENOEXEC;
	if (descsz == 4)
		*entry = get_le32(desc);
	else if (descsz == 8)
		*entry = get_le64(desc);
	else
		return mvm_fail(err, -EINVAL,
				"kernel %s: PVH entry note holds %u bytes, not a 4- or 8-byte address",
				ef->name, descsz);
	if (*entry > UINT32_MAX)
		return mvm_fail(err, -EINVAL,
				"kernel %s: PVH entry 0x%" PRIx64 " is not a 32-bit address",
				ef->name, *entry);
	return 0;
}

bool pvh_probe(const uint8_t *img, uint64_t size)
{
	struct elf_file ef;
	const uint8_t *desc;
	uint32_t descsz;

	if (elf_open(&ef, img, size, "", NULL))
		return false;
	return elf_find_note(&ef, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc,
			     &descsz) == 0;
}

static int put_start_info(struct guest_mem *gm, const struct boot_input *in,
			  uint64_t initrd_addr, struct mvm_err *err)
{
	struct hvm_memmap_table_entry mm[E820_MAX];
	struct hvm_modlist_entry mod;
	struct hvm_start_info si;
	int nr = 0;

	memset(&si, 0, sizeof(si));
	si.magic = HVM_START_MAGIC;
	si.version = HVM_START_VERSION;
	si.cmdline_paddr = LAYOUT_CMDLINE;
	si.rsdp_paddr = in->rsdp;

	if (in->e820) {
		nr = in->e820->nr;
		nr = nr < 0 ? 0 : nr > E820_MAX ? E820_MAX : nr;
	}
	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < nr; i++) {
		mm[i].addr = in->e820->e[i].addr;
		mm[i].size = in->e820->e[i].size;
		mm[i].type = in->e820->e[i].type;
	}
	if (nr) {
		si.memmap_paddr = PVH_MEMMAP;
		si.memmap_entries = (uint32_t)nr;
	}

	if (in->initrd) {
		memset(&mod, 0, sizeof(mod));
		mod.paddr = initrd_addr;
		mod.size = in->initrd_size;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST;
	}

	if (gm_write(gm, PVH_START_INFO, &si, sizeof(si)) ||
	    (nr && gm_write(gm, PVH_MEMMAP, mm, nr * sizeof(mm[0]))) ||
	    (in->initrd && gm_write(gm, PVH_MODLIST, &mod, sizeof(mod))))
		return mvm_fail(err, -EFAULT,
				"kernel %s: guest RAM does not cover the start info at 0x%llx",
				in->kernel_name, LAYOUT_BOOT_INFO);
	return 0;
}

int boot_load_pvh(struct guest_mem *gm, const struct boot_input *in,
		  struct boot_entry *out, struct mvm_err *err)
{
	struct elf_file ef;
	uint64_t entry = 0, end = 0, initrd_addr = 0;
	int ret;

	ret = elf_open(&ef, in->kernel, in->kernel_size, in->kernel_name, err);
	if (ret)
		return ret;
	ret = pvh_entry(&ef, &entry, err);
	if (ret)
		return ret;
	ret = boot_put_cmdline(gm, in->cmdline, LAYOUT_CMDLINE_MAX - 1, err);
	if (ret)
		return ret;
	ret = elf_load(&ef, gm, false, &end, err);
	if (ret)
		return ret;
	if (in->initrd) {
		ret = boot_put_initrd(gm, in, end, gm_low_end(gm), &initrd_addr,
				      err);
		if (ret)
			return ret;
	}
	ret = put_start_info(gm, in, initrd_addr, err);
	if (ret)
		return ret;

	memset(out, 0, sizeof(*out));
	out->format = BOOT_FMT_PVH;
	out->mode = BOOT_MODE_PROT32;
	out->rip = entry;
	out->rsp = LAYOUT_STACK_TOP;
	out->rbx = PVH_START_INFO;
	return 0;
}
