/*
 * bzImages that mvm unpacks itself: the LZ4 decoder on hand-made blocks
 * (good and hostile), and the bzImage loader on a synthetic image whose
 * payload is an LZ4 legacy stream of a small ELF vmlinux, as the Linux
 * build makes them (stream, then the unpacked size in 4 bytes).
 */
#include "boot_fixture.h"

#include "../../src/boot/lz4.h"

/* ---- LZ4 blocks ---- */

static uint8_t out[1 << 16];

Test(lz4, literals_only)
{
	const uint8_t blk[] = { 0x50, 'h', 'e', 'l', 'l', 'o' };

	cr_assert_eq(lz4_block_decode(blk, sizeof(blk), out, sizeof(out)), 5);
	cr_assert_arr_eq(out, "hello", 5);
}

Test(lz4, overlapping_match_repeats_a_pattern)
{
	/* "abc", then 9 bytes from 3 back, then the literal "!" alone. */
	const uint8_t blk[] = { 0x35, 'a', 'b', 'c', 3, 0, 0x10, '!' };

	cr_assert_eq(lz4_block_decode(blk, sizeof(blk), out, sizeof(out)), 13);
	cr_assert_arr_eq(out, "abcabcabcabc!", 13);
}

Test(lz4, long_lengths_use_extension_bytes)
{
	/* 15 + 255 + 30 = 300 literals; then a 15 + 255 + 1 + 4 match. */
	uint8_t blk[2 + 2 + 300 + 2 + 2 + 2];
	size_t n = 0;

	blk[n++] = 0xff;
	blk[n++] = 255;
	blk[n++] = 30;
	for (int i = 0; i < 300; i++)
		blk[n++] = (uint8_t)i;
	blk[n++] = 1; /* offset 1: a run of the last literal */
	blk[n++] = 0;
	blk[n++] = 255;
	blk[n++] = 1;
	blk[n++] = 0x10;
	blk[n++] = 'z';
	cr_assert_eq(lz4_block_decode(blk, n, out, sizeof(out)), 300 + 275 + 1);
	cr_assert_eq(out[299], (uint8_t)299);
	cr_assert_eq(out[300], (uint8_t)299);
	cr_assert_eq(out[574], (uint8_t)299);
	cr_assert_eq(out[575], 'z');
}

Test(lz4, hostile_blocks_are_refused)
{
	const uint8_t zero_offset[] = { 0x10, 'a', 0, 0, 0x10, 'b' };
	const uint8_t far_offset[] = { 0x10, 'a', 2, 0, 0x10, 'b' };
	const uint8_t short_literals[] = { 0x50, 'a', 'b' };
	const uint8_t cut_extension[] = { 0xf0, 255 };
	const uint8_t cut_offset[] = { 0x10, 'a', 1 };
	const uint8_t big_match[] = { 0x1f, 'a', 1, 0, 255, 255, 255, 0x00 };

	cr_assert_eq(lz4_block_decode(zero_offset, 6, out, sizeof(out)),
		     -EINVAL);
	cr_assert_eq(lz4_block_decode(far_offset, 6, out, sizeof(out)), -EINVAL);
	cr_assert_eq(lz4_block_decode(short_literals, 3, out, sizeof(out)),
		     -EINVAL);
	cr_assert_eq(lz4_block_decode(cut_extension, 2, out, sizeof(out)),
		     -EINVAL);
	cr_assert_eq(lz4_block_decode(cut_offset, 3, out, sizeof(out)),
		     -EINVAL);
	/* A match longer than the room left in the output. */
	cr_assert_eq(lz4_block_decode(big_match, sizeof(big_match), out, 100),
		     -EINVAL);
	cr_assert_eq(lz4_block_decode(out, 0, out, sizeof(out)), -EINVAL);
}

/* ---- LZ4 legacy streams, made with literal-only blocks ---- */

struct stream {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct stream *s, const void *d, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->p = realloc(s->p, s->cap);
		cr_assert_not_null(s->p);
	}
	memcpy(s->p + s->len, d, n);
	s->len += n;
}

static void put32(struct stream *s, uint32_t v)
{
	uint8_t b[4];

	w32(b, v);
	put(s, b, 4);
}

/* One block that stores data as literals, the size word first. */
static void put_literal_block(struct stream *s, const uint8_t *d, size_t n)
{
	struct stream b = { 0 };
	uint8_t t = n >= 15 ? 0xf0 : (uint8_t)(n << 4);

	put(&b, &t, 1);
	if (n >= 15) {
		size_t left = n - 15;

		for (; left >= 255; left -= 255)
			put(&b, "\xff", 1);
		t = (uint8_t)left;
		put(&b, &t, 1);
	}
	put(&b, d, n);
	put32(s, (uint32_t)b.len);
	put(s, b.p, b.len);
	free(b.p);
}

