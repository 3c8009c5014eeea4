/* The PVH loader: ELF32/ELF64 with the Xen PHYS32_ENTRY note. */
#include "boot_fixture.h"

#define SI(g) ((g)->ram + LAYOUT_BOOT_INFO)

static int load_elf(struct guest *g, const struct elf_opts *o,
		    struct boot_input *in, struct boot_entry *e)
{
	size_t size;
	uint8_t *img = make_elf(o, &size);

	in->kernel = img;
	in->kernel_size = size;
	return boot_load(&g->gm, in, e, &g->err);
}

static void check_loaded(const struct guest *g, const struct boot_input *in,
			 const struct elf_opts *o)
{
	cr_assert_arr_eq(g->ram + o->paddr, in->kernel + o->seg_offset,
			 o->filesz);
	for (uint64_t i = o->filesz; i < o->memsz; i++)
		cr_assert_eq(g->ram[o->paddr + i], 0, "bss byte 0x%lx",
			     (unsigned long)i);
	cr_assert_eq(g->ram[o->paddr + o->memsz], 0xaa,
		     "wrote past the segment");
}

Test(pvh, elf64_with_initrd)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = make_blob(300000, 9);
	uint64_t mods, mod, mm;

	guest_init(&g, 32 * MiB);
	in = guest_input(&g, NULL, 0, "vmlinux");
	in.initrd = initrd;
	in.initrd_size = 300000;
	in.rsdp = 0xe0000;
	cr_assert_eq(load_elf(&g, &o, &in, &e), 0, "%s", g.err.msg);

	cr_assert_eq(e.format, BOOT_FMT_PVH);
	cr_assert_eq(e.mode, BOOT_MODE_PROT32);
	cr_assert_eq(e.rip, 0x200080, "the note's entry, not e_entry");
	cr_assert_eq(e.rbx, LAYOUT_BOOT_INFO);
	check_loaded(&g, &in, &o);

	cr_assert_eq(r32(SI(&g)), 0x336ec578);
	cr_assert_geq(r32(SI(&g) + 4), 1, "version 1 carries the memmap");
	cr_assert_eq(r64(SI(&g) + 24), LAYOUT_CMDLINE);
	cr_assert_str_eq((char *)g.ram + LAYOUT_CMDLINE, "console=ttyS0 quiet");
	cr_assert_eq(r64(SI(&g) + 32), 0xe0000, "rsdp_paddr");

	cr_assert_eq(r32(SI(&g) + 12), 1, "nr_modules");
	mods = r64(SI(&g) + 16);
	cr_assert_neq(mods, 0);
	mod = r64(g.ram + mods);
	cr_assert_eq(r64(g.ram + mods + 8), 300000);
	cr_assert_eq(mod % 4096, 0);
	cr_assert_geq(mod, o.paddr + o.memsz, "initrd overlaps the kernel");
	cr_assert_leq(mod + 300000, 32 * MiB);
	cr_assert_gt(mod + 300000, 32 * MiB - 4096, "initrd not placed high");
	cr_assert_arr_eq(g.ram + mod, initrd, 300000);

	mm = r64(SI(&g) + 40);
	cr_assert_eq(r32(SI(&g) + 48), (uint32_t)g.map.nr);
	cr_assert_eq(r32(SI(&g) + 52), 0, "reserved");
	for (int i = 0; i < g.map.nr; i++) {
		const uint8_t *m = g.ram + mm + i * 24;

		cr_assert_eq(r64(m), g.map.e[i].addr);
		cr_assert_eq(r64(m + 8), g.map.e[i].size);
		cr_assert_eq(r32(m + 16), g.map.e[i].type);
		cr_assert_eq(r32(m + 20), 0);
	}
	free((void *)in.kernel);
	free(initrd);
	guest_fini(&g);
}

