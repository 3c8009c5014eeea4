/*
 * Unpacking a bzImage on the host. A bzImage's payload is the kernel's ELF
 * vmlinux, compressed; the kernel's own decompressor unpacks it in guest
 * RAM at boot, which costs the guest its first seconds where instructions
 * are dear (in nested or emulated set-ups) and faults in twice the
 * kernel's size of guest memory. mvm can do that work natively instead:
 * decode the payload, put each loadable segment at its physical address
 * and enter the vmlinux at its ELF entry with the same zero page, as the
 * 64-bit boot protocol allows (Firecracker boots a vmlinux this way).
 *
 * The decompressor also randomises the kernel's address (KASLR); mvm does
 * not apply the payload's relocations, so it unpacks only when the command
 * line says "nokaslr" and otherwise leaves the job to the guest. LZ4 is
 * the format decoded here (Debian's kernels use it); other payloads, and
 * anything that does not check out, fall back to the guest's decompressor.
 *
 * The stream is decoded block by block and scattered straight into guest
 * RAM, so mvm never holds the whole vmlinux.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/mem.h"

#include "loader.h"
#include "lz4.h"

#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define MAX_SEGS 16

struct unpack {
	struct guest_mem *gm;
	const char *name;
	uint64_t floor, ceil; /* where segments may go: [floor, ceil) */
	uint64_t total;       /* the stream's size, from the payload's end */
	uint64_t at;          /* stream offset of the next decoded byte */
	bool have_segs;
	unsigned nseg;
	struct elf_phdr seg[MAX_SEGS];
	uint64_t entry;
};

bool bzimage_unpack_wanted(const char *cmdline)
{
	const char *p = cmdline;
	size_t n = strlen("nokaslr");

	while ((p = strstr(p, "nokaslr"))) {
		bool starts = p == cmdline || p[-1] == ' ';
		bool ends = p[n] == '\0' || p[n] == ' ';

		if (starts && ends)
			return true;
		p += n;
	}
	return false;
}

/* A segment fits when it lies wholly in [floor, ceil) and in the stream. */
static bool seg_fits(const struct unpack *u, const struct elf_phdr *ph)
{
	return ph->filesz <= ph->memsz && ph->paddr >= u->floor &&
	       ph->paddr <= u->ceil && ph->memsz <= u->ceil - ph->paddr &&
	       in_file(u->total, ph->offset, ph->filesz);
}

/* The first block holds the ELF and program headers: take the segments. */
static int take_segments(struct unpack *u, const uint8_t *data, uint64_t n)
{
	struct mvm_err err = { .msg = "" };
	struct elf_file ef;
	bool entry_in = false;

	if (elf_open(&ef, data, n, u->name, &err) || !ef.is64)
		return -ENOEXEC;
	for (unsigned i = 0; i < ef.phnum; i++) {
		struct elf_phdr ph;

		elf_phdr(&ef, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (u->nseg == MAX_SEGS || !seg_fits(u, &ph))
			return -ENOEXEC;
		if (ef.entry >= ph.paddr && ef.entry - ph.paddr < ph.filesz)
			entry_in = true;
		u->seg[u->nseg++] = ph;
	}
	if (!entry_in)
		return -ENOEXEC;
	u->entry = ef.entry;
	u->have_segs = true;
	return 0;
}

/* Copy the part of one decoded block that belongs to loadable segments. */
static int scatter(void *ctx, const uint8_t *data, uint64_t n)
{
	struct unpack *u = ctx;
	int ret;

	if (!u->have_segs) {
		ret = take_segments(u, data, n);
		if (ret)
			return ret;
	}
	if (n > u->total - u->at)
		return -EINVAL; /* longer than the payload said */
	for (unsigned i = 0; i < u->nseg; i++) {
		const struct elf_phdr *s = &u->seg[i];
		uint64_t lo = s->offset > u->at ? s->offset : u->at;
		uint64_t hi_seg = s->offset + s->filesz, hi_blk = u->at + n;
		uint64_t hi = hi_seg < hi_blk ? hi_seg : hi_blk;

		if (lo < hi && gm_write(u->gm, s->paddr + (lo - s->offset),
					data + (lo - u->at), hi - lo))
			return -EFAULT;
	}
	u->at += n;
	return 0;
}

/* Zero each segment's bss: guest RAM may hold an earlier boot's kernel. */
static int zero_bss(const struct unpack *u)
{
	for (unsigned i = 0; i < u->nseg; i++) {
		const struct elf_phdr *s = &u->seg[i];
		uint64_t len = s->memsz - s->filesz;
		void *p = gm_ptr(u->gm, s->paddr + s->filesz, len);

		if (len && !p)
			return -EFAULT;
		if (len)
			memset(p, 0, len);
	}
	return 0;
}

int bzimage_unpack(struct guest_mem *gm, const struct boot_input *in,
		   uint64_t setup_size, uint64_t floor, uint64_t ceil,
		   uint64_t *entry)
{
	const uint8_t *pm = in->kernel + setup_size; /* protected-mode part */
	uint64_t pm_size = in->kernel_size - setup_size;
	uint64_t off = get_le32(in->kernel + HDR_PAYLOAD_OFFSET);
	uint64_t len = get_le32(in->kernel + HDR_PAYLOAD_LENGTH);
	struct unpack u = { .gm = gm, .name = in->kernel_name,
			    .floor = floor, .ceil = ceil };
	uint64_t buf_len;
	uint8_t *buf;
	int ret;

	/* The last 4 bytes of the payload give the unpacked size. */
	if (len < 8 || !in_file(pm_size, off, len) ||
	    !lz4_legacy_probe(pm + off, len - 4))
		return -ENOEXEC; /* not a payload this file decodes */
	u.total = get_le32(pm + off + len - 4);
	/* No block decodes to more than the whole: small kernels, small buf. */
	buf_len = u.total < LZ4_LEGACY_BLOCK ? u.total : LZ4_LEGACY_BLOCK;
	buf = malloc(buf_len ? buf_len : 1);
	if (!buf)
		return -ENOMEM;
	ret = lz4_legacy_decode(pm + off, len - 4, buf, buf_len, scatter, &u);
	free(buf);
	if (!ret && (u.at != u.total || !u.have_segs))
		ret = -EINVAL;
	if (!ret)
		ret = zero_bss(&u);
	if (!ret)
		*entry = u.entry;
	return ret;
}
