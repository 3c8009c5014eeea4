/*
 * Format detection, the Linux 64-bit boot protocol loader and the boot CPU
 * tables, on synthetic images in a malloc'd guest.
 */
#include "boot_fixture.h"
#include "../../src/boot/loader.h"

#define ZP(g) ((g)->ram + LAYOUT_ZERO_PAGE)

static int load_bz(struct guest *g, const struct bz_opts *o,
		   struct boot_input *in_out, struct boot_entry *e)
{
	size_t size;
	uint8_t *img = make_bzimage(o, &size);

	in_out->kernel = img;
	in_out->kernel_size = size;
	return boot_load(&g->gm, in_out, e, &g->err);
}

Test(bzimage, loads_kernel_and_builds_zero_page)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	size_t size;
	uint8_t *img, *initrd = make_blob(MiB, 0x77);
	struct boot_entry e;
	struct boot_input in;
	uint32_t rd, rd_size;

	guest_init(&g, 64 * MiB);
	img = make_bzimage(&o, &size);
	in = guest_input(&g, img, size, "vmlinuz");
	in.initrd = initrd;
	in.initrd_size = MiB;
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), 0, "%s", g.err.msg);

	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE);
	cr_assert_eq(e.mode, BOOT_MODE_LONG64);
	cr_assert_eq(e.rip, 0x1000000 + 0x200);
	cr_assert_eq(e.rsi, LAYOUT_ZERO_PAGE);
	/* The protected-mode kernel starts right after the setup sectors. */
	cr_assert_arr_eq(g.ram + 0x1000000, img + bz_setup_size(&o), o.payload);

	cr_assert_arr_eq(ZP(&g) + 0x202, "HdrS", 4);
	cr_assert_eq(r16(ZP(&g) + 0x206), 0x020f);
	cr_assert_eq(ZP(&g)[0x210], 0xff, "type_of_loader");
	cr_assert_eq(ZP(&g)[0x1f1], 4, "setup_sects copied from the image");
	cr_assert_eq(r32(ZP(&g) + 0x228), LAYOUT_CMDLINE);
	cr_assert_str_eq((char *)g.ram + LAYOUT_CMDLINE, "console=ttyS0 quiet");
	cr_assert_eq(r64(ZP(&g) + 0x070), LAYOUT_ACPI, "acpi_rsdp_addr");
	cr_assert_eq(ZP(&g)[0x1e8], g.map.nr);
	cr_assert_arr_eq(ZP(&g) + 0x2d0, g.map.e,
			 g.map.nr * sizeof(struct e820_entry));
	/* Bytes past the header are zero, not copied image bytes or junk. */
	cr_assert_eq(ZP(&g)[0x26c], 0);
	cr_assert_eq(ZP(&g)[0x000], 0);

	rd = r32(ZP(&g) + 0x218);
	rd_size = r32(ZP(&g) + 0x21c);
	cr_assert_eq(rd_size, MiB);
	cr_assert_eq(rd % 4096, 0);
	cr_assert_geq(rd, 0x1000000 + 4 * MiB, "initrd overlaps the kernel");
	cr_assert_leq(rd + rd_size, 64 * MiB);
	cr_assert_gt(rd + rd_size, 64 * MiB - 4096, "initrd not placed high");
	cr_assert_arr_eq(g.ram + rd, initrd, MiB);
	free(img);
	free(initrd);
	guest_fini(&g);
}

Test(bzimage, non_relocatable_loads_at_1mib)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.relocatable = 0;
	in = guest_input(&g, NULL, 0, "vmlinuz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.rip, 0x100200);
	cr_assert_eq(g.ram[0x100000], (uint8_t)0x11, "payload byte 0");
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, setup_sects_zero_means_four)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;
	size_t size;
	uint8_t *img;

	guest_init(&g, 32 * MiB);
	o.setup_sects = 0;
	img = make_bzimage(&o, &size);
	cr_assert_eq(size, 5 * 512 + o.payload);
	in = guest_input(&g, img, size, "vmlinuz");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), 0, "%s", g.err.msg);
	cr_assert_arr_eq(g.ram + 0x1000000, img + 5 * 512, o.payload);
	free(img);
	guest_fini(&g);
}

