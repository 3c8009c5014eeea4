/*
 * A memory file's layout (where each region of RAM is in the file), its
 * check on hostile input, and merging a Diff onto its base.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

void gm_file_layout(const struct guest_mem *gm, struct gm_file_region *out,
		    unsigned *n)
{
	uint64_t off = 0;

	for (int i = 0; i < gm->nr; i++) {
		out[i] = (struct gm_file_region){ .gpa = gm->r[i].gpa,
						  .size = gm->r[i].size,
						  .offset = off };
		off += gm->r[i].size;
	}
	*n = (unsigned)gm->nr;
}

static int bad(struct mvm_err *err, unsigned i, const char *field,
	       uint64_t v, const char *why)
{
	return mvm_fail(err, -EINVAL, "memory layout: region %u: %s 0x%llx %s",
			i, field, (unsigned long long)v, why);
}

/* One region on its own: alignment, sizes, sums, the 32-bit hole. */
static int check_region(const struct gm_file_region *r, unsigned i,
			uint64_t file_size, struct mvm_err *err)
{
	if (r->size == 0)
		return bad(err, i, "size", 0, "is empty");
	if (r->gpa % GM_PAGE)
		return bad(err, i, "gpa", r->gpa, "is not 4 KiB-aligned");
	if (r->size % GM_PAGE)
		return bad(err, i, "size", r->size,
			   "is not a multiple of 4 KiB");
	if (r->offset % GM_PAGE)
		return bad(err, i, "offset", r->offset,
			   "is not 4 KiB-aligned");
	if (r->gpa + r->size < r->gpa)
		return bad(err, i, "size", r->size,
			   "runs past the end of the address space");
	if (r->offset + r->size < r->offset)
		return bad(err, i, "offset", r->offset,
			   "plus the size runs past 2^64");
	if (r->gpa < MEM_HOLE_END && r->gpa + r->size > MEM_HOLE_START)
		return bad(err, i, "gpa", r->gpa,
			   "overlaps the 32-bit hole [0xc0000000, "
			   "0x100000000)");
	if (file_size && r->offset + r->size > file_size)
		return mvm_fail(err, -EINVAL, "memory layout: region %u: "
				"offset 0x%llx + size 0x%llx is past the "
				"memory file's end (%llu bytes)", i,
				(unsigned long long)r->offset,
				(unsigned long long)r->size,
				(unsigned long long)file_size);
	return 0;
}

int gm_file_layout_check(const struct gm_file_region *r, unsigned n,
			 uint64_t file_size, struct mvm_err *err)
{
	int ret;

	if (n == 0 || n > MEM_MAX_REGIONS)
		return mvm_fail(err, -EINVAL, "memory layout: %u regions "
				"(1 to %d allowed)", n, MEM_MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		ret = check_region(&r[i], i, file_size, err);
		if (ret)
			return ret;
		if (i && r[i].gpa < r[i - 1].gpa + r[i - 1].size)
			return bad(err, i, "gpa", r[i].gpa, "overlaps or "
				   "comes before the region before it");
		for (unsigned j = 0; j < i; j++) {
			if (r[i].offset < r[j].offset + r[j].size &&
			    r[j].offset < r[i].offset + r[i].size)
				return mvm_fail(err, -EINVAL, "memory layout: "
						"region %u: offset 0x%llx "
						"overlaps region %u in the "
						"file", i,
						(unsigned long long)r[i].offset,
						j);
		}
	}
	return 0;
}

int gm_open_regular(const char *path, int flags, off_t *size,
		    struct mvm_err *err)
{
	struct stat st;
	int fd = open(path, flags | O_CLOEXEC), e = 0;

	if (fd < 0)
		return mvm_fail(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode))
		e = EINVAL;
	if (e) {
		close(fd);
		return mvm_fail(err, -e, "%s: %s", path, e == EINVAL ?
				"not a regular file" : strerror(e));
	}
	*size = st.st_size;
	return fd;
}
