/*
 * Memory files (include/mvm/mem_file.h): the layout check refuses every
 * layout a state file could claim that restore could not map, naming the
 * region and the field; merging a Diff copies exactly its data extents
 * into the base, holes left alone.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"

#define GIB (1ull << 30)
#define MIB (1ull << 20)

/* A 3 GiB + 1 GiB machine, as gm_alloc lays out 4 GiB of RAM. */
static const struct gm_file_region good[2] = {
	{ .gpa = 0, .size = 3 * GIB, .offset = 0 },
	{ .gpa = 4 * GIB, .size = GIB, .offset = 3 * GIB },
};

static void refused(const struct gm_file_region *r, unsigned n,
		    uint64_t file_size, const char *want)
{
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(gm_file_layout_check(r, n, file_size, &err), -EINVAL,
		     "wanted \"%s\"", want);
	cr_assert(strstr(err.msg, want), "\"%s\" does not say \"%s\"",
		  err.msg, want);
}

/* good, with region i's field changed. */
static void refused_with(unsigned i, size_t field, uint64_t v,
			 const char *want)
{
	struct gm_file_region r[2];

	memcpy(r, good, sizeof(r));
	memcpy((char *)&r[i] + field, &v, sizeof(v));
	refused(r, 2, 0, want);
}

#define GPA offsetof(struct gm_file_region, gpa)
#define SIZE offsetof(struct gm_file_region, size)
#define OFFSET offsetof(struct gm_file_region, offset)

Test(mem_file, good_layouts_pass)
{
	struct mvm_err err = { .msg = "" };
	struct gm_file_region r[MEM_MAX_REGIONS];

	cr_assert_eq(gm_file_layout_check(good, 2, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(gm_file_layout_check(good, 2, 4 * GIB, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(gm_file_layout_check(good, 1, 3 * GIB, &err), 0, "%s",
		     err.msg);
	/* Every region there may be, packed in the file in reverse. */
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++)
		r[i] = (struct gm_file_region){ .gpa = i * 16 * MIB,
						.size = 16 * MIB,
						.offset = (7 - i) * 16 * MIB };
	cr_assert_eq(gm_file_layout_check(r, MEM_MAX_REGIONS, 128 * MIB, &err),
		     0, "%s", err.msg);
}

Test(mem_file, counts_sizes_and_alignment)
{
	struct gm_file_region r[MEM_MAX_REGIONS + 1] = { { 0 } };

	refused(good, 0, 0, "memory: 0 regions (want 1 to 8)");
	refused(r, MEM_MAX_REGIONS + 1, 0, "memory: 9 regions (want 1 to 8)");
	refused_with(0, SIZE, 0, "memory region 0: size 0x0 is empty");
	refused_with(1, SIZE, GIB + 100, "memory region 1: size 0x40000064 "
		     "is not a multiple of 4 KiB");
	refused_with(1, GPA, 4 * GIB + 512, "memory region 1: gpa "
		     "0x100000200 is not a multiple of 4 KiB");
	refused_with(1, OFFSET, 3 * GIB + 1, "memory region 1: offset "
		     "0xc0000001 is not a multiple of 4 KiB");
}

Test(mem_file, overflow_the_hole_and_order)
{
	refused_with(1, GPA, UINT64_MAX - 4095, "memory region 1: gpa "
		     "0xfffffffffffff000 + size overflows");
	refused_with(1, OFFSET, UINT64_MAX - 4095, "memory region 1: offset "
		     "0xfffffffffffff000 + size overflows");
	/* Into the hole from below, inside it, out of it from within. */
	refused_with(0, SIZE, 3 * GIB + 4096, "memory region 0: gpa 0x0 + "
		     "size reaches into the 32-bit hole");
	refused_with(1, GPA, 3 * GIB, "memory region 1: gpa 0xc0000000 + "
		     "size reaches into the 32-bit hole");
	refused_with(1, GPA, 4 * GIB - 4096, "memory region 1: gpa "
		     "0xfffff000 + size reaches into the 32-bit hole");
	/* Below or overlapping the region before it. */
	refused_with(0, GPA, 4 * GIB, "memory region 1: gpa 0x100000000 "
		     "overlaps or is below the region before it");
}

Test(mem_file, file_ranges)
{
	struct gm_file_region r[2];

	refused_with(1, OFFSET, 3 * GIB - 4096, "memory region 1: offset "
		     "0xbffff000 overlaps region 0's bytes in the file");
	refused_with(1, OFFSET, 0, "memory region 1: offset 0x0 overlaps "
		     "region 0's bytes");
	/* The file must hold every region. */
	refused(good, 2, 4 * GIB - 4096, "memory region 1: offset "
		"0xc0000000 + size 0x40000000 is past the memory file's end "
		"(0xfffff000 bytes)");
	memcpy(r, good, sizeof(r));
	r[0].offset = GIB;
	r[1].offset = 2 * GIB;
	refused(r, 2, 0, "memory region 1: offset 0x80000000 overlaps region "
		"0's");
}

/* ---- merge ------------------------------------------------------------- */

#define PAGES 64
#define PG GM_PAGE

struct files {
	char dir[256], base[300], diff[300];
};

static void files_new(struct files *f)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/mvm-memfile-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->base, sizeof(f->base), "%s/base.mem", f->dir);
	snprintf(f->diff, sizeof(f->diff), "%s/diff.mem", f->dir);
}

static void files_rm(struct files *f)
{
	unlink(f->base);
	unlink(f->diff);
	cr_assert_eq(rmdir(f->dir), 0);
}

/* A sparse file of PAGES pages with page p filled with fill[p] where
 * fill[p] is not -1 (0 included: a written page of zeros). */
static void make(const char *path, const int *fill)
{
	unsigned char page[PG];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, PAGES * PG), 0);
	for (int p = 0; p < PAGES; p++) {
		if (fill[p] < 0)
			continue;
		memset(page, fill[p], sizeof(page));
		cr_assert_eq(pwrite(fd, page, PG, (off_t)p * PG), PG);
	}
	close(fd);
}

