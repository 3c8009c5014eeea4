/* The multiboot v1 loader: ELF and a.out-kludge kernels. */
#include <stdio.h>

#include "boot_fixture.h"

#define MBI(g) ((g)->ram + LAYOUT_BOOT_INFO)

/* Multiboot information flags the loader must set. */
#define F_MEM (1u << 0)
#define F_CMDLINE (1u << 2)
#define F_MODS (1u << 3)
#define F_MMAP (1u << 6)
#define F_LOADER (1u << 9)

static struct elf_opts mb_elf(bool is64)
{
	struct elf_opts o = elf_defaults(is64);

	o.pvh_note = false;
	o.mb_header = true;
	return o;
}

static int load(struct guest *g, uint8_t *img, size_t size,
		struct boot_input *in, struct boot_entry *e)
{
	in->kernel = img;
	in->kernel_size = size;
	return boot_load(&g->gm, in, e, &g->err);
}

/* What a multiboot kernel finds: its file name, a space, the cmdline. */
static void check_cmdline(const struct guest *g, const uint8_t *mbi,
			  const struct boot_input *in)
{
	char want[256];

	snprintf(want, sizeof(want), "%s %s", in->kernel_name, in->cmdline);
	cr_assert_str_eq((char *)g->ram + r32(mbi + 16), want);
}

static void check_info_at(const struct guest *g, const struct boot_input *in,
			  uint64_t kernel_end, uint64_t info)
{
	const uint8_t *mbi = g->ram + info;
	uint32_t flags = r32(mbi);
	uint32_t mods, mmap, mmap_len;

	cr_assert_eq(flags & (F_MEM | F_CMDLINE | F_MMAP | F_LOADER),
		     F_MEM | F_CMDLINE | F_MMAP | F_LOADER, "flags 0x%x",
		     flags);
	cr_assert_eq(r32(mbi + 4), 639, "mem_lower KiB below the EBDA");
	cr_assert_eq(r32(mbi + 8), (g->size - MiB) / 1024, "mem_upper");
	check_cmdline(g, mbi, in);
	cr_assert_str_eq((char *)g->ram + r32(mbi + 64), "mvm");

	mmap_len = r32(mbi + 44);
	mmap = r32(mbi + 48);
	cr_assert_eq(mmap_len, (uint32_t)g->map.nr * 24);
	for (int i = 0; i < g->map.nr; i++) {
		const uint8_t *m = g->ram + mmap + i * 24;

		cr_assert_eq(r32(m), 20, "size excludes itself");
		cr_assert_eq(r64(m + 4), g->map.e[i].addr);
		cr_assert_eq(r64(m + 12), g->map.e[i].size);
		cr_assert_eq(r32(m + 20), g->map.e[i].type);
	}

	if (!in->initrd) {
		cr_assert_eq(flags & F_MODS, 0);
		return;
	}
	cr_assert(flags & F_MODS);
	cr_assert_eq(r32(mbi + 20), 1, "mods_count");
	mods = r32(mbi + 24);
	uint32_t start = r32(g->ram + mods), end = r32(g->ram + mods + 4);
	cr_assert_eq(end - start, in->initrd_size);
	cr_assert_eq(start % 4096, 0, "modules are page-aligned");
	cr_assert_geq(start, kernel_end, "module overlaps the kernel");
	cr_assert_leq(end, g->size);
	cr_assert_gt(end, g->size - 4096, "module not placed high");
	cr_assert_arr_eq(g->ram + start, in->initrd, in->initrd_size);
	cr_assert_str_eq((char *)g->ram + r32(g->ram + mods + 8),
			 in->initrd_name);
}

static void check_info(const struct guest *g, const struct boot_input *in,
		       uint64_t kernel_end)
{
	check_info_at(g, in, kernel_end, LAYOUT_BOOT_INFO);
}

Test(multiboot, elf32)
{
	struct guest g;
	struct elf_opts o = mb_elf(false);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = make_blob(5000, 4), *img;
	size_t size;

	guest_init(&g, 32 * MiB);
	img = make_elf(&o, &size);
	in = guest_input(&g, img, size, "kernel.elf");
	in.initrd = initrd;
	in.initrd_size = 5000;
	in.initrd_name = "modules/ramdisk.tar";
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_MULTIBOOT);
	cr_assert_eq(e.mode, BOOT_MODE_PROT32);
	cr_assert_eq(e.rax, 0x2badb002);
	cr_assert_eq(e.rbx, LAYOUT_BOOT_INFO);
	cr_assert_eq(e.rip, 0x200040);
	cr_assert_arr_eq(g.ram + 0x200000, img + FX_ELF_DATA_OFF, o.filesz);
	cr_assert_eq(g.ram[0x200000 + o.filesz], 0, "bss zeroed");
	check_info(&g, &in, o.paddr + o.memsz);
	free(img);
	free(initrd);
	guest_fini(&g);
}

