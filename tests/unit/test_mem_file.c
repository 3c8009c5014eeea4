/*
 * Snapshots' memory files (include/mvm/mem_file.h): the layout and its
 * checks, Full and Diff saves, merging a Diff onto its base, mapping a
 * file back as guest RAM (the File backend), and the VMM's own dirty
 * pages marked by gm_ptr. The files go to /tmp, whose file system must
 * keep 4 KiB holes (ext4, xfs, tmpfs do).
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define PG GM_PAGE

static char paths[4][64];
static int nr_paths;

/* A new empty file in /tmp, removed after the test. */
static int temp_fd(char **path)
{
	char *p = paths[nr_paths++];
	int fd;

	snprintf(p, sizeof(paths[0]), "/tmp/mvm-test-mem-XXXXXX");
	fd = mkstemp(p);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	if (path)
		*path = p;
	return fd;
}

static void remove_temps(void)
{
	for (int i = 0; i < nr_paths; i++)
		unlink(paths[i]);
	nr_paths = 0;
}

TestSuite(mem_file, .fini = remove_temps);

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The file's data extents, as [start, end) pairs; returns how many. */
static int extents(int fd, off_t (*out)[2], int max)
{
	off_t data = 0, hole;
	int n = 0;

	while ((data = lseek(fd, data, SEEK_DATA)) >= 0) {
		hole = lseek(fd, data, SEEK_HOLE);
		cr_assert_gt(hole, data);
		cr_assert_lt(n, max, "more data extents than expected");
		out[n][0] = data;
		out[n][1] = hole;
		n++;
		data = hole;
	}
	cr_assert_eq(errno, ENXIO, "SEEK_DATA: %s", strerror(errno));
	return n;
}

static off_t file_size(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return st.st_size;
}

/* The file's bytes [off, off+len) equal mem. */
static void assert_file_has(int fd, off_t off, const void *mem, size_t len)
{
	uint8_t *buf = malloc(len);

	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	cr_assert_eq(memcmp(buf, mem, len), 0, "bytes at %lld differ",
		     (long long)off);
	free(buf);
}

static void fill_page(struct guest_mem *gm, uint64_t gpa, uint8_t seed)
{
	uint8_t *p = gm_ptr(gm, gpa, PG);

	cr_assert_not_null(p);
	for (unsigned i = 0; i < PG; i++)
		p[i] = (uint8_t)(seed + i * 7 + 1) | 1; /* never zero */
}

Test(mem_file, layout_packs_regions_in_order)
{
	struct guest_mem gm;
	struct gm_file_region r[MEM_MAX_REGIONS];
	unsigned n = 0;

	cr_assert_eq(gm_alloc(&gm, 3 * GiB + 64 * MiB, GM_PAGES_TRANSPARENT,
			      NULL), 0);
	gm_file_layout(&gm, r, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, MEM_HOLE_START);
	cr_assert_eq(r[0].offset, 0);
	cr_assert_eq(r[1].gpa, MEM_HOLE_END);
	cr_assert_eq(r[1].size, 3 * GiB + 64 * MiB - MEM_HOLE_START);
	cr_assert_eq(r[1].offset, MEM_HOLE_START);
	cr_assert_eq(gm_file_layout_check(r, n, 3 * GiB + 64 * MiB, NULL), 0);
	gm_free(&gm);
}