Test(bzimage, initrd_respects_initrd_addr_max)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = make_blob(100000, 1);
	uint32_t rd;

	guest_init(&g, 64 * MiB);
	o.initrd_addr_max = 32 * MiB - 1; /* last usable byte */
	in = guest_input(&g, NULL, 0, "vmlinuz");
	in.initrd = initrd;
	in.initrd_size = 100000;
	cr_assert_eq(load_bz(&g, &o, &in, &e), 0, "%s", g.err.msg);
	rd = r32(ZP(&g) + 0x218);
	cr_assert_leq(rd + 100000, 32 * MiB);
	cr_assert_gt(rd + 100000, 32 * MiB - 4096);
	cr_assert_eq(rd % 4096, 0);
	free((void *)in.kernel);
	free(initrd);
	guest_fini(&g);
}

Test(bzimage, no_initrd_clears_ramdisk_fields)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;
	size_t size;
	uint8_t *img;

	guest_init(&g, 32 * MiB);
	img = make_bzimage(&o, &size);
	w32(img + 0x218, 0xdeadbeef); /* a hostile image's leftovers */
	w32(img + 0x21c, 0x12345678);
	in = guest_input(&g, img, size, "vmlinuz");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), 0, "%s", g.err.msg);
	cr_assert_eq(r32(ZP(&g) + 0x218), 0);
	cr_assert_eq(r32(ZP(&g) + 0x21c), 0);
	free(img);
	guest_fini(&g);
}

Test(bzimage, old_protocol_leaves_rsdp_unset)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.version = 0x020c; /* 2.12: has XLF_KERNEL_64, not acpi_rsdp_addr */
	in = guest_input(&g, NULL, 0, "vmlinuz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(r64(ZP(&g) + 0x070), 0);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, too_old_protocol)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.version = 0x0205;
	in = guest_input(&g, NULL, 0, "old.bz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), -EINVAL);
	cr_assert_str_eq(g.err.msg,
			 "kernel old.bz: boot protocol 2.05 is too old; 2.06 or later is required");
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, requires_64bit_kernel)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.xloadflags = 0x2; /* loadable above 4G but no 64-bit entry */
	in = guest_input(&g, NULL, 0, "i386.bz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel i386.bz: not a 64-bit kernel"),
		  "%s", g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, truncated_setup)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;
	size_t size;
	uint8_t *img;

	guest_init(&g, 32 * MiB);
	img = make_bzimage(&o, &size);
	img[0x1f1] = 200; /* 201 sectors of setup in a 66 KiB file */
	in = guest_input(&g, img, size, "short.bz");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel short.bz: truncated"), "%s",
		  g.err.msg);
	free(img);
	guest_fini(&g);
}

Test(bzimage, truncated_kernel)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;
	size_t size;
	uint8_t *img;

	guest_init(&g, 32 * MiB);
	img = make_bzimage(&o, &size);
	in = guest_input(&g, img, size - 16, "cut.bz"); /* syssize too big */
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel cut.bz: truncated: syssize"),
		  "%s", g.err.msg);
	/* A syssize of 4 GiB * 16 must not wrap around either. */
	w32(img + 0x1f4, 0xffffffff);
	in.kernel_size = size;
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -EINVAL);
	cr_assert(strstr(g.err.msg, "truncated"), "%s", g.err.msg);
	free(img);
	guest_fini(&g);
}

Test(bzimage, header_too_short)
{
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t img[0x210];

	guest_init(&g, 32 * MiB);
	memset(img, 0, sizeof(img));
	memcpy(img + 0x202, "HdrS", 4);
	in = guest_input(&g, img, sizeof(img), "tiny.bz");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -EINVAL);
	cr_assert(strstr(g.err.msg, "kernel tiny.bz: truncated"), "%s",
		  g.err.msg);
	guest_fini(&g);
}

