/*
 * Multiboot v1 (the GNU Multiboot Specification 0.6.96). The kernel carries
 * a header in its first 8 KiB; it is loaded either from its ELF program
 * headers or, when header flag 16 is set, from the load addresses in the
 * header itself (the "a.out kludge", which takes precedence as it does in
 * GRUB). The kernel is entered in flat 32-bit protected mode with
 * EAX = 0x2BADB002 and EBX = the multiboot information structure.
 */
#include <elf.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#include "loader.h"

#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOT_MAGIC 0x2badb002u
#define MB_SEARCH_LEN 8192
#define MB_HEADER_LEN 12
#define MB_AOUT_HEADER_LEN 32 /* through entry_addr */

/* Header flags. Bits 0-15 are requirements a loader must honour or refuse. */
#define MB_PAGE_ALIGN (1u << 0) /* modules are always page-aligned here */
#define MB_MEMORY_INFO (1u << 1) /* always given */
#define MB_VIDEO_MODE (1u << 2) /* accepted: the kernel gets no VBE info */
#define MB_AOUT_KLUDGE (1u << 16)
#define MB_REQUIRED_MASK 0xffffu
#define MB_UNDERSTOOD (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE)

/* Information flags: which fields of struct mb_info are valid. */
#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper; /* KiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info, vbe_mode_info;
	uint16_t vbe_mode, vbe_seg, vbe_off, vbe_len;
};

struct mb_module {
	uint32_t mod_start, mod_end; /* [start, end) */
	uint32_t string;
	uint32_t reserved;
};

/* Each entry is preceded by its size, which does not count itself. */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
} __attribute__((packed));

_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "mb_info ABI");
_Static_assert(offsetof(struct mb_info, boot_loader_name) == 64,
	       "mb_info ABI");
_Static_assert(sizeof(struct mb_info) == 88, "mb_info ABI");
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "mmap entry ABI");

/* The layout of the boot info page. */
#define MB_INFO LAYOUT_BOOT_INFO
#define MB_MODS (LAYOUT_BOOT_INFO + 0x80)
#define MB_MMAP (LAYOUT_BOOT_INFO + 0x100)
#define MB_LOADER_NAME (LAYOUT_BOOT_INFO + 0x300)
#define MB_MOD_STRING (LAYOUT_BOOT_INFO + 0x400)
#define MB_MOD_STRING_MAX (0x1000 - 0x400)
_Static_assert(0x100 + E820_MAX * sizeof(struct mb_mmap_entry) <= 0x300,
	       "mmap must not run into the loader name");

#define LOW_MEM_MAX 0xa0000ULL /* mem_lower never exceeds 640 KiB */

struct mb_header {
	uint64_t off; /* in the file */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr;
	uint32_t entry_addr;
};

int64_t multiboot_find_header(const uint8_t *img, uint64_t size)
{
	uint64_t limit = size < MB_SEARCH_LEN ? size : MB_SEARCH_LEN;

	for (uint64_t off = 0; off + MB_HEADER_LEN <= limit; off += 4) {
		uint32_t magic = get_le32(img + off);
		uint32_t flags = get_le32(img + off + 4);
		uint32_t sum = get_le32(img + off + 8);

		/* The magic alone can occur by chance; the checksum cannot. */
		if (magic == MB_HEADER_MAGIC &&
		    (uint32_t)(magic + flags + sum) == 0)
			return (int64_t)off;
	}
	return -ENOENT;
}

static int read_header(const struct boot_input *in, struct mb_header *h,
		       struct mvm_err *err)
{
	int64_t off = multiboot_find_header(in->kernel, in->kernel_size);
	const uint8_t *p;
	uint32_t unknown;

	if (off < 0)
		return -ENOEXEC;
	memset(h, 0, sizeof(*h));
	h->off = (uint64_t)off;
	p = in->kernel + h->off;
	h->flags = get_le32(p + 4);
	unknown = h->flags & MB_REQUIRED_MASK & ~MB_UNDERSTOOD;
	if (unknown)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot header requires features mvm lacks (flags 0x%x)",
				in->kernel_name, unknown);
	if (!(h->flags & MB_AOUT_KLUDGE))
		return 0;
	if (!in_file(in->kernel_size, h->off, MB_AOUT_HEADER_LEN))
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: the multiboot header at offset 0x%" PRIx64 " runs past the end of the file",
				in->kernel_name, h->off);
	h->header_addr = get_le32(p + 12);
	h->load_addr = get_le32(p + 16);
	h->load_end_addr = get_le32(p + 20);
	h->bss_end_addr = get_le32(p + 24);
	h->entry_addr = get_le32(p + 28);
	return 0;
}