Test(mem_file, full_save_writes_only_nonzero_pages)
{
	static const uint64_t data_pages[] = { 0, 1, 2, 700, 16383 };
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	off_t ext[8][2];
	uint64_t written = 99;
	int fd = temp_fd(NULL), n;

	cr_assert_eq(gm_alloc(&gm, 64 * MiB, GM_PAGES_TRANSPARENT, &err), 0);
	/* Something old in the file must not survive as data. */
	cr_assert_eq(pwrite(fd, "old", 3, 5 * PG), 3);
	for (unsigned i = 0; i < 5; i++)
		fill_page(&gm, data_pages[i] * PG, (uint8_t)i);
	/* Touched but zero: a hole all the same; one byte: data. */
	memset(gm_ptr(&gm, 900 * PG, PG), 0, PG);
	*(uint8_t *)gm_ptr(&gm, 901 * PG + PG - 1, 1) = 1;
	cr_assert_eq(gm_save_full(&gm, fd, &written, &err), 0, "%s", err.msg);
	cr_assert_eq(file_size(fd), (off_t)(64 * MiB));
	cr_assert_eq(written, 6 * PG);
	n = extents(fd, ext, 8);
	cr_assert_eq(n, 4, "extents: %d", n);
	cr_assert_eq(ext[0][0], 0);
	cr_assert_eq(ext[0][1], 3 * PG);
	cr_assert_eq(ext[1][0], 700 * PG);
	cr_assert_eq(ext[1][1], 701 * PG);
	cr_assert_eq(ext[2][0], 901 * PG);
	cr_assert_eq(ext[2][1], 902 * PG);
	cr_assert_eq(ext[3][0], 16383 * PG);
	cr_assert_eq(ext[3][1], 16384 * PG);
	for (int i = 0; i < n; i++)
		assert_file_has(fd, ext[i][0], gm.r[0].hva + ext[i][0],
				(size_t)(ext[i][1] - ext[i][0]));
	gm_free(&gm);
	close(fd);
}

Test(mem_file, full_save_puts_the_high_region_after_the_low_one)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	off_t ext[4][2];
	uint64_t written = 0;
	int fd = temp_fd(NULL);

	cr_assert_eq(gm_alloc(&gm, 3 * GiB + 8 * MiB, GM_PAGES_TRANSPARENT,
			      &err), 0);
	fill_page(&gm, MEM_HOLE_END + PG, 3);
	cr_assert_eq(gm_save_full(&gm, fd, &written, &err), 0, "%s", err.msg);
	cr_assert_eq(written, PG);
	cr_assert_eq(extents(fd, ext, 4), 1);
	cr_assert_eq(ext[0][0], (off_t)(MEM_HOLE_START + PG));
	assert_file_has(fd, ext[0][0], gm.r[1].hva + PG, PG);
	gm_free(&gm);
	close(fd);
}

Test(mem_file, untouched_gigabyte_saves_at_once_with_no_data)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	off_t ext[1][2];
	uint64_t written = 99;
	double t;
	int fd = temp_fd(NULL);

	cr_assert_eq(gm_alloc(&gm, GiB, GM_PAGES_TRANSPARENT, &err), 0);
	t = now();
	cr_assert_eq(gm_save_full(&gm, fd, &written, &err), 0, "%s", err.msg);
	t = now() - t;
	cr_assert_eq(written, 0);
	cr_assert_eq(file_size(fd), (off_t)GiB);
	cr_assert_eq(extents(fd, ext, 1), 0);
	/* Milliseconds here; a read of every page would take far longer. */
	cr_assert_lt(t, 0.25, "saving untouched RAM took %.3f s", t);
	gm_free(&gm);
	close(fd);
}

/*
 * 4 KiB pages, so that touching one page maps that page alone: the ones
 * written are present, zero or not; the others are not, nor read.
 */
Test(mem_file, pages_present_are_the_touched_ones)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	bool out[600];

	cr_assert_eq(gm_alloc(&gm, 8 * MiB, GM_PAGES_SMALL, &err), 0, "%s",
		     err.msg);
	fill_page(&gm, 3 * PG, 1);
	memset(gm_ptr(&gm, 500 * PG, PG), 0, PG);
	memset(out, 1, sizeof(out)); /* page 601, not asked for: stays */
	cr_assert_eq(gm_pages_present(&gm, 0, 2, 599, out), 0);
	for (unsigned i = 0; i < 599; i++)
		cr_assert_eq(out[i], i + 2 == 3 || i + 2 == 500,
			     "page %u present: %d", i + 2, out[i]);
	cr_assert(out[599], "wrote past n");
	/* Ranges outside the region, and regions that do not exist. */
	cr_assert_eq(gm_pages_present(&gm, 0, 2048, 1, out), -EINVAL);
	cr_assert_eq(gm_pages_present(&gm, 0, 2047, 2, out), -EINVAL);
	cr_assert_eq(gm_pages_present(&gm, 0, 1, UINT64_MAX, out), -EINVAL);
	cr_assert_eq(gm_pages_present(&gm, 1, 0, 1, out), -EINVAL);
	cr_assert_eq(gm_pages_present(&gm, -1, 0, 1, out), -EINVAL);
	cr_assert_eq(gm_pages_present(&gm, 0, 2047, 1, out), 0);
	cr_assert_not(out[0]);
	gm_free(&gm);
}