Test(multiboot, elf64_virtual_entry_is_translated)
{
	struct guest g;
	struct elf_opts o = mb_elf(true);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	o.vaddr = 0xffffffff80200000ULL; /* a higher-half kernel */
	o.entry = o.vaddr + 0x44;
	img = make_elf(&o, &size);
	in = guest_input(&g, img, size, "kernel64.elf");
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_MULTIBOOT);
	cr_assert_eq(e.rip, 0x200044);
	check_info(&g, &in, o.paddr + o.memsz);
	free(img);
	guest_fini(&g);
}

Test(multiboot, aout_kludge)
{
	struct guest g;
	struct aout_opts o = aout_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = make_blob(10000, 8), *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "kernel.bin");
	in.initrd = initrd;
	in.initrd_size = 10000;
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_MULTIBOOT);
	cr_assert_eq(e.rip, 0x100080);
	/* [load_addr, load_end_addr) from the file, then bss, then nothing. */
	cr_assert_arr_eq(g.ram + 0x100000, img, 0x2000);
	for (uint32_t a = 0x102000; a < 0x104000; a++)
		cr_assert_eq(g.ram[a], 0, "bss at 0x%x", a);
	cr_assert_eq(g.ram[0x104000], 0xaa);
	check_info(&g, &in, 0x104000);
	free(img);
	free(initrd);
	guest_fini(&g);
}

Test(multiboot, aout_loads_to_end_of_file)
{
	struct guest g;
	struct aout_opts o = aout_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	o.load_end_addr = 0;
	o.bss_end_addr = 0;
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "kernel.bin");
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_arr_eq(g.ram + 0x100000, img, size);
	cr_assert_eq(g.ram[0x100000 + size], 0xaa);
	free(img);
	guest_fini(&g);
}

Test(multiboot, aout_header_not_at_file_start)
{
	struct guest g;
	struct aout_opts o = aout_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	/* Header at file offset 0x40 is loaded at 0x100010: skip 0x30 bytes. */
	o.header_addr = 0x100010;
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "kernel.bin");
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_arr_eq(g.ram + 0x100000, img + 0x30, 0x2000);
	free(img);
	guest_fini(&g);
}

static void expect_aout_error(struct aout_opts o, int code, const char *what)
{
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "bad.bin");
	cr_assert_eq(load(&g, img, size, &in, &e), code, "%s", g.err.msg);
	cr_assert(strstr(g.err.msg, "kernel bad.bin: "), "%s", g.err.msg);
	cr_assert(strstr(g.err.msg, what), "want '%s' in '%s'", what,
		  g.err.msg);
	free(img);
	guest_fini(&g);
}

Test(multiboot, aout_errors)
{
	struct aout_opts o;

	o = aout_defaults();
	o.load_addr = o.header_addr + 4;
	expect_aout_error(o, -EINVAL, "above header_addr");

	o = aout_defaults();
	o.load_addr = 0x100000 - 0x1000; /* would start before the file */
	expect_aout_error(o, -EINVAL, "before the file");

	o = aout_defaults();
	o.load_end_addr = 0x100000 + 0x3001; /* one byte past the file */
	o.bss_end_addr = 0;
	expect_aout_error(o, -EINVAL, "truncated");

	o = aout_defaults();
	o.load_end_addr = 0xfffff000; /* huge: must not wrap */
	o.bss_end_addr = 0;
	expect_aout_error(o, -EINVAL, "truncated");

	o = aout_defaults();
	o.load_end_addr = 0x0ff000;
	expect_aout_error(o, -EINVAL, "below load_addr");

	o = aout_defaults();
	o.bss_end_addr = 0x101000;
	expect_aout_error(o, -EINVAL, "bss_end_addr");

	o = aout_defaults();
	o.bss_end_addr = 0xfff00000; /* far beyond 16 MiB of RAM */
	expect_aout_error(o, -ENOSPC, "not inside guest RAM");

	o = aout_defaults();
	o.header_addr = 0x9f040; /* runs into the EBDA and the ACPI tables */
	o.load_addr = 0x9f000;
	o.load_end_addr = 0xa1000;
	o.bss_end_addr = 0;
	o.entry = 0x9f080;
	expect_aout_error(o, -EINVAL, "segment 0x9f000-0xa0fff overlaps mvm's "
			  "EBDA and ACPI tables at 0x9fc00-0xfffff");

	o = aout_defaults();
	o.header_addr = 0x440; /* over the boot GDT at 0x500 */
	o.load_addr = 0x400;
	o.load_end_addr = 0x2400;
	o.bss_end_addr = 0;
	o.entry = 0x480;
	expect_aout_error(o, -EINVAL, "segment 0x400-0x23ff overlaps mvm's "
			  "boot GDT at 0x500-0x51f");

	o = aout_defaults();
	o.flags |= 1u << 3; /* a requirement mvm does not know */
	expect_aout_error(o, -EINVAL, "requires features mvm lacks (flags 0x8)");

	o = aout_defaults();
	o.flags &= ~(1u << 16); /* no addresses, and not ELF */
	expect_aout_error(o, -EINVAL, "not ELF");
	o = aout_defaults();
	o.entry = 0xf0000000; /* beyond 16 MiB of RAM (found by fuzz_image) */
	expect_aout_error(o, -ENOEXEC, "entry point 0xf0000000 is outside "
			  "guest RAM");
}