/* A legacy stream of data in blocks of at most block bytes. */
static struct stream lz4_legacy(const uint8_t *d, size_t n, size_t block)
{
	struct stream s = { 0 };

	put32(&s, 0x184c2102);
	for (size_t at = 0; at < n; at += block)
		put_literal_block(&s, d + at, n - at < block ? n - at : block);
	return s;
}

struct collect {
	struct stream got;
	unsigned blocks;
};

static int collect(void *ctx, const uint8_t *d, uint64_t n)
{
	struct collect *c = ctx;

	put(&c->got, d, n);
	c->blocks++;
	return 0;
}

Test(lz4, legacy_stream_decodes_block_by_block)
{
	static uint8_t buf[LZ4_LEGACY_BLOCK];
	uint8_t *data = make_blob(10000, 3);
	struct stream s = lz4_legacy(data, 10000, 4096);
	struct collect c = { 0 };

	cr_assert_eq(lz4_legacy_decode(s.p, s.len, buf, sizeof(buf), collect,
				       &c), 0);
	cr_assert_eq(c.blocks, 3);
	cr_assert_eq(c.got.len, 10000);
	cr_assert_arr_eq(c.got.p, data, 10000);

	/* Cut short, a bad magic, a block size past the end: refused. */
	cr_assert_eq(lz4_legacy_decode(s.p, s.len - 1, buf, sizeof(buf),
				       collect, &c),
		     -EINVAL);
	s.p[0] ^= 1;
	cr_assert_eq(lz4_legacy_decode(s.p, s.len, buf, sizeof(buf), collect,
				       &c), -EINVAL);
	s.p[0] ^= 1;
	/* A block larger than the buffer it is decoded into. */
	cr_assert_eq(lz4_legacy_decode(s.p, s.len, buf, 4095, collect, &c),
		     -EINVAL);
	w32(s.p + 4, 0x7fffffff);
	cr_assert_eq(lz4_legacy_decode(s.p, s.len, buf, sizeof(buf), collect,
				       &c), -EINVAL);
	free(s.p);
	free(c.got.p);
	free(data);
}

/* ---- bzImages with an LZ4 payload ---- */

#define LOAD 0x1000000u
#define SEG_OFF 0x1000u /* the segment's offset in the ELF file */
#define SEG_FILESZ 0x5000u
#define SEG_MEMSZ 0x8000u

/* A one-segment ELF64 vmlinux, plus junk after it as relocations are. */
static struct stream make_vmlinux(uint64_t paddr, uint64_t entry)
{
	struct stream s = { 0 };
	uint8_t hdr[SEG_OFF] = { 0 };
	uint8_t *ph = hdr + 64;
	uint8_t *body = make_blob(SEG_FILESZ, 0x42);

	memcpy(hdr, "\177ELF", 4);
	hdr[4] = 2; /* ELFCLASS64 */
	hdr[5] = 1;
	hdr[6] = 1;
	w16(hdr + 16, 2);    /* ET_EXEC */
	w16(hdr + 18, 62);   /* EM_X86_64 */
	w32(hdr + 20, 1);
	w64(hdr + 24, entry);
	w64(hdr + 32, 64);   /* e_phoff */
	w16(hdr + 52, 64);   /* e_ehsize */
	w16(hdr + 54, 56);   /* e_phentsize */
	w16(hdr + 56, 1);    /* e_phnum */
	w32(ph, 1);          /* PT_LOAD */
	w32(ph + 4, 7);
	w64(ph + 8, SEG_OFF);
	w64(ph + 16, 0xffffffff81000000ull);
	w64(ph + 24, paddr);
	w64(ph + 32, SEG_FILESZ);
	w64(ph + 40, SEG_MEMSZ);
	w64(ph + 48, 0x1000);
	put(&s, hdr, sizeof(hdr));
	put(&s, body, SEG_FILESZ);
	put(&s, "RELOCS..", 8);
	free(body);
	return s;
}

/* A bzImage whose protected-mode part is an LZ4 payload of vmlinux. */
static uint8_t *make_lz4_bzimage(const struct stream *vmlinux, size_t *size)
{
	struct bz_opts o = bz_defaults();
	struct stream z = lz4_legacy(vmlinux->p, vmlinux->len, 0x2000);
	const uint32_t payload_off = 0x100; /* as the decompressor's code */
	uint8_t *img;

	put32(&z, (uint32_t)vmlinux->len);
	o.payload = (uint32_t)((payload_off + z.len + 15) & ~15u);
	img = make_bzimage(&o, size);
	w32(img + 0x248, payload_off);
	w32(img + 0x24c, (uint32_t)z.len);
	memcpy(img + bz_setup_size(&o) + payload_off, z.p, z.len);
	free(z.p);
	return img;
}