Test(mem_file, save_refuses_pipes_and_appending_files)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	uint64_t written;
	int p[2];

	cr_assert_eq(gm_alloc(&gm, 4 * MiB, GM_PAGES_TRANSPARENT, &err), 0);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(gm_save_full(&gm, p[1], &written, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "not a regular file"), "%s",
			   err.msg);
	close(p[0]);
	close(p[1]);
	{
		char *path;
		int fd = temp_fd(&path);
		int app = open(path, O_WRONLY | O_APPEND);

		cr_assert_eq(gm_save_full(&gm, app, &written, &err), -EINVAL);
		cr_assert_not_null(strstr(err.msg, "O_APPEND"), "%s", err.msg);
		close(app);
		close(fd);
	}
	gm_free(&gm);
}

static void set_bit(unsigned long *bm, uint64_t page)
{
	bm[page / 64] |= 1UL << (page % 64);
}

/* The whole file into a buffer. */
static uint8_t *slurp(int fd, size_t len)
{
	uint8_t *b = malloc(len);

	cr_assert_not_null(b);
	cr_assert_eq(pread(fd, b, len, 0), (ssize_t)len);
	return b;
}

Test(mem_file, diff_writes_the_dirty_pages_and_merges_onto_its_base)
{
	const size_t ram = 8 * MiB;
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	unsigned long *bm = calloc(1, gm_dirty_bitmap_bytes(ram));
	unsigned long *dirty[1] = { bm };
	char *base_path, *diff_path;
	int base = temp_fd(&base_path), diff = temp_fd(&diff_path);
	int final = temp_fd(NULL);
	off_t ext[8][2];
	uint64_t written;
	uint8_t *a, *b;

	cr_assert_eq(gm_alloc(&gm, ram, GM_PAGES_TRANSPARENT, &err), 0);
	for (unsigned i = 0; i < 64; i++)
		fill_page(&gm, (uint64_t)i * 13 * PG, (uint8_t)i);
	cr_assert_eq(gm_save_full(&gm, base, &written, &err), 0, "%s",
		     err.msg);
	/* Changes: new data, data made zero, a run across a bitmap word. */
	fill_page(&gm, 5 * PG, 77);
	memset(gm_ptr(&gm, 13 * PG, PG), 0, PG);
	for (uint64_t p = 62; p < 67; p++)
		fill_page(&gm, p * PG, (uint8_t)p);
	set_bit(bm, 5);
	set_bit(bm, 13);
	for (uint64_t p = 62; p < 67; p++)
		set_bit(bm, p);
	cr_assert_eq(gm_save_diff(&gm, diff, dirty, &written, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(written, 7 * PG);
	cr_assert_eq(file_size(diff), (off_t)ram);
	/* The zeroed page is data in a Diff: it must overwrite the base. */
	cr_assert_eq(extents(diff, ext, 8), 3);
	cr_assert_eq(ext[0][0], 5 * PG);
	cr_assert_eq(ext[0][1], 6 * PG);
	cr_assert_eq(ext[1][0], 13 * PG);
	cr_assert_eq(ext[1][1], 14 * PG);
	cr_assert_eq(ext[2][0], 62 * PG);
	cr_assert_eq(ext[2][1], 67 * PG);
	assert_file_has(diff, 62 * PG, gm.r[0].hva + 62 * PG, 5 * PG);

	cr_assert_eq(gm_file_merge(base_path, diff_path, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(gm_save_full(&gm, final, &written, &err), 0, "%s",
		     err.msg);
	a = slurp(base, ram);
	b = slurp(final, ram);
	cr_assert_eq(memcmp(a, b, ram), 0, "merged base != full of the end");
	cr_assert_eq(memcmp(a, gm.r[0].hva, ram), 0);
	free(a);
	free(b);
	free(bm);
	gm_free(&gm);
	close(base);
	close(diff);
	close(final);
}

Test(mem_file, diff_with_no_dirty_pages_is_all_hole)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	unsigned long *dirty[1] = { NULL };
	off_t ext[1][2];
	uint64_t written = 1;
	int fd = temp_fd(NULL);

	cr_assert_eq(gm_alloc(&gm, 4 * MiB, GM_PAGES_TRANSPARENT, &err), 0);
	fill_page(&gm, 0, 1);
	cr_assert_eq(gm_save_diff(&gm, fd, dirty, &written, &err), 0);
	cr_assert_eq(written, 0);
	cr_assert_eq(file_size(fd), (off_t)(4 * MiB));
	cr_assert_eq(extents(fd, ext, 1), 0);
	gm_free(&gm);
	close(fd);
}

Test(mem_file, merge_refuses_files_of_other_sizes_naming_them)
{
	struct mvm_err err = { .msg = "" };
	char *a, *b;
	int fa = temp_fd(&a), fb = temp_fd(&b);

	cr_assert_eq(ftruncate(fa, 8 * MiB), 0);
	cr_assert_eq(ftruncate(fb, 4 * MiB), 0);
	cr_assert_eq(gm_file_merge(a, b, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, a), "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, b), "%s", err.msg);
	cr_assert_eq(gm_file_merge(a, "/nonexistent/diff", &err), -ENOENT);
	cr_assert_not_null(strstr(err.msg, "/nonexistent/diff"), "%s",
			   err.msg);
	close(fa);
	close(fb);
}

/* Pages of [p, p+len) that the process has mapped (/proc/self/pagemap). */
static unsigned present_pages(const uint8_t *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	size_t n = len / PG;
	uint64_t *e = calloc(n, sizeof(*e));
	unsigned present = 0;

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, e, n * 8, (off_t)((uintptr_t)p / PG * 8)),
		     (ssize_t)(n * 8));
	for (size_t i = 0; i < n; i++)
		present += (unsigned)(e[i] >> 63);
	free(e);
	close(fd);
	return present;
}

/* The VmFlags line of the mapping at p in /proc/self/smaps. */
static bool mapping_has_flag(const void *p, const char *flag)
{
	char line[512], want[32];
	bool in = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	cr_assert_not_null(f);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			char spaced[16];

			snprintf(spaced, sizeof(spaced), " %s", flag);
			found = strstr(line, spaced) != NULL;
			break;
		}
	}
	fclose(f);
	cr_assert(in, "no mapping starts at %p", p);
	return found;
}