Test(bzimage, cmdline_too_long)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.cmdline_size = 10;
	in = guest_input(&g, NULL, 0, "vmlinuz");
	in.cmdline = "console=ttyS0"; /* 13 bytes */
	cr_assert_eq(load_bz(&g, &o, &in, &e), -E2BIG);
	cr_assert_str_eq(g.err.msg,
			 "cmdline: 13 bytes is longer than this kernel's limit of 10");
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, cmdline_exactly_at_limit)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.cmdline_size = 13;
	in = guest_input(&g, NULL, 0, "vmlinuz");
	in.cmdline = "console=ttyS0";
	cr_assert_eq(load_bz(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_str_eq((char *)g.ram + LAYOUT_CMDLINE, "console=ttyS0");
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, initrd_does_not_fit)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;
	uint8_t *initrd = calloc(1, 45 * MiB);

	guest_init(&g, 64 * MiB);
	in = guest_input(&g, NULL, 0, "vmlinuz");
	in.initrd = initrd;
	in.initrd_size = 45 * MiB; /* kernel owns 16..20 MiB, 44 MiB above */
	cr_assert_eq(load_bz(&g, &o, &in, &e), -ENOSPC);
	cr_assert_str_eq(g.err.msg,
			 "initrd initrd.img: 45 MiB does not fit below 0x4000000 with 64 MiB of RAM");
	free((void *)in.kernel);
	free(initrd);
	guest_fini(&g);
}

Test(bzimage, kernel_does_not_fit)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.init_size = 128 * MiB;
	in = guest_input(&g, NULL, 0, "big.bz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), -ENOSPC);
	cr_assert(strstr(g.err.msg, "kernel big.bz: needs 128 MiB"), "%s",
		  g.err.msg);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(bzimage, hostile_pref_address)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	o.pref_address = 0xfffffffffffff000ULL; /* + init_size wraps */
	in = guest_input(&g, NULL, 0, "evil.bz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), -ENOSPC);
	cr_assert(strstr(g.err.msg, "kernel evil.bz:"), "%s", g.err.msg);
	o.pref_address = 0x1000; /* on top of mvm's boot structures */
	free((void *)in.kernel);
	cr_assert_eq(load_bz(&g, &o, &in, &e), -ENOSPC);
	free((void *)in.kernel);
	guest_fini(&g);
}

Test(boot, rejects_unknown_format)
{
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t *junk = make_blob(16384, 3);

	guest_init(&g, 32 * MiB);
	in = guest_input(&g, junk, 16384, "junk.bin");
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -ENOEXEC);
	cr_assert_str_eq(g.err.msg,
			 "kernel junk.bin: not a bootable kernel (no bzImage header, PVH note or multiboot header)");
	/* An empty file as well. */
	in.kernel_size = 0;
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), -ENOEXEC);
	free(junk);
	guest_fini(&g);
}

Test(boot, per_format_loaders_say_enoexec)
{
	struct guest g;
	struct boot_input in;
	struct boot_entry e;
	uint8_t *junk = make_blob(16384, 3);

	guest_init(&g, 32 * MiB);
	in = guest_input(&g, junk, 16384, "junk.bin");
	cr_assert_eq(boot_load_bzimage(&g.gm, &in, &e, &g.err), -ENOEXEC);
	cr_assert_eq(boot_load_pvh(&g.gm, &in, &e, &g.err), -ENOEXEC);
	cr_assert_eq(boot_load_multiboot(&g.gm, &in, &e, &g.err), -ENOEXEC);
	free(junk);
	guest_fini(&g);
}

Test(boot, load_writes_cpu_tables)
{
	struct guest g;
	struct bz_opts o = bz_defaults();
	struct boot_input in;
	struct boot_entry e;

	guest_init(&g, 32 * MiB);
	in = guest_input(&g, NULL, 0, "vmlinuz");
	cr_assert_eq(load_bz(&g, &o, &in, &e), 0, "%s", g.err.msg);
	cr_assert_eq(r64(g.ram + LAYOUT_GDT + BOOT_GDT_CODE64),
		     0x00af9b000000ffffULL);
	cr_assert_eq(r64(g.ram + LAYOUT_PML4) & ~0xfffULL, LAYOUT_PDPT);
	free((void *)in.kernel);
	guest_fini(&g);
}

/* ---- boot CPU tables ---- */