Test(multiboot, video_flag_is_accepted)
{
	struct aout_opts o = aout_defaults();
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	o.flags |= 1u << 2;
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "kernel.bin");
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(r32(MBI(&g)) & (1u << 11), 0, "no VBE info claimed");
	free(img);
	guest_fini(&g);
}

static int try_header_at(size_t off, bool good_sum)
{
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img = calloc(1, 16384);
	int ret;

	guest_init(&g, 16 * MiB);
	/* flags 0x10000 with a.out fields loading the whole file at 1 MiB. */
	w32(img + off, 0x1badb002);
	w32(img + off + 4, 0x10000);
	w32(img + off + 8, (uint32_t)-(0x1badb002u + 0x10000) + !good_sum);
	w32(img + off + 12, (uint32_t)(0x100000 + off));
	w32(img + off + 16, 0x100000);
	w32(img + off + 28, 0x100000);
	in = guest_input(&g, img, 16384, "scan.bin");
	ret = boot_load(&g.gm, &in, &e, &g.err);
	if (ret == 0)
		cr_assert_eq(e.format, BOOT_FMT_MULTIBOOT);
	free(img);
	guest_fini(&g);
	return ret;
}

Test(multiboot, header_search_rules)
{
	cr_assert_eq(try_header_at(0, true), 0);
	cr_assert_eq(try_header_at(8180, true), 0, "last slot in 8 KiB");
	cr_assert_eq(try_header_at(8192, true), -ENOEXEC, "past 8 KiB");
	cr_assert_eq(try_header_at(0x42, true), -ENOEXEC, "not 4-aligned");
	cr_assert_eq(try_header_at(0x40, false), -ENOEXEC, "bad checksum");
}

Test(multiboot, truncated_aout_header)
{
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t img[16];

	guest_init(&g, 16 * MiB);
	put_mb_header(img, 0x10000); /* flag 16 but no room for addresses */
	in = guest_input(&g, img, sizeof(img), "stub.bin");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel stub.bin: truncated"), "%s",
		  g.err.msg);
	guest_fini(&g);
}

Test(multiboot, cmdline_too_long)
{
	struct guest g;
	struct aout_opts o = aout_defaults();
	struct boot_input in;
	struct boot_entry e;
	char *cmd = malloc(LAYOUT_CMDLINE_MAX + 1);
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	memset(cmd, 'y', LAYOUT_CMDLINE_MAX);
	cmd[LAYOUT_CMDLINE_MAX] = 0;
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "kernel.bin");
	in.cmdline = cmd;
	cr_assert_eq(load(&g, img, size, &in, &e), -E2BIG);
	cr_assert_str_eq(g.err.msg,
			 "cmdline: 65536 bytes is longer than this kernel's limit of 65524 (multiboot's 65535 less the kernel's file name and a space before it)");
	/* One byte less fits exactly, after "kernel.bin ". */
	cmd[65524] = 0;
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(strlen((char *)g.ram + LAYOUT_CMDLINE), 65535);
	free(img);
	free(cmd);
	guest_fini(&g);
}

Test(multiboot, module_does_not_fit)
{
	struct guest g;
	struct aout_opts o = aout_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = calloc(1, 16 * MiB), *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "kernel.bin");
	in.initrd = initrd;
	in.initrd_size = 15 * MiB; /* the kernel ends at 1 MiB + 16 KiB */
	in.initrd_name = "mod.tar";
	cr_assert_eq(load(&g, img, size, &in, &e), -ENOSPC);
	cr_assert_str_eq(g.err.msg,
			 "initrd mod.tar: 15 MiB does not fit below 0x1000000 with 16 MiB of RAM");
	free(img);
	free(initrd);
	guest_fini(&g);
}