Test(mem_file, map_file_is_lazy_private_and_equal)
{
	const uint64_t ram = 16 * MiB;
	struct guest_mem gm, back;
	struct gm_file_region r[MEM_MAX_REGIONS];
	struct mvm_err err = { .msg = "" };
	uint64_t written;
	unsigned n;
	char *path;
	int fd = temp_fd(&path);
	uint8_t before[PG];

	cr_assert_eq(gm_alloc(&gm, ram, GM_PAGES_TRANSPARENT, &err), 0);
	/* Every page data but two: mapping must read none of it. */
	for (uint64_t p = 0; p < ram / PG; p++)
		fill_page(&gm, p * PG, (uint8_t)p);
	memset(gm_ptr(&gm, 9 * PG, PG), 0, PG);
	memset(gm_ptr(&gm, 10 * PG, PG), 0, PG);
	cr_assert_eq(gm_save_full(&gm, fd, &written, &err), 0, "%s", err.msg);
	gm_file_layout(&gm, r, &n);

	cr_assert_eq(gm_map_file(&back, r, n, path, &err), 0, "%s", err.msg);
	cr_assert_eq(back.nr, 1);
	cr_assert_eq(back.backing, GM_BACKING_FILE);
	cr_assert_eq((uintptr_t)back.r[0].hva % (2 * MiB), 0);
	cr_assert_eq(present_pages(back.r[0].hva, ram), 0,
		     "pages were read when the file was mapped");
	cr_assert(mapping_has_flag(back.r[0].hva, "dc"),
		  "guest RAM is not kept out of forked children");
	/* Written: the process's copy changes, the file does not. */
	cr_assert_eq(pread(fd, before, PG, 3 * PG), PG);
	memset(gm_ptr(&back, 3 * PG, PG), 0xee, PG);
	memset(gm_ptr(&back, 9 * PG, 1), 0xee, 1);
	assert_file_has(fd, 3 * PG, before, PG);
	assert_file_has(fd, 9 * PG, (uint8_t[1]){ 0 }, 1);
	cr_assert_lt(present_pages(back.r[0].hva, ram), 64,
		     "touching two pages mapped the file in");
	/*
	 * A Full snapshot of the restored RAM: the pages never touched come
	 * from the file (its data, and its hole at page 10), with the
	 * process's own writes over them.
	 */
	{
		int again = temp_fd(NULL);
		off_t ext[4][2];
		uint8_t *b;

		cr_assert_eq(gm_save_full(&back, again, &written, &err), 0,
			     "%s", err.msg);
		cr_assert_eq(written, ram - PG);
		cr_assert_eq(extents(again, ext, 4), 2);
		cr_assert_eq(ext[0][1], 10 * PG);
		cr_assert_eq(ext[1][0], 11 * PG);
		b = slurp(again, ram);
		cr_assert_eq(memcmp(b, back.r[0].hva, ram), 0);
		cr_assert_eq(b[3 * PG], 0xee);
		free(b);
		close(again);
	}
	memset(gm_ptr(&gm, 3 * PG, PG), 0xee, PG);
	memset(gm_ptr(&gm, 9 * PG, 1), 0xee, 1);
	cr_assert_eq(memcmp(back.r[0].hva, gm.r[0].hva, ram), 0);
	gm_free(&back);
	gm_free(&gm);
	close(fd);
}

