/*
 * A small ELF reader for kernels: enough to find notes and load segments by
 * physical address, for both ELF32 and ELF64. Each header is copied out of
 * the file into an aligned struct only after its bounds were checked, and
 * both classes are widened to one struct elf_phdr so the loaders have a
 * single code path.
 */
#include <elf.h>
#include <inttypes.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#include "loader.h"

bool elf_is_elf(const uint8_t *data, uint64_t size)
{
	return size >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0;
}

static int open64(struct elf_file *ef, struct mvm_err *err)
{
	Elf64_Ehdr h;

	if (ef->size < sizeof(h))
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: the ELF header needs %zu bytes but the file has %" PRIu64,
				ef->name, sizeof(h), ef->size);
	memcpy(&h, ef->data, sizeof(h));
	if (h.e_machine != EM_X86_64 && h.e_machine != EM_386)
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF machine %u is not x86",
				ef->name, h.e_machine);
	if (h.e_type != ET_EXEC && h.e_type != ET_DYN)
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF type %u is not an executable",
				ef->name, h.e_type);
	if (h.e_phentsize < sizeof(Elf64_Phdr))
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF program header size %u is too small",
				ef->name, h.e_phentsize);
	ef->entry = h.e_entry;
	ef->phoff = h.e_phoff;
	ef->phnum = h.e_phnum;
	ef->phentsize = h.e_phentsize;
	return 0;
}

static int open32(struct elf_file *ef, struct mvm_err *err)
{
	Elf32_Ehdr h;

	if (ef->size < sizeof(h))
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: the ELF header needs %zu bytes but the file has %" PRIu64,
				ef->name, sizeof(h), ef->size);
	memcpy(&h, ef->data, sizeof(h));
	if (h.e_machine != EM_386 && h.e_machine != EM_X86_64)
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF machine %u is not x86",
				ef->name, h.e_machine);
	if (h.e_type != ET_EXEC && h.e_type != ET_DYN)
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF type %u is not an executable",
				ef->name, h.e_type);
	if (h.e_phentsize < sizeof(Elf32_Phdr))
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF program header size %u is too small",
				ef->name, h.e_phentsize);
	ef->entry = h.e_entry;
	ef->phoff = h.e_phoff;
	ef->phnum = h.e_phnum;
	ef->phentsize = h.e_phentsize;
	return 0;
}

int elf_open(struct elf_file *ef, const uint8_t *data, uint64_t size,
	     const char *name, struct mvm_err *err)
{
	int ret;

	memset(ef, 0, sizeof(*ef));
	if (!elf_is_elf(data, size))
		return -ENOEXEC;
	ef->data = data;
	ef->size = size;
	ef->name = name;
	if (size < EI_NIDENT)
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: %" PRIu64 " bytes is shorter than an ELF identification",
				name, size);
	if (data[EI_DATA] != ELFDATA2LSB)
		return mvm_fail(err, -EINVAL,
				"kernel %s: not a little-endian ELF file", name);
	switch (data[EI_CLASS]) {
	case ELFCLASS64:
		ef->is64 = true;
		ret = open64(ef, err);
		break;
	case ELFCLASS32:
		ret = open32(ef, err);
		break;
	default:
		return mvm_fail(err, -EINVAL, "kernel %s: unknown ELF class %u",
				name, data[EI_CLASS]);
	}
	if (ret)
		return ret;
	/* PN_XNUM means the real count hides in section 0: no kernel does it. */
	if (ef->phnum == 0 || ef->phnum == PN_XNUM)
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF file has no usable program headers",
				name);
	if (!in_file(size, ef->phoff, (uint64_t)ef->phnum * ef->phentsize))
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: %u program headers at offset 0x%" PRIx64 " run past the file's %" PRIu64 " bytes",
				name, ef->phnum, ef->phoff, size);
	return 0;
}