static void expect(const char *path, const int *fill)
{
	unsigned char page[PG], want[PG];
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0);
	for (int p = 0; p < PAGES; p++) {
		memset(want, fill[p] < 0 ? 0 : fill[p], sizeof(want));
		cr_assert_eq(pread(fd, page, PG, (off_t)p * PG), PG);
		cr_assert_arr_eq(page, want, PG, "page %d", p);
	}
	close(fd);
}

/* Whether the file system under dir keeps holes (SEEK_HOLE finds one
 * before the end of a file with one written page). */
static bool keeps_holes(const char *path)
{
	int fd = open(path, O_RDONLY);
	off_t hole = lseek(fd, 0, SEEK_HOLE);

	close(fd);
	return hole >= 0 && hole < PAGES * PG;
}

Test(mem_file, merge_copies_the_diffs_data_only)
{
	struct mvm_err err = { .msg = "" };
	int base[PAGES], diff[PAGES], merged[PAGES];
	struct files f;

	for (int p = 0; p < PAGES; p++) {
		base[p] = p % 3 ? 0x10 + p : -1;
		diff[p] = -1;
	}
	/* Runs of dirty pages, one a page of zeros, at both ends. */
	diff[0] = 0xa0;
	diff[5] = diff[6] = diff[7] = 0xa5;
	diff[9] = 0; /* written zeros overwrite the base's data */
	diff[PAGES - 1] = 0xaf;
	files_new(&f);
	make(f.base, base);
	make(f.diff, diff);
	if (!keeps_holes(f.diff))
		cr_assert_fail("the temporary directory's file system keeps no holes "
			"(SEEK_HOLE): merging cannot be tested there");
	for (int p = 0; p < PAGES; p++)
		merged[p] = diff[p] >= 0 ? diff[p] : base[p];
	cr_assert_eq(gm_file_merge(f.base, f.diff, &err), 0, "%s", err.msg);
	expect(f.base, merged);
	expect(f.diff, diff);

	/* An all-hole diff changes nothing. */
	for (int p = 0; p < PAGES; p++)
		diff[p] = -1;
	make(f.diff, diff);
	cr_assert_eq(gm_file_merge(f.base, f.diff, &err), 0, "%s", err.msg);
	expect(f.base, merged);
	files_rm(&f);
}

Test(mem_file, merge_errors_name_the_file)
{
	struct mvm_err err = { .msg = "" };
	int fill[PAGES];
	struct files f;
	int fd;

	for (int p = 0; p < PAGES; p++)
		fill[p] = p == 3 ? 7 : -1;
	files_new(&f);
	make(f.base, fill);
	cr_assert_eq(gm_file_merge(f.base, f.diff, &err), -ENOENT);
	cr_assert(strstr(err.msg, f.diff), "%s", err.msg);
	cr_assert_eq(gm_file_merge(f.diff, f.base, &err), -ENOENT);
	cr_assert(strstr(err.msg, f.diff), "%s", err.msg);
	/* Another size: a diff of another machine, or no diff at all. */
	make(f.diff, fill);
	fd = open(f.diff, O_WRONLY);
	cr_assert_eq(ftruncate(fd, PAGES * PG + PG), 0);
	close(fd);
	cr_assert_eq(gm_file_merge(f.base, f.diff, &err), -EINVAL);
	cr_assert(strstr(err.msg, "bytes, but base"), "%s", err.msg);
	cr_assert(strstr(err.msg, f.diff) && strstr(err.msg, f.base), "%s",
		  err.msg);
	cr_assert_eq(gm_file_merge(f.base, f.base, &err), -EINVAL);
	cr_assert(strstr(err.msg, "is the base itself"), "%s", err.msg);
	cr_assert_eq(gm_file_merge(f.base, f.dir, &err), -EINVAL);
	cr_assert(strstr(err.msg, "a directory, not a memory file"), "%s",
		  err.msg);
	expect(f.base, fill);
	files_rm(&f);
}