/* Walk the identity map the way the MMU would, for a 2 MiB mapping. */
static uint64_t translate(const uint8_t *ram, uint64_t va)
{
	uint64_t pml4e = r64(ram + LAYOUT_PML4 + ((va >> 39) & 511) * 8);
	uint64_t pdpte, pde;

	cr_assert(pml4e & 1, "PML4E not present for 0x%lx", (unsigned long)va);
	pdpte = r64(ram + (pml4e & ~0xfffULL) + ((va >> 30) & 511) * 8);
	cr_assert(pdpte & 1, "PDPTE not present");
	cr_assert_eq(pdpte & 0x80, 0, "the PDPT must point at PDs");
	pde = r64(ram + (pdpte & ~0xfffULL) + ((va >> 21) & 511) * 8);
	cr_assert_eq(pde & 0x83, 0x83, "PDE must be a present writable 2M page");
	return (pde & ~0x1fffffULL) | (va & 0x1fffff);
}

Test(cpu_tables, gdt_is_flat)
{
	struct guest g;

	guest_init(&g, 2 * MiB);
	cr_assert_eq(boot_write_cpu_tables(&g.gm, &g.err), 0);
	cr_assert_eq(r64(g.ram + LAYOUT_GDT), 0, "null descriptor");
	/* 64-bit code: L=1, D=0; base 0; limit 0xfffff pages. */
	cr_assert_eq(r64(g.ram + LAYOUT_GDT + BOOT_GDT_CODE64),
		     0x00af9b000000ffffULL);
	cr_assert_eq(r64(g.ram + LAYOUT_GDT + BOOT_GDT_CODE32),
		     0x00cf9b000000ffffULL);
	cr_assert_eq(r64(g.ram + LAYOUT_GDT + BOOT_GDT_DATA),
		     0x00cf93000000ffffULL);
	guest_fini(&g);
}

Test(cpu_tables, identity_maps_low_4g)
{
	struct guest g;
	const uint64_t probes[] = { 0, 0x1234, 0x200000, 0x1000200,
				    0x3fffffff, 0x40000000, 0xc0000000,
				    LAYOUT_IOAPIC, LAYOUT_LAPIC + 0x20,
				    0xffffffff };

	guest_init(&g, 2 * MiB);
	cr_assert_eq(boot_write_cpu_tables(&g.gm, &g.err), 0);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		cr_assert_eq(translate(g.ram, probes[i]), probes[i],
			     "0x%lx", (unsigned long)probes[i]);
	/* Nothing above 4 GiB is mapped: the PDPT has exactly 4 entries. */
	cr_assert_eq(r64(g.ram + LAYOUT_PDPT + 4 * 8), 0);
	cr_assert_eq(r64(g.ram + LAYOUT_PML4 + 8), 0);
	guest_fini(&g);
}

Test(cpu_tables, needs_low_ram)
{
	struct guest_mem gm;
	struct mvm_err err;
	uint8_t *ram = calloc(1, MiB);

	memset(&gm, 0, sizeof(gm));
	gm_add_host(&gm, MiB, ram, MiB); /* nothing below 1 MiB */
	cr_assert_eq(boot_write_cpu_tables(&gm, &err), -EFAULT);
	cr_assert(strstr(err.msg, "boot: guest RAM does not cover"), "%s",
		  err.msg);
	free(ram);
}

/* Nothing boots in virtio-mem's region: it is not RAM until plugged. */
Test(boot, placement_skips_the_hotplug_region)
{
	struct guest_mem gm = { 0 };
	static uint8_t dummy;
	uint64_t at = 0;

	cr_assert_eq(gm_add_host(&gm, MiB, &dummy, 16 * MiB), 0);
	cr_assert_eq(gm_add_host(&gm, 64 * MiB, &dummy, 256 * MiB), 0);
	gm.r[1].hotplug = true;
	cr_assert_eq(boot_place_high(&gm, MiB, UINT64_MAX, 4 * MiB, &at), 0);
	cr_assert_lt(at + 4 * MiB, 17 * MiB + 1, "placed at 0x%llx",
		     (unsigned long long)at);
	cr_assert_eq(boot_place_high(&gm, MiB, UINT64_MAX, 32 * MiB, &at),
		     -ENOSPC, "the hotplug region's room does not count");
}
