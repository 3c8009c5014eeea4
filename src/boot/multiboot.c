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

/*
 * The boot info page: the info structure, the module list, the memory map,
 * the loader's name and the module's string, at these offsets.
 */
#define MB_OFF_MODS 0x80
#define MB_OFF_MMAP 0x100
#define MB_OFF_LOADER_NAME 0x300
#define MB_OFF_MOD_STRING 0x400
#define MB_MOD_STRING_MAX (0x1000 - MB_OFF_MOD_STRING)
_Static_assert(MB_OFF_MMAP + E820_MAX * sizeof(struct mb_mmap_entry) <=
	       MB_OFF_LOADER_NAME, "mmap must not run into the loader name");

/*
 * Where mvm's own boot data goes for this kernel: the usual low addresses
 * (layout.h), or, when the kernel is linked over them, a block just above
 * the kernel (stack page, info page, command line), as QEMU does.
 */
struct mb_place {
	uint64_t stack_top, info, cmdline, end;
};

#define MB_STACK_PAGE (LAYOUT_STACK_TOP & ~(PAGE_SIZE_4K - 1))

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

/* The kernel being loaded: its header and, unless a.out, its ELF view. */
struct mb_kernel {
	const struct boot_input *in;
	struct mb_header h;
	struct elf_file ef;
	bool aout;
	uint64_t aout_file_off, aout_load_len, aout_mem_len;
};

/* Validate the a.out-kludge addresses: file_off, load_len and mem_len. */
static int aout_range(struct mb_kernel *k, struct mvm_err *err)
{
	const struct mb_header *h = &k->h;
	const char *name = k->in->kernel_name;
	uint64_t size = k->in->kernel_size, skip;

	if (h->load_addr > h->header_addr)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot load_addr 0x%x is above header_addr 0x%x",
				name, h->load_addr, h->header_addr);
	skip = h->header_addr - h->load_addr;
	if (skip > h->off)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot load_addr 0x%x would start 0x%" PRIx64 " bytes before the file does",
				name, h->load_addr, skip - h->off);
	k->aout_file_off = h->off - skip;
	if (h->load_end_addr == 0) {
		k->aout_load_len = size - k->aout_file_off; /* to the file's end */
	} else {
		if (h->load_end_addr < h->load_addr)
			return mvm_fail(err, -EINVAL,
					"kernel %s: multiboot load_end_addr 0x%x is below load_addr 0x%x",
					name, h->load_end_addr, h->load_addr);
		k->aout_load_len = h->load_end_addr - h->load_addr;
		if (!in_file(size, k->aout_file_off, k->aout_load_len))
			return mvm_fail(err, -EINVAL,
					"kernel %s: truncated: multiboot wants 0x%" PRIx64 " bytes from offset 0x%" PRIx64 " but the file has %" PRIu64,
					name, k->aout_load_len, k->aout_file_off,
					size);
	}
	k->aout_mem_len = k->aout_load_len;
	if (h->bss_end_addr) {
		if (h->bss_end_addr < h->load_addr + k->aout_load_len)
			return mvm_fail(err, -EINVAL,
					"kernel %s: multiboot bss_end_addr 0x%x is below the end of the loaded image",
					name, h->bss_end_addr);
		k->aout_mem_len = h->bss_end_addr - h->load_addr;
	}
	return 0;
}

static int open_kernel(struct mb_kernel *k, const struct boot_input *in,
		       struct mvm_err *err)
{
	int ret;

	memset(k, 0, sizeof(*k));
	k->in = in;
	ret = read_header(in, &k->h, err);
	if (ret)
		return ret;
	if (k->h.flags & MB_AOUT_KLUDGE) {
		k->aout = true;
		return aout_range(k, err);
	}
	ret = elf_open(&k->ef, in->kernel, in->kernel_size, in->kernel_name,
		       err);
	if (ret == -ENOEXEC)
		return mvm_fail(err, -EINVAL,
				"kernel %s: multiboot header gives no load addresses (flag 16) and the file is not ELF",
				in->kernel_name);
	return ret;
}