/* Load by the header's addresses: file offset hdr.off is header_addr. */
static int load_aout(struct guest_mem *gm, const struct boot_input *in,
		     const struct mb_header *h, uint64_t *end,
		     struct mvm_err *err)
{
	const char *name = in->kernel_name;
	uint64_t skip, file_off, load_len, mem_len;
	uint8_t *dst;

	if (h->load_addr > h->header_addr)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot load_addr 0x%x is above header_addr 0x%x",
				name, h->load_addr, h->header_addr);
	skip = h->header_addr - h->load_addr;
	if (skip > h->off)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot load_addr 0x%x would start 0x%" PRIx64 " bytes before the file does",
				name, h->load_addr, skip - h->off);
	file_off = h->off - skip;
	if (h->load_end_addr == 0) {
		load_len = in->kernel_size - file_off; /* up to the file's end */
	} else {
		if (h->load_end_addr < h->load_addr)
			return mvm_fail(err, -EINVAL,
					"kernel %s: multiboot load_end_addr 0x%x is below load_addr 0x%x",
					name, h->load_end_addr, h->load_addr);
		load_len = h->load_end_addr - h->load_addr;
		if (!in_file(in->kernel_size, file_off, load_len))
			return mvm_fail(err, -EINVAL,
					"kernel %s: truncated: multiboot wants 0x%" PRIx64 " bytes from offset 0x%" PRIx64 " but the file has %zu",
					name, load_len, file_off,
					in->kernel_size);
	}
	mem_len = load_len;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + load_len)
			return mvm_fail(err, -EINVAL,
					"kernel %s: multiboot bss_end_addr 0x%x is below the end of the loaded image",
					name, h->bss_end_addr);
		mem_len = h->bss_end_addr - h->load_addr;
	}
	if (h->load_addr < LAYOUT_HIGH)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot load_addr 0x%x is below 1 MiB, where mvm keeps its boot structures",
				name, h->load_addr);
	dst = gm_ptr(gm, h->load_addr, mem_len);
	if (!dst)
		return mvm_fail(err, -ENOSPC,
				"kernel %s: 0x%" PRIx64 " bytes at 0x%x are not inside guest RAM (%" PRIu64 " MiB)",
				name, mem_len, h->load_addr,
				gm->ram_size / MIB);
	memcpy(dst, in->kernel + file_off, load_len);
	memset(dst + load_len, 0, mem_len - load_len);
	*end = h->load_addr + mem_len;
	return 0;
}

/* e_entry is usually virtual; GRUB maps it through the segment holding it. */
static uint64_t elf_entry_paddr(const struct elf_file *ef)
{
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;

		elf_phdr(ef, i, &ph);
		if (ph.type == PT_LOAD && ef->entry >= ph.vaddr &&
		    ef->entry - ph.vaddr < ph.memsz)
			return ef->entry - ph.vaddr + ph.paddr;
	}
	return ef->entry;
}

static int load_kernel(struct guest_mem *gm, const struct boot_input *in,
		       const struct mb_header *h, uint64_t *entry,
		       uint64_t *end, struct mvm_err *err)
{
	struct elf_file ef;
	int ret;

	if (h->flags & MB_AOUT_KLUDGE) {
		*entry = h->entry_addr;
		return load_aout(gm, in, h, end, err);
	}
	ret = elf_open(&ef, in->kernel, in->kernel_size, in->kernel_name, err);
	if (ret == -ENOEXEC)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot header gives no load addresses (flag 16) and the file is not ELF",
				in->kernel_name);
	if (ret)
		return ret;
	ret = elf_load(&ef, gm, end, err);
	if (ret)
		return ret;
	*entry = elf_entry_paddr(&ef);
	if (*entry > UINT32_MAX)
		return mvm_fail(err, -EINVAL,
				"kernel %s: entry point 0x%" PRIx64 " is not a 32-bit address",
				in->kernel_name, *entry);
	return 0;
}

/* Bytes of RAM in map contiguous from start, through adjacent entries. */
static uint64_t ram_run(const struct e820_map *map, uint64_t start)
{
	uint64_t cur = start;
	bool grew = true;

	while (grew) {
		grew = false;
		for (int i = 0; i < map->nr && i < E820_MAX; i++) {
			const struct e820_entry *e = &map->e[i];

			if (e->type == E820_RAM && e->addr <= cur &&
			    cur - e->addr < e->size) {
				cur = e->addr + e->size;
				grew = true;
			}
		}
	}
	return cur - start;
}

static void fill_memory(struct mb_info *mbi, const struct e820_map *map)
{
	uint64_t lower = ram_run(map, 0);
	uint64_t upper = ram_run(map, LAYOUT_HIGH) / 1024;

	if (lower > LOW_MEM_MAX)
		lower = LOW_MEM_MAX;
	mbi->mem_lower = (uint32_t)(lower / 1024);
	mbi->mem_upper = upper > UINT32_MAX ? UINT32_MAX : (uint32_t)upper;
	mbi->flags |= MBI_MEMORY;
}