Test(mem_file, map_file_refuses_a_file_too_small)
{
	struct gm_file_region r = { .gpa = 0, .size = 4 * MiB, .offset = 0 };
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	char *path;
	int fd = temp_fd(&path);

	cr_assert_eq(ftruncate(fd, 2 * MiB), 0);
	cr_assert_eq(gm_map_file(&gm, &r, 1, path, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, "past the memory file's end"),
			   "%s", err.msg);
	cr_assert_eq(gm.nr, 0);
	cr_assert_eq(gm_map_file(&gm, &r, 1, "/nonexistent/mem", &err),
		     -ENOENT);
	cr_assert_not_null(strstr(err.msg, "/nonexistent/mem"), "%s",
			   err.msg);
	close(fd);
}

/* One bad layout: refused with -EINVAL and a message holding each want. */
static void refused(const struct gm_file_region *r, unsigned n,
		    uint64_t file_size, const char *want1, const char *want2)
{
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(gm_file_layout_check(r, n, file_size, &err), -EINVAL,
		     "accepted, wanted: %s %s", want1, want2);
	cr_assert_not_null(strstr(err.msg, want1), "'%s' lacks '%s'", err.msg,
			   want1);
	cr_assert_not_null(strstr(err.msg, want2), "'%s' lacks '%s'", err.msg,
			   want2);
}

Test(mem_file, layout_check_refuses_each_bad_layout)
{
	const uint64_t M = MiB;
	struct gm_file_region ok[2] = {
		{ .gpa = 0, .size = 64 * M, .offset = 0 },
		{ .gpa = MEM_HOLE_END, .size = 64 * M, .offset = 64 * M },
	};
	struct gm_file_region r[MEM_MAX_REGIONS + 1];

	cr_assert_eq(gm_file_layout_check(ok, 2, 128 * M, NULL), 0);
	cr_assert_eq(gm_file_layout_check(ok, 2, 0, NULL), 0);
	refused(ok, 0, 0, "0 regions", "1 to 8");
	for (int i = 0; i <= MEM_MAX_REGIONS; i++)
		r[i] = (struct gm_file_region){ .gpa = (uint64_t)i * 64 * M,
						.size = 64 * M,
						.offset = (uint64_t)i * 64 * M };
	refused(r, MEM_MAX_REGIONS + 1, 0, "9 regions", "1 to 8");

#define BAD(field, value, w1, w2)                \
	do {                                      \
		memcpy(r, ok, sizeof(ok));        \
		r[1].field = (value);             \
		refused(r, 2, 0, w1, w2);         \
	} while (0)
	BAD(size, 0, "region 1: size", "empty");
	BAD(size, 64 * M + 512, "region 1: size", "multiple of 4 KiB");
	BAD(offset, 64 * M + 100, "region 1: offset", "4 KiB-aligned");
	BAD(gpa, MEM_HOLE_END + 1, "region 1: gpa", "4 KiB-aligned");
	BAD(gpa, 32 * M, "region 1: gpa", "overlaps or comes before");
	BAD(gpa, MEM_HOLE_START - 4 * M, "region 1: gpa", "32-bit hole");
	BAD(gpa, MEM_HOLE_START + 4 * M, "region 1: gpa", "32-bit hole");
	BAD(gpa, UINT64_MAX - 4095, "region 1: size", "address space");
	BAD(offset, UINT64_MAX - 4095, "region 1: offset", "2^64");
	BAD(offset, 32 * M, "region 1: offset", "overlaps region 0");
#undef BAD
	memcpy(r, ok, sizeof(ok));
	refused(r, 2, 100 * M, "region 1", "past the memory file's end");
	r[0].size = 0;
	refused(r, 2, 0, "region 0: size", "empty");
}