static unsigned nr_segments(const struct mb_kernel *k)
{
	return k->aout ? 1 : k->ef.phnum;
}

/*
 * Segment i as [*start, *end) in guest memory; false when it loads
 * nothing. Ranges that wrap or leave 64 bits are clamped: the load itself
 * refuses them later with a message of its own.
 */
static bool segment(const struct mb_kernel *k, unsigned i, uint64_t *start,
		    uint64_t *end)
{
	struct elf_phdr ph;

	if (k->aout) {
		*start = k->h.load_addr;
		*end = *start + k->aout_mem_len;
		return k->aout_mem_len > 0;
	}
	elf_phdr(&k->ef, i, &ph);
	if (ph.type != PT_LOAD || ph.memsz == 0)
		return false;
	*start = ph.paddr;
	*end = ph.memsz > UINT64_MAX - ph.paddr ? UINT64_MAX :
						  ph.paddr + ph.memsz;
	return true;
}

static bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
	return a0 < b1 && b0 < a1;
}

/* True when any segment of the kernel touches [lo, hi). */
static bool kernel_overlaps(const struct mb_kernel *k, uint64_t lo,
			    uint64_t hi)
{
	for (unsigned i = 0; i < nr_segments(k); i++) {
		uint64_t s, e;

		if (segment(k, i, &s, &e) && overlaps(s, e, lo, hi))
			return true;
	}
	return false;
}

/* What mvm cannot move out of a kernel's way, whatever the kernel. */
static const struct {
	uint64_t start, end;
	const char *what;
} fixed[] = {
	{ LAYOUT_GDT, LAYOUT_GDT + BOOT_GDT_ENTRIES * 8, "boot GDT" },
	/* The RSDP must stay in the BIOS area for guests to find it. */
	{ LAYOUT_EBDA, LAYOUT_ACPI_END, "EBDA and ACPI tables" },
};

/* Refuse a segment over a fixed structure, naming both ranges. */
static int check_fixed(const struct mb_kernel *k, struct mvm_err *err)
{
	for (unsigned i = 0; i < nr_segments(k); i++) {
		uint64_t s, e;

		if (!segment(k, i, &s, &e))
			continue;
		for (size_t f = 0; f < sizeof(fixed) / sizeof(fixed[0]); f++) {
			if (!overlaps(s, e, fixed[f].start, fixed[f].end))
				continue;
			return mvm_fail(err, -EINVAL,
					"kernel %s: segment 0x%" PRIx64 "-0x%" PRIx64 " overlaps mvm's %s at 0x%" PRIx64 "-0x%" PRIx64,
					k->in->kernel_name, s, e - 1,
					fixed[f].what, fixed[f].start,
					fixed[f].end - 1);
		}
	}
	return 0;
}