static int boot_lz4(struct guest *g, const struct stream *vmlinux,
		    const char *cmdline, struct boot_entry *e)
{
	size_t size;
	uint8_t *img = make_lz4_bzimage(vmlinux, &size);
	struct boot_input in = guest_input(g, img, size, "vmlinuz");
	int ret;

	in.cmdline = cmdline;
	ret = boot_load(&g->gm, &in, e, &g->err);
	free(img);
	return ret;
}

Test(unpack, nokaslr_unpacks_the_vmlinux_into_place)
{
	struct guest g;
	struct stream v = make_vmlinux(LOAD, LOAD + 0x40);
	struct boot_entry e;
	uint8_t zero[SEG_MEMSZ - SEG_FILESZ] = { 0 };

	guest_init(&g, 64 * MiB);
	cr_assert_eq(boot_lz4(&g, &v, "console=ttyS0 nokaslr quiet", &e), 0,
		     "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE_UNPACKED);
	cr_assert_eq(e.mode, BOOT_MODE_LONG64);
	cr_assert_eq(e.rip, LOAD + 0x40, "the ELF entry, not load + 0x200");
	cr_assert_eq(e.rsi, LAYOUT_ZERO_PAGE);
	cr_assert_arr_eq(g.ram + LOAD, v.p + SEG_OFF, SEG_FILESZ);
	cr_assert_arr_eq(g.ram + LOAD + SEG_FILESZ, zero, sizeof(zero),
			 "bss not zeroed");
	/* The zero page is still the bzImage's. */
	cr_assert_arr_eq(g.ram + LAYOUT_ZERO_PAGE + 0x202, "HdrS", 4);
	free(v.p);
	guest_fini(&g);
}

Test(unpack, without_nokaslr_the_guest_decompresses)
{
	struct guest g;
	struct stream v = make_vmlinux(LOAD, LOAD + 0x40);
	struct boot_entry e;

	guest_init(&g, 64 * MiB);
	/* "nokaslrx" and "xnokaslr" are other words. */
	cr_assert_eq(boot_lz4(&g, &v, "xnokaslr nokaslrx", &e), 0, "%s",
		     g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE);
	cr_assert_eq(e.rip, LOAD + 0x200);
	free(v.p);
	guest_fini(&g);
}

Test(unpack, payloads_that_do_not_check_out_go_to_the_guest)
{
	struct guest g;
	struct boot_entry e;
	/* Below the load address; past init_size; entry outside the segment. */
	struct stream low = make_vmlinux(LOAD - 0x100000, LOAD - 0x100000);
	struct stream high = make_vmlinux(LOAD + 4 * MiB - 0x1000,
					  LOAD + 4 * MiB - 0x1000);
	struct stream stray = make_vmlinux(LOAD, LOAD + SEG_MEMSZ);

	guest_init(&g, 64 * MiB);
	cr_assert_eq(boot_lz4(&g, &low, "nokaslr", &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE);
	cr_assert_eq(boot_lz4(&g, &high, "nokaslr", &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE);
	cr_assert_eq(boot_lz4(&g, &stray, "nokaslr", &e), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE);
	cr_assert_eq(e.rip, LOAD + 0x200);
	free(low.p);
	free(high.p);
	free(stray.p);
	guest_fini(&g);
}

Test(unpack, a_size_trailer_that_disagrees_goes_to_the_guest)
{
	struct guest g;
	struct stream v = make_vmlinux(LOAD, LOAD);
	struct boot_entry e;
	size_t size;
	uint8_t *img = make_lz4_bzimage(&v, &size);
	struct boot_input in = guest_input(&g, img, size, "vmlinuz");
	uint32_t off = r32(img + 0x248), len = r32(img + 0x24c);
	uint8_t *trailer = img + bz_setup_size(&(struct bz_opts){
					 .setup_sects = 4 }) + off + len - 4;

	guest_init(&g, 64 * MiB);
	w32(trailer, r32(trailer) + 1);
	in.cmdline = "nokaslr";
	cr_assert_eq(boot_load(&g.gm, &in, &e, &g.err), 0, "%s", g.err.msg);
	cr_assert_eq(e.format, BOOT_FMT_BZIMAGE);
	free(img);
	free(v.p);
	guest_fini(&g);
}