Test(mem_file, gm_ptr_marks_dirty_pages_once_tracking)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	uint64_t words;
	unsigned long *out;

	cr_assert_eq(gm_alloc(&gm, 8 * MiB, GM_PAGES_TRANSPARENT, &err), 0);
	words = gm_dirty_bitmap_bytes(8 * MiB) / sizeof(long);
	cr_assert_eq(words, 8 * MiB / PG / 64);
	out = calloc(words, sizeof(long));
	cr_assert_not(gm_dirty_tracking(&gm));
	cr_assert_not_null(gm_ptr(&gm, 0, PG)); /* before: not marked */
	cr_assert_eq(gm_dirty_track(&gm, &err), 0);
	cr_assert(gm_dirty_tracking(&gm));
	/* A range across a bitmap word: pages 63..129. */
	cr_assert_not_null(gm_ptr(&gm, 63 * PG + 100, 66 * PG));
	cr_assert_not_null(gm_ptr(&gm, 1000 * PG + PG - 1, 1)); /* a read */
	cr_assert_not_null(gm_ptr(&gm, 5 * PG, 0));    /* no bytes: none */
	cr_assert_null(gm_ptr(&gm, 8 * MiB - 1, 2));    /* refused: none */
	gm_dirty_take(&gm, 0, out);
	cr_assert_eq(out[0], 1UL << 63);
	cr_assert_eq(out[1], ~0UL);
	cr_assert_eq(out[2], 3UL); /* pages 128, 129 */
	cr_assert_eq(out[1000 / 64], 1UL << (1000 % 64));
	for (uint64_t w = 3; w < words; w++)
		if (w != 1000 / 64)
			cr_assert_eq(out[w], 0, "word %llu",
				     (unsigned long long)w);
	/* Taken: cleared, so a second take adds nothing. */
	memset(out, 0, words * sizeof(long));
	gm_dirty_take(&gm, 0, out);
	for (uint64_t w = 0; w < words; w++)
		cr_assert_eq(out[w], 0);
	cr_assert_eq(gm_write(&gm, 2047 * PG, "x", 1), 0);
	gm_dirty_take(&gm, 0, out);
	cr_assert_eq(out[2047 / 64], 1UL << 63);
	gm_dirty_take(&gm, 5, out); /* no such region: nothing */
	free(out);
	gm_free(&gm);
}

/* Every page of both regions: page p of the whole RAM filled from seed. */
static void fill_all(struct guest_mem *gm, uint8_t seed)
{
	for (int i = 0; i < gm->nr; i++)
		for (uint64_t off = 0; off < gm->r[i].size; off += 256 * PG)
			fill_page(gm, gm->r[i].gpa + off,
				  (uint8_t)(seed + off / PG));
}

static bool page_is(struct guest_mem *gm, uint64_t gpa, uint8_t seed)
{
	const uint8_t *p = gm_ptr(gm, gpa, PG);

	for (unsigned i = 0; i < PG; i++)
		if (p[i] != ((uint8_t)(seed + i * 7 + 1) | 1))
			return false;
	return true;
}