static int put_mmap(struct guest_mem *gm, struct mb_info *mbi,
		    const struct e820_map *map)
{
	struct mb_mmap_entry mm[E820_MAX];
	int nr = map->nr < 0 ? 0 : map->nr > E820_MAX ? E820_MAX : map->nr;

	for (int i = 0; i < nr; i++) {
		mm[i].size = sizeof(mm[i]) - sizeof(mm[i].size);
		mm[i].addr = map->e[i].addr;
		mm[i].len = map->e[i].size;
		mm[i].type = map->e[i].type;
	}
	mbi->mmap_addr = MB_MMAP;
	mbi->mmap_length = (uint32_t)(nr * sizeof(mm[0]));
	mbi->flags |= MBI_MMAP;
	return gm_write(gm, MB_MMAP, mm, nr * sizeof(mm[0]));
}

static int put_module(struct guest_mem *gm, const struct boot_input *in,
		      struct mb_info *mbi, uint64_t kernel_end,
		      struct mvm_err *err)
{
	const char *name = in->initrd_name ? in->initrd_name : "";
	size_t name_len = strlen(name);
	struct mb_module mod;
	uint64_t addr;
	int ret;

	if (name_len >= MB_MOD_STRING_MAX)
		return mvm_fail(err, -ENAMETOOLONG,
				"initrd %s: file name is longer than the %d bytes multiboot has room for",
				name, MB_MOD_STRING_MAX - 1);
	if (in->initrd_size > UINT32_MAX)
		return mvm_fail(err, -EFBIG,
				"initrd %s: %zu MiB is larger than multiboot's 32-bit module fields",
				name, in->initrd_size >> 20);
	ret = boot_put_initrd(gm, in, kernel_end, gm_low_end(gm), &addr, err);
	if (ret)
		return ret;
	memset(&mod, 0, sizeof(mod));
	mod.mod_start = (uint32_t)addr;
	mod.mod_end = (uint32_t)(addr + in->initrd_size);
	mod.string = MB_MOD_STRING;
	if (gm_write(gm, MB_MODS, &mod, sizeof(mod)) ||
	    gm_write(gm, MB_MOD_STRING, name, name_len + 1))
		return mvm_fail(err, -EFAULT,
				"kernel %s: guest RAM does not cover the boot info at 0x%llx",
				in->kernel_name, LAYOUT_BOOT_INFO);
	mbi->mods_count = 1;
	mbi->mods_addr = MB_MODS;
	mbi->flags |= MBI_MODS;
	return 0;
}

static int put_info(struct guest_mem *gm, const struct boot_input *in,
		    uint64_t kernel_end, struct mvm_err *err)
{
	static const char loader_name[] = "mvm";
	struct e820_map local;
	const struct e820_map *map = in->e820;
	struct mb_info mbi;
	int ret;

	if (!map) {
		e820_build(&local, gm);
		map = &local;
	}
	memset(&mbi, 0, sizeof(mbi));
	fill_memory(&mbi, map);
	mbi.cmdline = LAYOUT_CMDLINE;
	mbi.flags |= MBI_CMDLINE;
	mbi.boot_loader_name = MB_LOADER_NAME;
	mbi.flags |= MBI_LOADER_NAME;
	if (in->initrd) {
		ret = put_module(gm, in, &mbi, kernel_end, err);
		if (ret)
			return ret;
	}
	if (put_mmap(gm, &mbi, map) ||
	    gm_write(gm, MB_LOADER_NAME, loader_name, sizeof(loader_name)) ||
	    gm_write(gm, MB_INFO, &mbi, sizeof(mbi)))
		return mvm_fail(err, -EFAULT,
				"kernel %s: guest RAM does not cover the boot info at 0x%llx",
				in->kernel_name, LAYOUT_BOOT_INFO);
	return 0;
}

int boot_load_multiboot(struct guest_mem *gm, const struct boot_input *in,
			struct boot_entry *out, struct mvm_err *err)
{
	struct mb_header h;
	uint64_t entry = 0, end = 0;
	int ret;

	ret = read_header(in, &h, err);
	if (ret)
		return ret;
	ret = boot_put_cmdline(gm, in->cmdline, LAYOUT_CMDLINE_MAX - 1, err);
	if (ret)
		return ret;
	ret = load_kernel(gm, in, &h, &entry, &end, err);
	if (ret)
		return ret;
	ret = put_info(gm, in, end, err);
	if (ret)
		return ret;

	memset(out, 0, sizeof(*out));
	out->format = BOOT_FMT_MULTIBOOT;
	out->mode = BOOT_MODE_PROT32;
	out->rip = entry;
	out->rsp = LAYOUT_STACK_TOP;
	out->rax = MB_BOOT_MAGIC;
	out->rbx = MB_INFO;
	return 0;
}