void elf_phdr(const struct elf_file *ef, unsigned i, struct elf_phdr *ph)
{
	const uint8_t *p = ef->data + ef->phoff + (uint64_t)i * ef->phentsize;

	if (ef->is64) {
		Elf64_Phdr h;

		memcpy(&h, p, sizeof(h));
		*ph = (struct elf_phdr){ h.p_type, h.p_offset, h.p_vaddr,
					 h.p_paddr, h.p_filesz, h.p_memsz,
					 h.p_align };
	} else {
		Elf32_Phdr h;

		memcpy(&h, p, sizeof(h));
		*ph = (struct elf_phdr){ h.p_type, h.p_offset, h.p_vaddr,
					 h.p_paddr, h.p_filesz, h.p_memsz,
					 h.p_align };
	}
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Search one note segment [seg, seg+len); positions stay below 2^33. */
static int find_in_segment(const uint8_t *seg, uint64_t len, uint64_t align,
			   const char *owner, uint32_t type,
			   const uint8_t **desc, uint32_t *descsz)
{
	uint64_t owner_len = strlen(owner) + 1;
	uint64_t pos = 0;

	while (len - pos >= 12) {
		uint32_t namesz = get_le32(seg + pos);
		uint32_t dsz = get_le32(seg + pos + 4);
		uint32_t ntype = get_le32(seg + pos + 8);
		uint64_t name_pos = pos + 12;
		uint64_t desc_pos = align_up(name_pos + namesz, align);

		if (desc_pos > len || dsz > len - desc_pos)
			return -ENOENT;
		if (ntype == type && namesz == owner_len &&
		    memcmp(seg + name_pos, owner, owner_len) == 0) {
			*desc = seg + desc_pos;
			*descsz = dsz;
			return 0;
		}
		pos = align_up(desc_pos + dsz, align);
		if (pos > len)
			return -ENOENT;
	}
	return -ENOENT;
}

int elf_find_note(const struct elf_file *ef, const char *owner, uint32_t type,
		  const uint8_t **desc, uint32_t *descsz)
{
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;

		elf_phdr(ef, i, &ph);
		if (ph.type != PT_NOTE || !in_file(ef->size, ph.offset, ph.filesz))
			continue;
		/* Notes are 4-aligned in practice even in ELF64; honour 8. */
		if (find_in_segment(ef->data + ph.offset, ph.filesz,
				    ph.align == 8 ? 8 : 4, owner, type, desc,
				    descsz) == 0)
			return 0;
	}
	return -ENOENT;
}

static int load_one(const struct elf_file *ef, struct guest_mem *gm,
		    unsigned i, const struct elf_phdr *ph, bool low_ok,
		    struct mvm_err *err)
{
	uint8_t *dst;

	if (ph->filesz > ph->memsz)
		return mvm_fail(err, -EINVAL,
				"kernel %s: segment %u: file size 0x%" PRIx64 " exceeds memory size 0x%" PRIx64,
				ef->name, i, ph->filesz, ph->memsz);
	if (!in_file(ef->size, ph->offset, ph->filesz))
		return mvm_fail(err, -EINVAL,
				"kernel %s: truncated: segment %u wants 0x%" PRIx64 " bytes at offset 0x%" PRIx64 " but the file has %" PRIu64,
				ef->name, i, ph->filesz, ph->offset, ef->size);
	if (!low_ok && ph->paddr < LAYOUT_HIGH)
		return mvm_fail(err, -EINVAL,
				"kernel %s: segment %u at 0x%" PRIx64 " is below 1 MiB, where mvm keeps its boot structures",
				ef->name, i, ph->paddr);
	dst = gm_ptr(gm, ph->paddr, ph->memsz);
	if (!dst)
		return mvm_fail(err, -ENOSPC,
				"kernel %s: segment %u (0x%" PRIx64 " bytes at 0x%" PRIx64 ") is not inside guest RAM (%" PRIu64 " MiB)",
				ef->name, i, ph->memsz, ph->paddr,
				gm->ram_size / MIB);
	memcpy(dst, ef->data + ph->offset, ph->filesz);
	memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
	return 0;
}

int elf_load(const struct elf_file *ef, struct guest_mem *gm, bool low_ok,
	     uint64_t *end, struct mvm_err *err)
{
	unsigned loaded = 0;

	*end = 0;
	for (unsigned i = 0; i < ef->phnum; i++) {
		struct elf_phdr ph;
		int ret;

		elf_phdr(ef, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		ret = load_one(ef, gm, i, &ph, low_ok, err);
		if (ret)
			return ret;
		/* load_one proved [paddr, paddr+memsz) is RAM: no overflow. */
		if (ph.paddr + ph.memsz > *end)
			*end = ph.paddr + ph.memsz;
		loaded++;
	}
	if (!loaded)
		return mvm_fail(err, -EINVAL,
				"kernel %s: ELF file has no loadable segment",
				ef->name);
	return 0;
}