Test(multiboot, elf_segment_errors_name_the_kernel)
{
	struct guest g;
	struct elf_opts o = mb_elf(false);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	o.seg_offset = 0x7fffffff; /* far beyond the 8 KiB file */
	img = make_elf(&o, &size);
	in = guest_input(&g, img, size, "mb.elf");
	cr_assert_eq(load(&g, img, size, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel mb.elf: truncated: segment 0"),
		  "%s", g.err.msg);
	free(img);
	guest_fini(&g);
}

/* With no command line the kernel still gets its name, then a space. */
Test(multiboot, empty_cmdline_is_the_file_name)
{
	struct guest g;
	struct aout_opts o = aout_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "boot/test-kernel");
	in.cmdline = "";
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_str_eq((char *)g.ram + r32(MBI(&g) + 16), "boot/test-kernel ");
	free(img);
	guest_fini(&g);
}

/* An a.out kernel linked at 0x8000: [0x8000, 0x8000 + mem). */
static struct aout_opts low_aout(uint32_t file, uint32_t mem)
{
	struct aout_opts o = aout_defaults();

	o.file_size = file;
	o.header_addr = 0x8000 + 0x40;
	o.load_addr = 0x8000;
	o.load_end_addr = 0x8000 + file;
	o.bss_end_addr = 0x8000 + mem;
	o.entry = 0x8080;
	return o;
}

/*
 * Small enough to leave the usual places free: the info stays at 0x6000,
 * and nothing of mvm's (the 64-bit page tables at 0x9000 were) is written
 * over the kernel.
 */
Test(multiboot, kernel_at_0x8000_keeps_the_usual_places)
{
	struct guest g;
	struct aout_opts o = low_aout(0x6000, 0x8000);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = make_blob(5000, 3), *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "low.bin");
	in.initrd = initrd;
	in.initrd_size = 5000;
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.rip, 0x8080);
	cr_assert_eq(e.rbx, LAYOUT_BOOT_INFO);
	cr_assert_arr_eq(g.ram + 0x8000, img, 0x6000, "kernel overwritten");
	for (uint32_t a = 0xe000; a < 0x10000; a++)
		cr_assert_eq(g.ram[a], 0, "bss at 0x%x", a);
	cr_assert_eq(r64(g.ram + LAYOUT_GDT + BOOT_GDT_CODE32),
		     0x00cf9b000000ffffULL, "the GDT is still written");
	check_info(&g, &in, 0x10000);
	free(img);
	free(initrd);
	guest_fini(&g);
}

/*
 * Over the command line's usual place (0x20000): the stack page, the info
 * page and the command line move to the first page above 1 MiB, and the
 * module above them.
 */
Test(multiboot, kernel_over_the_usual_places_moves_them)
{
	struct guest g;
	struct aout_opts o = low_aout(0x20000, 0x30000);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = make_blob(5000, 3), *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	img = make_aout(&o, &size);
	in = guest_input(&g, img, size, "low.bin");
	in.initrd = initrd;
	in.initrd_size = 5000;
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_arr_eq(g.ram + 0x8000, img, 0x20000, "kernel overwritten");
	for (uint32_t a = 0x28000; a < 0x38000; a++)
		cr_assert_eq(g.ram[a], 0, "bss at 0x%x", a);
	cr_assert_eq(e.rsp, LAYOUT_HIGH + 0xff0, "stack in its own page");
	cr_assert_eq(e.rbx, LAYOUT_HIGH + 0x1000);
	cr_assert_eq(r32(g.ram + e.rbx + 16), LAYOUT_HIGH + 0x2000, "cmdline");
	check_info_at(&g, &in, LAYOUT_HIGH + 0x2000 + strlen("low.bin ") +
		      strlen(in.cmdline) + 1, e.rbx);
	free(img);
	free(initrd);
	guest_fini(&g);
}

/* An ELF kernel whose only segment lies over the stack and info pages. */
Test(multiboot, elf_segment_over_the_info_page)
{
	struct guest g;
	struct elf_opts o = mb_elf(false);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *img;
	size_t size;

	guest_init(&g, 16 * MiB);
	o.paddr = o.vaddr = 0x5000;
	o.entry = 0x5040;
	img = make_elf(&o, &size);
	in = guest_input(&g, img, size, "low.elf");
	cr_assert_eq(load(&g, img, size, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.rip, 0x5040);
	cr_assert_arr_eq(g.ram + 0x5000, img + FX_ELF_DATA_OFF, o.filesz);
	cr_assert_eq(e.rbx, LAYOUT_HIGH + 0x1000, "info moved above 1 MiB");
	check_info_at(&g, &in, o.paddr + o.memsz, e.rbx);
	free(img);
	guest_fini(&g);
}
