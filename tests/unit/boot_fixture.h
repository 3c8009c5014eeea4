/*
 * Test fixtures for the kernel loaders: a guest built over a calloc'd
 * buffer, and synthetic kernel images (bzImage, ELF with PVH note and/or
 * multiboot header, multiboot a.out kludge) built byte by byte from the
 * protocol documents, so the tests do not share the loaders' definitions.
 */
#ifndef MVM_TEST_BOOT_FIXTURE_H
#define MVM_TEST_BOOT_FIXTURE_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/e820.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#define MiB (1ULL << 20)

static inline void w16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void w32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void w64(uint8_t *p, uint64_t v)
{
	w32(p, (uint32_t)v);
	w32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t r32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t r64(const uint8_t *p)
{
	return (uint64_t)r32(p) | (uint64_t)r32(p + 4) << 32;
}

/* ---- guest ---- */

struct guest {
	struct guest_mem gm;
	uint8_t *ram;
	uint64_t size;
	struct e820_map map;
	struct mvm_err err;
};

static inline void guest_init(struct guest *g, uint64_t size)
{
	memset(g, 0, sizeof(*g));
	g->ram = calloc(1, size);
	cr_assert_not_null(g->ram);
	g->size = size;
	/* Junk, so the tests see what the loaders zero and what they skip. */
	memset(g->ram, 0xaa, size);
	cr_assert_eq(gm_add_host(&g->gm, 0, g->ram, size), 0);
	e820_build(&g->map, &g->gm);
}

static inline void guest_fini(struct guest *g)
{
	free(g->ram);
}

static inline struct boot_input guest_input(const struct guest *g,
					    const uint8_t *kernel, size_t size,
					    const char *name)
{
	return (struct boot_input){
		.kernel = kernel,
		.kernel_size = size,
		.kernel_name = name,
		.cmdline = "console=ttyS0 quiet",
		.e820 = &g->map,
		.rsdp = LAYOUT_ACPI,
		.initrd_name = "initrd.img",
	};
}

/* A recognisable, position-dependent byte pattern. */
static inline void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

static inline uint8_t *make_blob(size_t n, uint8_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	cr_assert_not_null(p);
	fill_pattern(p, n, seed);
	return p;
}

/* ---- bzImage (Documentation/x86/boot.rst) ---- */

struct bz_opts {
	uint16_t version;
	uint8_t setup_sects;
	uint32_t payload;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
};

static inline struct bz_opts bz_defaults(void)
{
	return (struct bz_opts){
		.version = 0x020f,
		.setup_sects = 4,
		.payload = 64 * 1024,
		.xloadflags = 0x3, /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
		.relocatable = 1,
		.pref_address = 0x1000000,
		.init_size = 4 * MiB,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047,
	};
}

static inline size_t bz_setup_size(const struct bz_opts *o)
{
	return ((o->setup_sects ? o->setup_sects : 4) + 1) * 512u;
}

static inline uint8_t *make_bzimage(const struct bz_opts *o, size_t *size)
{
	size_t setup = bz_setup_size(o);
	uint8_t *img = calloc(1, setup + o->payload);

	cr_assert_not_null(img);
	img[0x1f1] = o->setup_sects;
	w32(img + 0x1f4, o->payload / 16);
	w16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb; /* jmp short over the header, to 0x26c */
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	w16(img + 0x206, o->version);
	img[0x211] = 0x01; /* LOADED_HIGH */
	w32(img + 0x22c, o->initrd_addr_max);
	w32(img + 0x230, 0x200000);
	img[0x234] = o->relocatable;
	w16(img + 0x236, o->xloadflags);
	w32(img + 0x238, o->cmdline_size);
	w64(img + 0x258, o->pref_address);
	w32(img + 0x260, o->init_size);
	fill_pattern(img + setup, o->payload, 0x11);
	*size = setup + o->payload;
	return img;
}

/* ---- ELF with a PVH note and/or a multiboot header ---- */

#define FX_ELF_NOTE_OFF 0x200
#define FX_ELF_DATA_OFF 0x1000
#define FX_MB_MAGIC 0x1badb002u

struct elf_opts {
	bool is64;
	bool pvh_note;
	bool mb_header;
	uint64_t paddr, vaddr;
	uint64_t filesz, memsz;
	uint64_t entry;      /* e_entry */
	uint64_t pvh_entry;  /* the note's value */
	uint64_t seg_offset; /* p_offset of the PT_LOAD */
	uint32_t mb_flags;
};

static inline struct elf_opts elf_defaults(bool is64)
{
	return (struct elf_opts){
		.is64 = is64,
		.pvh_note = true,
		.paddr = 0x200000,
		.vaddr = 0x200000,
		.filesz = 0x1000,
		.memsz = 0x3000,
		.entry = 0x200040,
		.pvh_entry = 0x200080,
		.seg_offset = FX_ELF_DATA_OFF,
		.mb_flags = 0x3,
	};
}

static inline void put_mb_header(uint8_t *p, uint32_t flags)
{
	w32(p, FX_MB_MAGIC);
	w32(p + 4, flags);
	w32(p + 8, (uint32_t)-(FX_MB_MAGIC + flags));
}

static inline uint8_t *make_elf(const struct elf_opts *o, size_t *size)
{
	size_t total = FX_ELF_DATA_OFF + o->filesz;
	uint8_t *img = calloc(1, total);
	uint8_t *ph, *note = img + FX_ELF_NOTE_OFF;
	uint32_t descsz = o->is64 ? 8 : 4;
	uint32_t note_len = 12 + 4 + descsz;
	uint16_t phnum = o->pvh_note ? 2 : 1;

	cr_assert_not_null(img);
	memcpy(img, "\177ELF", 4);
	img[4] = o->is64 ? 2 : 1; /* EI_CLASS */
	img[5] = 1;               /* little-endian */
	img[6] = 1;               /* EV_CURRENT */
	if (o->is64) {
		w16(img + 16, 2);    /* ET_EXEC */
		w16(img + 18, 62);   /* EM_X86_64 */
		w32(img + 20, 1);
		w64(img + 24, o->entry);
		w64(img + 32, 64);   /* e_phoff */
		w16(img + 52, 64);   /* e_ehsize */
		w16(img + 54, 56);   /* e_phentsize */
		w16(img + 56, phnum);
		ph = img + 64;
		w32(ph, 1); /* PT_LOAD */
		w32(ph + 4, 7);
		w64(ph + 8, o->seg_offset);
		w64(ph + 16, o->vaddr);
		w64(ph + 24, o->paddr);
		w64(ph + 32, o->filesz);
		w64(ph + 40, o->memsz);
		w64(ph + 48, 0x1000);
		if (o->pvh_note) {
			ph += 56;
			w32(ph, 4); /* PT_NOTE */
			w64(ph + 8, FX_ELF_NOTE_OFF);
			w64(ph + 32, note_len);
			w64(ph + 40, note_len);
			w64(ph + 48, 4);
		}
	} else {
		w16(img + 16, 2);
		w16(img + 18, 3); /* EM_386 */
		w32(img + 20, 1);
		w32(img + 24, (uint32_t)o->entry);
		w32(img + 28, 52);
		w16(img + 40, 52);
		w16(img + 42, 32);
		w16(img + 44, phnum);
		ph = img + 52;
		w32(ph, 1);
		w32(ph + 4, (uint32_t)o->seg_offset);
		w32(ph + 8, (uint32_t)o->vaddr);
		w32(ph + 12, (uint32_t)o->paddr);
		w32(ph + 16, (uint32_t)o->filesz);
		w32(ph + 20, (uint32_t)o->memsz);
		w32(ph + 24, 7);
		w32(ph + 28, 0x1000);
		if (o->pvh_note) {
			ph += 32;
			w32(ph, 4);
			w32(ph + 4, FX_ELF_NOTE_OFF);
			w32(ph + 16, note_len);
			w32(ph + 20, note_len);
			w32(ph + 28, 4);
		}
	}
	if (o->pvh_note) {
		w32(note, 4);      /* namesz: "Xen\0" */
		w32(note + 4, descsz);
		w32(note + 8, 18); /* XEN_ELFNOTE_PHYS32_ENTRY */
		memcpy(note + 12, "Xen", 4);
		if (o->is64)
			w64(note + 16, o->pvh_entry);
		else
			w32(note + 16, (uint32_t)o->pvh_entry);
	}
	fill_pattern(img + FX_ELF_DATA_OFF, o->filesz, 0x33);
	if (o->mb_header)
		put_mb_header(img + FX_ELF_DATA_OFF + 0x10, o->mb_flags);
	*size = total;
	return img;
}

/* ---- multiboot a.out kludge: a flat binary ---- */

#define FX_AOUT_HDR_OFF 0x40

struct aout_opts {
	size_t file_size;
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry;
};

static inline struct aout_opts aout_defaults(void)
{
	return (struct aout_opts){
		.file_size = 0x3000,
		.flags = 0x10003,
		.header_addr = 0x100000 + FX_AOUT_HDR_OFF,
		.load_addr = 0x100000,
		.load_end_addr = 0x102000,
		.bss_end_addr = 0x104000,
		.entry = 0x100080,
	};
}

static inline uint8_t *make_aout(const struct aout_opts *o, size_t *size)
{
	uint8_t *img = make_blob(o->file_size, 0x55);
	uint8_t *h = img + FX_AOUT_HDR_OFF;

	put_mb_header(h, o->flags);
	w32(h + 12, o->header_addr);
	w32(h + 16, o->load_addr);
	w32(h + 20, o->load_end_addr);
	w32(h + 24, o->bss_end_addr);
	w32(h + 28, o->entry);
	*size = o->file_size;
	return img;
}

#endif
