/*
 * A file's contents into another (file_clone_or_copy, include/mvm/file.h):
 * what checkpoints keep of a VM's disks. Where the temporary directory's
 * file system makes reflinks (xfs, btrfs) the reflink is checked; where
 * it does not (ext4, tmpfs), the sparse copy. MVM_TEST_REFLINK_DIR names
 * a directory on a file system with reflinks, so that both run.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"

#define KiB 1024
#define MiB (1024 * 1024)

struct pair {
	char src[300], dst[300];
	int s, d;
};

static void pair_new(struct pair *p, const char *dir)
{
	const char *t = getenv("TMPDIR");

	if (!dir)
		dir = t && *t ? t : "/tmp";
	snprintf(p->src, sizeof(p->src), "%s/mvm-copy-src-XXXXXX", dir);
	snprintf(p->dst, sizeof(p->dst), "%s/mvm-copy-dst-XXXXXX", dir);
	p->s = mkstemp(p->src);
	p->d = mkstemp(p->dst);
	cr_assert(p->s >= 0 && p->d >= 0, "%s: %s", dir, strerror(errno));
}

static void pair_rm(struct pair *p)
{
	close(p->s);
	close(p->d);
	unlink(p->src);
	unlink(p->dst);
}

static void put(int fd, off_t at, char c, size_t len)
{
	char *b = malloc(len);

	memset(b, c, len);
	cr_assert_eq(pwrite(fd, b, len, at), (ssize_t)len);
	free(b);
}

/* A 3 MiB + 512 image: data at 0 and at 1 MiB, the rest holes. */
static void make_image(int fd)
{
	cr_assert_eq(ftruncate(fd, 3 * MiB + 512), 0);
	put(fd, 0, 'a', 64 * KiB);
	put(fd, 1 * MiB, 'b', 128 * KiB);
	put(fd, 3 * MiB, 'c', 512);
}

static void assert_same(const char *a, const char *b, off_t size)
{
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	char *x = malloc((size_t)size + 1), *y = malloc((size_t)size + 1);
	struct stat st;

	cr_assert(fa >= 0 && fb >= 0);
	cr_assert_eq(fstat(fb, &st), 0);
	cr_assert_eq(st.st_size, size, "%s: %lld bytes, want %lld", b,
		     (long long)st.st_size, (long long)size);
	cr_assert_eq(pread(fa, x, (size_t)size, 0), size);
	cr_assert_eq(pread(fb, y, (size_t)size, 0), size);
	cr_assert_eq(memcmp(x, y, (size_t)size), 0, "%s differs from %s", b,
		     a);
	free(x);
	free(y);
	close(fa);
	close(fb);
}

static uint64_t allocated(int fd)
{
	struct stat st;

	cr_assert_eq(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* dst starts longer and full of other bytes: none of them may stay. */
static void copy_over_garbage(const char *dir, bool want_reflink)
{
	struct mvm_err err = { .msg = "" };
	struct pair p;
	bool reflinked;

	pair_new(&p, dir);
	make_image(p.s);
	put(p.d, 0, 'x', 4 * MiB);
	cr_assert_eq(file_clone_or_copy(p.s, p.src, p.d, p.dst, 3 * MiB + 512,
					&reflinked, &err), 0, "%s", err.msg);
	cr_assert_eq(reflinked, want_reflink, "%s: reflinked %d", p.dst,
		     reflinked);
	assert_same(p.src, p.dst, 3 * MiB + 512);
	if (!reflinked) /* the holes stay holes: 64 KiB + 128 KiB + 512 */
		cr_assert_lt(allocated(p.d), 400 * KiB, "%llu bytes",
			     (unsigned long long)allocated(p.d));
	/* Cut to size: the first 1 MiB + 4 KiB only. */
	cr_assert_eq(file_clone_or_copy(p.s, p.src, p.d, p.dst,
					1 * MiB + 4 * KiB, &reflinked, &err),
		     0, "%s", err.msg);
	assert_same(p.src, p.dst, 1 * MiB + 4 * KiB);
	pair_rm(&p);
}

/* Whether dir's file system makes reflinks (then the copy is not tried). */
static bool reflinks_in(const char *dir)
{
	struct mvm_err err = { .msg = "" };
	struct pair p;
	bool r = false;

	pair_new(&p, dir);
	put(p.s, 0, 'r', 4 * KiB);
	cr_assert_eq(file_clone_or_copy(p.s, p.src, p.d, p.dst, 4 * KiB, &r,
					&err), 0, "%s", err.msg);
	pair_rm(&p);
	return r;
}

Test(file_copy, copies_or_reflinks_the_bytes_and_the_size)
{
	bool here = reflinks_in(NULL);

	copy_over_garbage(NULL, here);
	cr_log_info("the temporary directory %s reflinks: the %s was "
		    "checked here", here ? "makes" : "makes no",
		    here ? "reflink" : "sparse copy");
}

Test(file_copy, reflinks_where_the_file_system_makes_them)
{
	const char *dir = getenv("MVM_TEST_REFLINK_DIR");

	if (!dir || !*dir)
		cr_skip_test("not run: MVM_TEST_REFLINK_DIR names no directory "
			     "on a file system with reflinks (xfs, btrfs)");
	cr_assert(reflinks_in(dir), "%s makes no reflinks", dir);
	copy_over_garbage(dir, true);
}

Test(file_copy, a_copy_of_an_empty_or_all_hole_file_is_all_hole)
{
	struct mvm_err err = { .msg = "" };
	struct pair p;
	bool reflinked;

	pair_new(&p, NULL);
	cr_assert_eq(ftruncate(p.s, 8 * MiB), 0);
	put(p.d, 0, 'x', 1 * MiB);
	cr_assert_eq(file_clone_or_copy(p.s, p.src, p.d, p.dst, 8 * MiB,
					&reflinked, &err), 0, "%s", err.msg);
	assert_same(p.src, p.dst, 8 * MiB);
	cr_assert_lt(allocated(p.d), 64 * KiB);
	cr_assert_eq(file_clone_or_copy(p.s, p.src, p.d, p.dst, 0, &reflinked,
					&err), 0, "%s", err.msg);
	assert_same(p.src, p.dst, 0);
	pair_rm(&p);
}

Test(file_copy, a_destination_not_open_for_writing_is_named)
{
	struct mvm_err err = { .msg = "" };
	struct pair p;
	bool reflinked;
	int ro;

	pair_new(&p, NULL);
	make_image(p.s);
	ro = open(p.dst, O_RDONLY);
	cr_assert_geq(ro, 0);
	cr_assert_lt(file_clone_or_copy(p.s, p.src, ro, p.dst, 3 * MiB,
					&reflinked, &err), 0);
	cr_assert_not_null(strstr(err.msg, p.dst), "%s", err.msg);
	cr_assert_not(reflinked);
	close(ro);
	pair_rm(&p);
}