Test(pvh, elf32_without_initrd)
{
	struct guest g;
	struct elf_opts o = elf_defaults(false);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.pvh_entry = 0x200100;
	in = guest_input(&g, NULL, 0, "vmlinux32");
	cr_assert_eq(load_elf(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_PVH);
	cr_assert_eq(e.rip, 0x200100);
	check_loaded(&g, &in, &o);
	cr_assert_eq(r32(SI(&g) + 12), 0, "nr_modules");
	cr_assert_eq(r64(SI(&g) + 16), 0, "modlist_paddr");
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, note_wins_over_multiboot)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.mb_header = true;
	in = guest_input(&g, NULL, 0, "both");
	cr_assert_eq(load_elf(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_PVH);
	cr_assert_eq(e.rax, 0, "no multiboot magic");
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, segment_beyond_file)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.seg_offset = 0x1800; /* 0x1000 bytes from there pass the end */
	in = guest_input(&g, NULL, 0, "vmlinux");
	cr_assert_eq(load_elf(&g, &o, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel vmlinux: truncated: segment 0"),
		  "%s", g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, segment_offset_overflow)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.seg_offset = 0xfffffffffffff800ULL; /* offset + size wraps to small */
	in = guest_input(&g, NULL, 0, "vmlinux");
	cr_assert_eq(load_elf(&g, &o, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "truncated"), "%s", g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, segment_beyond_ram)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.paddr = 16 * MiB - 0x1000; /* memsz 0x3000 runs off the end */
	in = guest_input(&g, NULL, 0, "vmlinux");
	cr_assert_eq(load_elf(&g, &o, &in, &e), -ENOSPC);
	cr_assert(strstr(g.err.msg, "kernel vmlinux: segment 0"), "%s",
		  g.err.msg);
	cr_assert(strstr(g.err.msg, "not inside guest RAM"), "%s", g.err.msg);
	/* And a paddr whose end wraps past 2^64. */
	free((void *)in.kernel);
	o.paddr = 0xfffffffffffff000ULL;
	cr_assert_eq(load_elf(&g, &o, &in, &e), -ENOSPC);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, segment_below_1mib)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.paddr = 0x8000; /* over the zero page and page tables */
	in = guest_input(&g, NULL, 0, "vmlinux");
	cr_assert_eq(load_elf(&g, &o, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "below 1 MiB"), "%s", g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, filesz_above_memsz)
{
	struct guest g;
	struct elf_opts o = elf_defaults(false);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.memsz = 0x800;
	in = guest_input(&g, NULL, 0, "vmlinux");
	cr_assert_eq(load_elf(&g, &o, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "exceeds memory size"), "%s", g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, program_headers_beyond_file)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;
	size_t size;
	uint8_t *img = make_elf(&o, &size);

	guest_init(&g, 16 * MiB);
	w64(img + 32, 0xfffffffffffffff0ULL); /* e_phoff */
	in = guest_input(&g, img, size, "vmlinux");
	/* Without readable program headers there is no note: not PVH. */
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -ENOEXEC);
	cr_assert_eq(boot_load_pvh(&g.gm, &in, &e, &g.err), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel vmlinux: truncated"), "%s",
		  g.err.msg);
	free(img);
	guest_fini(&g);
}

Test(pvh, malformed_note_is_ignored)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;
	size_t size;
	uint8_t *img = make_elf(&o, &size);

	guest_init(&g, 16 * MiB);
	w32(img + FX_ELF_NOTE_OFF, 0xfffffff0u); /* namesz runs off */
	in = guest_input(&g, img, size, "vmlinux");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -ENOEXEC);
	cr_assert(strstr(g.err.msg, "not a bootable kernel"), "%s", g.err.msg);
	free(img);
	guest_fini(&g);
}

Test(pvh, entry_must_be_32bit)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 16 * MiB);
	o.pvh_entry = 0x100000000ULL;
	in = guest_input(&g, NULL, 0, "vmlinux");
	cr_assert_eq(load_elf(&g, &o, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "not a 32-bit address"), "%s", g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(pvh, initrd_does_not_fit)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = calloc(1, 15 * MiB);

	guest_init(&g, 16 * MiB);
	in = guest_input(&g, NULL, 0, "vmlinux");
	in.initrd = initrd;
	in.initrd_size = 15 * MiB; /* the kernel ends at 2 MiB + 12 KiB */
	cr_assert_eq(load_elf(&g, &o, &in, &e), -ENOSPC);
	cr_assert_str_eq(g.err.msg,
			 "initrd initrd.img: 15 MiB does not fit below 0x1000000 with 16 MiB of RAM");
	free((void *)in.kernel);
	free(initrd);
	guest_fini(&g);
}

Test(pvh, cmdline_limit)
{
	struct guest g;
	struct elf_opts o = elf_defaults(true);
	struct boot_input in;
	struct boot_entry e;
	char *cmd = malloc(LAYOUT_CMDLINE_MAX + 1);

	guest_init(&g, 16 * MiB);
	memset(cmd, 'x', LAYOUT_CMDLINE_MAX);
	cmd[LAYOUT_CMDLINE_MAX] = 0;
	in = guest_input(&g, NULL, 0, "vmlinux");
	in.cmdline = cmd;
	cr_assert_eq(load_elf(&g, &o, &in, &e), -E2BIG);
	cr_assert_str_eq(g.err.msg,
			 "cmdline: 65536 bytes is longer than this kernel's limit of 65535");
	free((void *)in.kernel);
	cmd[LAYOUT_CMDLINE_MAX - 1] = 0; /* exactly the limit fits */
	cr_assert_eq(load_elf(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(g.ram[LAYOUT_CMDLINE + LAYOUT_CMDLINE_MAX - 1], 0);
	free((void *)in.kernel);
	free(cmd);
	guest_fini(&g);
}