Test(mem_file, remap_file_puts_a_memory_file_into_ram_in_place)
{
	/* Two regions: below the hole and above 4 GiB (touched sparsely). */
	const uint64_t ram = MEM_HOLE_START + 8 * MiB;
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	uint8_t *hva[2], before[PG];
	unsigned long *bits;
	uint64_t written, words;
	char *path_a, *path_b;
	int fa = temp_fd(&path_a), fb = temp_fd(&path_b);

	/* Small pages: a touch every MiB must not fault in 2 MiB each. */
	cr_assert_eq(gm_alloc(&gm, ram, GM_PAGES_SMALL, &err), 0);
	cr_assert_eq(gm.nr, 2);
	fill_all(&gm, 1);
	cr_assert_eq(gm_save_full(&gm, fa, &written, &err), 0, "%s", err.msg);
	fill_all(&gm, 2);
	cr_assert_eq(gm_save_full(&gm, fb, &written, &err), 0, "%s", err.msg);
	fill_all(&gm, 3);
	cr_assert_eq(gm_dirty_track(&gm, &err), 0);
	words = gm_dirty_bitmap_bytes(gm.r[1].size) / sizeof(long);
	bits = calloc(gm_dirty_bitmap_bytes(gm.r[0].size), 1);
	gm_dirty_take(&gm, 0, bits); /* the fills: cleared */
	gm_dirty_take(&gm, 1, bits);
	hva[0] = gm.r[0].hva;
	hva[1] = gm.r[1].hva;

	cr_assert_eq(gm_remap_file(&gm, path_a, &err), 0, "%s", err.msg);
	/* The same addresses: KVM's slots and devices' pointers hold. */
	cr_assert_eq(gm.r[0].hva, hva[0]);
	cr_assert_eq(gm.r[1].hva, hva[1]);
	cr_assert_eq(gm.backing, GM_BACKING_FILE);
	cr_assert_eq(present_pages(hva[1], gm.r[1].size), 0,
		     "pages were read when the file was mapped");
	cr_assert(mapping_has_flag(hva[0], "dc"),
		  "guest RAM is not kept out of forked children");
	cr_assert(page_is(&gm, 0, 1));
	cr_assert(page_is(&gm, 512 * PG, (uint8_t)(1 + 512)));
	cr_assert(page_is(&gm, MEM_HOLE_END + 256 * PG,
			  (uint8_t)(1 + 256)));
	cr_assert_eq(gm.r[1].file_off, MEM_HOLE_START);
	/* No log knows what the swap changed: every page is dirty. */
	memset(bits, 0, words * sizeof(long));
	gm_dirty_take(&gm, 1, bits);
	for (uint64_t w = 0; w < words; w++)
		cr_assert_eq(bits[w], ~0UL, "word %llu",
			     (unsigned long long)w);
	/* Written: private, the file keeps its bytes. */
	cr_assert_eq(pread(fa, before, PG, 0), PG);
	memset(gm_ptr(&gm, 0, PG), 0xee, PG);
	assert_file_has(fa, 0, before, PG);
	/* Applied again, from another file: the first is let go. */
	cr_assert_eq(gm_remap_file(&gm, path_b, &err), 0, "%s", err.msg);
	cr_assert(page_is(&gm, 0, 2));
	cr_assert(page_is(&gm, MEM_HOLE_END + 256 * PG,
			  (uint8_t)(2 + 256)));
	free(bits);
	gm_free(&gm);
	close(fa);
	close(fb);
}

Test(mem_file, remap_file_refuses_a_file_too_small_and_changes_nothing)
{
	struct guest_mem gm;
	struct mvm_err err = { .msg = "" };
	char *path;
	int fd = temp_fd(&path);

	cr_assert_eq(gm_alloc(&gm, 8 * MiB, GM_PAGES_TRANSPARENT, &err), 0);
	fill_page(&gm, 0, 9);
	cr_assert_eq(ftruncate(fd, 4 * MiB), 0);
	cr_assert_eq(gm_remap_file(&gm, path, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, "past the memory file's end"),
			   "%s", err.msg);
	cr_assert_eq(gm_remap_file(&gm, "/nonexistent/mem", &err), -ENOENT);
	cr_assert_not_null(strstr(err.msg, "/nonexistent/mem"), "%s",
			   err.msg);
	/* Refused before any region was touched. */
	cr_assert_eq(gm.backing, GM_BACKING_ANON);
	cr_assert(page_is(&gm, 0, 9));
	gm_free(&gm);
	close(fd);
}
