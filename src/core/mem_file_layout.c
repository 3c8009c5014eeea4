/*
 * The check of a memory file's layout as a state file claims it: every
 * value is hostile until this passes, since restore maps the file by it
 * and registers the regions with KVM.
 */
#include <inttypes.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"

static int bad(struct mvm_err *err, unsigned i, const char *field,
	       uint64_t v, const char *why)
{
	return mvm_fail(err, -EINVAL, "memory region %u: %s 0x%" PRIx64
			" %s", i, field, v, why);
}

/* One region on its own: alignment, size, overflow, the 32-bit hole. */
static int check_one(const struct gm_file_region *r, unsigned i,
		     uint64_t file_size, struct mvm_err *err)
{
	if (!r->size)
		return bad(err, i, "size", r->size, "is empty");
	if (r->size % GM_PAGE)
		return bad(err, i, "size", r->size, "is not a multiple of "
			   "4 KiB");
	/* KVM's memslots start on a page too. */
	if (r->gpa % GM_PAGE)
		return bad(err, i, "gpa", r->gpa, "is not a multiple of 4 KiB");
	if (r->offset % GM_PAGE)
		return bad(err, i, "offset", r->offset, "is not a multiple "
			   "of 4 KiB");
	if (r->gpa > UINT64_MAX - r->size)
		return bad(err, i, "gpa", r->gpa, "+ size overflows");
	if (r->offset > UINT64_MAX - r->size)
		return bad(err, i, "offset", r->offset, "+ size overflows");
	if (r->gpa < MEM_HOLE_END && r->gpa + r->size > MEM_HOLE_START)
		return bad(err, i, "gpa", r->gpa, "+ size reaches into the "
			   "32-bit hole [0xc0000000, 0x100000000)");
	if (file_size && r->offset + r->size > file_size)
		return mvm_fail(err, -EINVAL, "memory region %u: offset 0x%"
				PRIx64 " + size 0x%" PRIx64 " is past the "
				"memory file's end (0x%" PRIx64 " bytes)", i,
				r->offset, r->size, file_size);
	return 0;
}

int gm_file_layout_check(const struct gm_file_region *r, unsigned n,
			 uint64_t file_size, struct mvm_err *err)
{
	int ret;

	if (n < 1 || n > MEM_MAX_REGIONS)
		return mvm_fail(err, -EINVAL, "memory: %u regions (want 1 to "
				"%d)", n, MEM_MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		ret = check_one(&r[i], i, file_size, err);
		if (ret)
			return ret;
		/* Ascending: a region starts at or past the previous end. */
		if (i && r[i].gpa < r[i - 1].gpa + r[i - 1].size)
			return bad(err, i, "gpa", r[i].gpa, "overlaps or is "
				   "below the region before it");
		/* File ranges: any order, never two on the same bytes. */
		for (unsigned j = 0; j < i; j++)
			if (r[i].offset < r[j].offset + r[j].size &&
			    r[j].offset < r[i].offset + r[i].size)
				return mvm_fail(err, -EINVAL, "memory region "
						"%u: offset 0x%" PRIx64 " "
						"overlaps region %u's bytes in "
						"the file", i, r[i].offset, j);
	}
	return 0;
}
