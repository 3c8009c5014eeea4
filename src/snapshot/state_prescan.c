/*
 * A walk over a state file's FDT structure block before libfdt sees it.
 * libfdt 1.6.1 (Debian 12's) adds a property's length to its offset as a
 * signed number: a length such as 0xfffffff4 moves the walk backwards onto
 * the same tag, and fdt_check_full() then never returns (found by
 * fuzz_snapshot). This walk reads every tag itself, with each step
 * checked to move forwards and to stay inside the block, and refuses the
 * file before any libfdt call could loop.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libfdt.h>

#include "mvm/err.h"

#include "state_fdt.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t align4(uint64_t v)
{
	return (v + 3) & ~(uint64_t)3;
}

/* The next tag's offset after the one at off, or 0 when it is wrong. */
static uint64_t step(const uint8_t *b, uint64_t off, uint64_t end,
		     int *depth, bool *done)
{
	uint32_t tag = be32(b + off);
	const uint8_t *nul;

	switch (tag) {
	case FDT_BEGIN_NODE:
		nul = memchr(b + off + 4, 0, end - off - 4);
		if (!nul)
			return 0;
		++*depth;
		return align4((uint64_t)(nul - b) + 1);
	case FDT_PROP: {
		uint64_t len;

		if (end - off < 12)
			return 0;
		len = be32(b + off + 4);
		if (len > end - off - 12)
			return 0;
		return align4(off + 12 + len);
	}
	case FDT_END_NODE:
		return --*depth < 0 ? 0 : off + 4;
	case FDT_NOP:
		return off + 4;
	case FDT_END:
		*done = true;
		return off + 4;
	default:
		return 0;
	}
}

int snap_fdt_prescan(const void *fdt, size_t len, struct mvm_err *err)
{
	const uint8_t *b = fdt;
	uint64_t off = be32(b + offsetof(struct fdt_header, off_dt_struct));
	uint64_t size = be32(b + offsetof(struct fdt_header, size_dt_struct));
	uint64_t end = off + size;
	bool done = false;
	int depth = 0;

	if (be32(b + offsetof(struct fdt_header, version)) < 17 ||
	    off % 4 || end > len)
		return mvm_fail(err, -EINVAL, "corrupt FDT: its structure "
				"block lies outside the file, or its version "
				"is older than 17");
	while (!done) {
		uint64_t next;

		if (end - off < 4)
			return mvm_fail(err, -EINVAL, "corrupt FDT: the "
					"structure block ends without FDT_END");
		next = step(b, off, end, &depth, &done);
		if (next <= off || next > end)
			return mvm_fail(err, -EINVAL, "corrupt FDT: a bad tag "
					"or length at offset %llu of the "
					"structure block",
					(unsigned long long)(off - (end - size)));
		off = next;
	}
	if (depth)
		return mvm_fail(err, -EINVAL, "corrupt FDT: %d node%s left "
				"open", depth, depth == 1 ? "" : "s");
	return 0;
}