static int load_aout(struct guest_mem *gm, const struct mb_kernel *k,
		     uint64_t *end, struct mvm_err *err)
{
	uint32_t addr = k->h.load_addr;
	uint8_t *dst = gm_ptr(gm, addr, k->aout_mem_len);

	if (!dst)
		return mvm_fail(err, -ENOSPC,
				"kernel %s: 0x%" PRIx64 " bytes at 0x%x are not inside guest RAM (%" PRIu64 " MiB)",
				k->in->kernel_name, k->aout_mem_len, addr,
				gm->ram_size / MIB);
	memcpy(dst, k->in->kernel + k->aout_file_off, k->aout_load_len);
	memset(dst + k->aout_load_len, 0, k->aout_mem_len - k->aout_load_len);
	*end = addr + k->aout_mem_len;
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

static int load_kernel(struct guest_mem *gm, const struct mb_kernel *k,
		       uint64_t *entry, uint64_t *end, struct mvm_err *err)
{
	int ret;

	if (k->aout) {
		*entry = k->h.entry_addr;
		return load_aout(gm, k, end, err);
	}
	/* check_fixed kept the segments off what cannot move. */
	ret = elf_load(&k->ef, gm, true, end, err);
	if (ret)
		return ret;
	*entry = elf_entry_paddr(&k->ef);
	if (*entry > UINT32_MAX)
		return mvm_fail(err, -EINVAL,
				"kernel %s: entry point 0x%" PRIx64 " is not a 32-bit address",
				k->in->kernel_name, *entry);
	return 0;
}

/*
 * The usual low addresses when the kernel leaves them free, else a block
 * from the first page above both the kernel and 1 MiB, where nothing of
 * mvm's lives. cmd_size counts the command line's NUL.
 */
static int place_boot_data(const struct guest_mem *gm,
			   const struct mb_kernel *k, uint64_t kernel_end,
			   uint64_t cmd_size, struct mb_place *p,
			   struct mvm_err *err)
{
	uint64_t base;

	if (!kernel_overlaps(k, MB_STACK_PAGE, LAYOUT_BOOT_INFO + PAGE_SIZE_4K) &&
	    !kernel_overlaps(k, LAYOUT_CMDLINE, LAYOUT_CMDLINE + cmd_size)) {
		*p = (struct mb_place){ .stack_top = LAYOUT_STACK_TOP,
					.info = LAYOUT_BOOT_INFO,
					.cmdline = LAYOUT_CMDLINE, .end = 0 };
		return 0;
	}
	base = kernel_end > LAYOUT_HIGH ? kernel_end : LAYOUT_HIGH;
	base = (base + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	*p = (struct mb_place){
		.stack_top = base + PAGE_SIZE_4K - 16,
		.info = base + PAGE_SIZE_4K,
		.cmdline = base + 2 * PAGE_SIZE_4K,
		.end = base + 2 * PAGE_SIZE_4K + cmd_size,
	};
	/* The info pointer and its fields are 32-bit. */
	if (p->end > UINT32_MAX || !gm_is_ram(gm, base, p->end - base))
		return mvm_fail(err, -ENOSPC,
				"kernel %s: no RAM for the multiboot information at 0x%" PRIx64 "-0x%" PRIx64 ", above the kernel, which covers mvm's usual place for it",
				k->in->kernel_name, base, p->end - 1);
	return 0;
}

/*
 * GRUB and QEMU start the command line with the kernel's file name, and
 * test suites read their arguments after it. QEMU joins the two with one
 * space even when there is no command line: so does mvm.
 */
static int cmdline_size(const struct boot_input *in, uint64_t *size,
			struct mvm_err *err)
{
	uint64_t name = strlen(in->kernel_name) + 1;
	uint64_t len = strlen(in->cmdline);
	uint64_t limit = LAYOUT_CMDLINE_MAX - 1;

	if (name > limit || len > limit - name)
		return mvm_fail(err, -E2BIG,
				"cmdline: %" PRIu64 " bytes is longer than this kernel's limit of %" PRIu64 " (multiboot's %" PRIu64 " less the kernel's file name and a space before it)",
				len, name > limit ? 0 : limit - name, limit);
	*size = name + len + 1;
	return 0;
}

static int put_cmdline(struct guest_mem *gm, const struct boot_input *in,
		       uint64_t addr, struct mvm_err *err)
{
	size_t name = strlen(in->kernel_name);
	static const char space = ' ';

	if (gm_write(gm, addr, in->kernel_name, name) ||
	    gm_write(gm, addr + name, &space, 1) ||
	    gm_write(gm, addr + name + 1, in->cmdline, strlen(in->cmdline) + 1))
		return mvm_fail(err, -EFAULT,
				"cmdline: guest RAM does not cover 0x%" PRIx64,
				addr);
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
		    const struct e820_map *map, uint64_t at)
{
	struct mb_mmap_entry mm[E820_MAX];
	int nr = map->nr < 0 ? 0 : map->nr > E820_MAX ? E820_MAX : map->nr;

	for (int i = 0; i < nr; i++) {
		mm[i].size = sizeof(mm[i]) - sizeof(mm[i].size);
		mm[i].addr = map->e[i].addr;
		mm[i].len = map->e[i].size;
		mm[i].type = map->e[i].type;
	}
	mbi->mmap_addr = (uint32_t)at;
	mbi->mmap_length = (uint32_t)(nr * sizeof(mm[0]));
	mbi->flags |= MBI_MMAP;
	return gm_write(gm, at, mm, nr * sizeof(mm[0]));
}

static int info_fault(const struct boot_input *in, uint64_t info,
		      struct mvm_err *err)
{
	return mvm_fail(err, -EFAULT,
			"kernel %s: guest RAM does not cover the boot info at 0x%" PRIx64,
			in->kernel_name, info);
}

static int put_module(struct guest_mem *gm, const struct boot_input *in,
		      struct mb_info *mbi, uint64_t floor, uint64_t info,
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
	ret = boot_put_initrd(gm, in, floor, gm_low_end(gm), &addr, err);
	if (ret)
		return ret;
	memset(&mod, 0, sizeof(mod));
	mod.mod_start = (uint32_t)addr;
	mod.mod_end = (uint32_t)(addr + in->initrd_size);
	mod.string = (uint32_t)(info + MB_OFF_MOD_STRING);
	if (gm_write(gm, info + MB_OFF_MODS, &mod, sizeof(mod)) ||
	    gm_write(gm, info + MB_OFF_MOD_STRING, name, name_len + 1))
		return info_fault(in, info, err);
	mbi->mods_count = 1;
	mbi->mods_addr = (uint32_t)(info + MB_OFF_MODS);
	mbi->flags |= MBI_MODS;
	return 0;
}

/* The module goes above floor: the kernel and any boot data moved there. */
static int put_info(struct guest_mem *gm, const struct boot_input *in,
		    const struct mb_place *p, uint64_t floor,
		    struct mvm_err *err)
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
	mbi.cmdline = (uint32_t)p->cmdline;
	mbi.flags |= MBI_CMDLINE;
	mbi.boot_loader_name = (uint32_t)(p->info + MB_OFF_LOADER_NAME);
	mbi.flags |= MBI_LOADER_NAME;
	if (in->initrd) {
		ret = put_module(gm, in, &mbi, floor, p->info, err);
		if (ret)
			return ret;
	}
	if (put_mmap(gm, &mbi, map, p->info + MB_OFF_MMAP) ||
	    gm_write(gm, p->info + MB_OFF_LOADER_NAME, loader_name,
		     sizeof(loader_name)) ||
	    gm_write(gm, p->info, &mbi, sizeof(mbi)))
		return info_fault(in, p->info, err);
	return 0;
}

int boot_load_multiboot(struct guest_mem *gm, const struct boot_input *in,
			struct boot_entry *out, struct mvm_err *err)
{
	struct mb_kernel k;
	struct mb_place p;
	uint64_t entry = 0, end = 0, cmd_size = 0;
	int ret;

	ret = open_kernel(&k, in, err);
	if (!ret)
		ret = cmdline_size(in, &cmd_size, err);
	if (!ret)
		ret = check_fixed(&k, err);
	if (!ret)
		ret = load_kernel(gm, &k, &entry, &end, err);
	if (!ret)
		ret = place_boot_data(gm, &k, end, cmd_size, &p, err);
	if (!ret)
		ret = put_cmdline(gm, in, p.cmdline, err);
	if (!ret)
		ret = put_info(gm, in, &p, end > p.end ? end : p.end, err);
	if (ret)
		return ret;

	memset(out, 0, sizeof(*out));
	out->format = BOOT_FMT_MULTIBOOT;
	out->mode = BOOT_MODE_PROT32;
	out->rip = entry;
	out->rsp = p.stack_top;
	out->rax = MB_BOOT_MAGIC;
	out->rbx = p.info;
	return 0;
}
