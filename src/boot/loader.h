/*
 * Helpers shared by the kernel loaders in this directory: a bounds-checked
 * ELF reader and the placement of the command line and the initrd. Not part
 * of the public boot API (include/mvm/boot.h).
 *
 * Everything read from an image is hostile. The helpers take sizes as
 * uint64_t and compare with subtractions, never additions, so that no crafted
 * offset or size can wrap around.
 */
#ifndef MVM_BOOT_LOADER_H
#define MVM_BOOT_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;
struct mvm_err;
struct boot_input;

#define PAGE_SIZE_4K 0x1000ULL
#define MIB (UINT64_C(1) << 20)

/* True when [off, off+len) lies inside a buffer of size bytes. */
static inline bool in_file(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

/* Little-endian field readers; the caller has bounds-checked the offset. */
static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- ELF (elf.c) ---- */

/* An ELF32 or ELF64 file, validated up to its program header table. */
struct elf_file {
	const uint8_t *data;
	uint64_t size;
	const char *name; /* for messages */
	bool is64;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phnum;
	uint16_t phentsize;
};

/* One program header, widened to 64 bits whatever the class. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* True when data starts with the ELF magic. */
bool elf_is_elf(const uint8_t *data, uint64_t size);

/*
 * Validate the ELF header and the bounds of the program header table.
 * -ENOEXEC if data is not ELF; -EINVAL with "kernel NAME: ..." if it is ELF
 * but malformed or not x86.
 */
int elf_open(struct elf_file *ef, const uint8_t *data, uint64_t size,
	     const char *name, struct mvm_err *err);

/* Program header i (< ef->phnum); elf_open checked the table's bounds. */
void elf_phdr(const struct elf_file *ef, unsigned i, struct elf_phdr *ph);

/*
 * Find the first note of type in a PT_NOTE segment whose owner is name
 * ("Xen"). Returns 0 and points *desc at its descriptor (inside the file),
 * or -ENOENT. Malformed notes end the walk of their segment silently: a
 * kernel that has no readable note simply is not of that format.
 */
int elf_find_note(const struct elf_file *ef, const char *owner, uint32_t type,
		  const uint8_t **desc, uint32_t *descsz);

/*
 * Copy every PT_LOAD segment to its p_paddr and zero its bss. Every segment
 * must lie in guest RAM, and at or above LAYOUT_HIGH (where the low 1 MiB
 * holds mvm's boot structures) unless low_ok: a loader that has checked
 * the segments against its own structures. *end = highest byte loaded + 1.
 */
int elf_load(const struct elf_file *ef, struct guest_mem *gm, bool low_ok,
	     uint64_t *end, struct mvm_err *err);

/* ---- command line and initrd placement (place.c) ---- */

/*
 * Copy cmdline to LAYOUT_CMDLINE. limit is the longest string (without its
 * NUL) the kernel accepts; longer is -E2BIG "cmdline: N bytes is longer
 * than this kernel's limit of M".
 */
int boot_put_cmdline(struct guest_mem *gm, const char *cmdline, uint64_t limit,
		     struct mvm_err *err);

/*
 * Highest page-aligned address a with [a, a+size) wholly in one RAM region,
 * floor <= a and a+size <= ceil. Returns 0 and sets *addr, or -ENOSPC.
 */
int boot_place_high(const struct guest_mem *gm, uint64_t floor, uint64_t ceil,
		    uint64_t size, uint64_t *addr);

/*
 * Place in->initrd as high as possible in [floor, ceil) and copy it there.
 * -ENOSPC "initrd NAME: N MiB does not fit below 0x... with M MiB of RAM".
 * Must only be called when in->initrd is set.
 */
int boot_put_initrd(struct guest_mem *gm, const struct boot_input *in,
		    uint64_t floor, uint64_t ceil, uint64_t *addr,
		    struct mvm_err *err);

/* ---- bzImage payloads unpacked by mvm (unpack.c) ---- */

/* True when cmdline turns KASLR off ("nokaslr"), the condition to unpack. */
bool bzimage_unpack_wanted(const char *cmdline);

/*
 * Decode the bzImage's payload (LZ4) and put its vmlinux's loadable
 * segments in guest RAM, each wholly inside [floor, ceil). setup_size is
 * the real-mode part's; the header must be protocol 2.08 or later. 0 and
 * the ELF entry in *entry, or a negative errno when the payload is not
 * one mvm unpacks (the caller then lets the guest decompress it).
 */
int bzimage_unpack(struct guest_mem *gm, const struct boot_input *in,
		   uint64_t setup_size, uint64_t floor, uint64_t ceil,
		   uint64_t *entry);

/* ---- format probes, used by boot.c to pick a loader ---- */

/* True when the image carries the Linux setup header magic "HdrS". */
bool bzimage_probe(const uint8_t *img, uint64_t size);

/* True when the image is ELF with a Xen PVH entry note. */
bool pvh_probe(const uint8_t *img, uint64_t size);

/* ---- multiboot header scan (multiboot.c), used by boot.c to detect ---- */

/* Offset of a valid multiboot v1 header in the first 8 KiB, or -ENOENT. */
int64_t multiboot_find_header(const uint8_t *img, uint64_t size);

#endif
