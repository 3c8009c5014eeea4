/*
 * virtio-blk end to end: the virtio test kernel writes, flushes and reads
 * back through mvm, and the image file is checked afterwards; read-only
 * disks refuse writes and stay untouched; bad disks and options are
 * refused at startup with one line naming the disk and the problem.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "harness.h"

#define SECTORS 2048
#define MARK_SECTOR 4 /* where the guest writes its pattern */
#define NSECT 8

/* The guest's pattern (tests/guests/virtio/tests.h). */
static uint8_t pattern(uint64_t s, unsigned i)
{
	return (uint8_t)(i * 7u + (unsigned)s * 13u + 1u);
}

static char *image(const char *tag, bool patterned, size_t size)
{
	uint8_t *data = calloc(1, size);
	char *path;

	cr_assert_not_null(data);
	if (patterned)
		for (size_t i = 0; i < size; i++)
			data[i] = pattern(i / 512, (unsigned)(i % 512));
	path = temp_file(tag, data, size);
	cr_assert_not_null(path);
	free(data);
	return path;
}

static uint8_t *slurp(const char *path, size_t size)
{
	uint8_t *b = malloc(size);
	FILE *f = fopen(path, "rb");

	cr_assert_not_null(f);
	cr_assert_eq(fread(b, 1, size, f), size);
	fclose(f);
	return b;
}

static struct mvm_result run(const char *disk, const char *cmdline,
			     const char *cpus)
{
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--memory", "64", "--cpus", cpus, "--disk", disk,
			       "--cmdline", cmdline, NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	return r;
}

static void assert_all_ok(const struct mvm_result *r)
{
	cr_assert(strstr(r->out, "ALL OK"), "guest failed:\n%s\nstderr:\n%s",
		  r->out, r->err);
	cr_assert_eq(r->status, 1, "status %d", r->status);
}

static void write_and_check(const char *opts, const char *cpus,
			    const char *guest_opts)
{
	size_t size = SECTORS * 512;
	char *path = image("blk", false, size), disk[512], cmdline[256];
	struct mvm_result r;
	uint8_t *b;

	snprintf(disk, sizeof(disk), "path=%s,id=vda0%s", path, opts);
	snprintf(cmdline, sizeof(cmdline), "test=blk sectors=%d queues=%s "
		 "id=vda0 sector=%d %s", SECTORS, cpus, MARK_SECTOR,
		 guest_opts);
	r = run(disk, cmdline, cpus);
	assert_all_ok(&r);
	b = slurp(path, size);
	for (unsigned i = 0; i < NSECT * 512; i++)
		cr_assert_eq(b[MARK_SECTOR * 512 + i],
			     pattern(MARK_SECTOR + i / 512, i % 512),
			     "byte %u of the written range", i);
	/* The next 8 sectors were written, then zeroed by WRITE_ZEROES. */
	for (unsigned i = 0; i < NSECT * 512; i++)
		cr_assert_eq(b[(MARK_SECTOR + NSECT) * 512 + i], 0);
	cr_assert_eq(b[0], 0, "sector 0 was never written");
	free(b);
	unlink(path);
	free(path);
	mvm_result_free(&r);
}

Test(virtio_blk, writes_reach_the_image)
{
	write_and_check("", "1", "");
}

Test(virtio_blk, one_queue_per_vcpu)
{
	write_and_check("", "2", "");
}

Test(virtio_blk, cache_none_uses_direct_io)
{
	write_and_check(",cache=none", "1", "");
}

Test(virtio_blk, without_event_idx_and_indirect)
{
	write_and_check(",cache=writeback", "1", "event_idx=0 indirect=0");
}

Test(virtio_blk, block_device_backend)
{
	size_t size = SECTORS * 512;
	char *path = image("blk-dev", false, size), cmd[512], dev[64] = "";
	char disk[128];
	struct mvm_result r;
	FILE *p;
	uint8_t *b;

	snprintf(cmd, sizeof(cmd), "losetup -f --show %s 2>/dev/null", path);
	p = geteuid() == 0 ? popen(cmd, "r") : NULL;
	if (!p || !fgets(dev, sizeof(dev), p) || strncmp(dev, "/dev/", 5)) {
		if (p)
			pclose(p);
		unlink(path);
		cr_skip_test("needs root and a free loop device");
	}
	pclose(p);
	dev[strcspn(dev, "\n")] = 0;
	snprintf(disk, sizeof(disk), "path=%s,id=vda0,cache=none", dev);
	r = run(disk, "test=blk sectors=2048 queues=1 id=vda0 sector=4", "1");
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	cr_assert_eq(system(cmd), 0);
	assert_all_ok(&r);
	b = slurp(path, size);
	for (unsigned i = 0; i < NSECT * 512; i++)
		cr_assert_eq(b[MARK_SECTOR * 512 + i],
			     pattern(MARK_SECTOR + i / 512, i % 512));
	free(b);
	unlink(path);
	free(path);
	mvm_result_free(&r);
}

Test(virtio_blk, readonly_refuses_writes)
{
	size_t size = SECTORS * 512;
	char *path = image("blk-ro", true, size), disk[512];
	struct mvm_result r;
	uint8_t *b;

	snprintf(disk, sizeof(disk), "path=%s,readonly=on,id=ro0", path);
	r = run(disk, "test=blk_ro id=ro0", "1");
	assert_all_ok(&r);
	b = slurp(path, size);
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(b[i], pattern(i / 512, (unsigned)(i % 512)),
			     "byte %zu changed", i);
	free(b);
	unlink(path);
	free(path);
	mvm_result_free(&r);
}

Test(virtio_blk, readonly_disks_share_an_image)
{
	char *path = image("blk-ro2", true, SECTORS * 512), disk[512];
	int fd = open(path, O_RDONLY);
	struct mvm_result r;

	/* Another reader holds a shared lock: a read-only disk may join. */
	cr_assert_eq(flock(fd, LOCK_SH | LOCK_NB), 0);
	snprintf(disk, sizeof(disk), "path=%s,readonly=on,id=ro0", path);
	r = run(disk, "test=blk_ro id=ro0", "1");
	assert_all_ok(&r);
	close(fd);
	unlink(path);
	free(path);
	mvm_result_free(&r);
}

static void assert_refused(const char *disk, const char *msg)
{
	struct mvm_result r = run(disk, "test=blk", "1");

	cr_assert_eq(r.status, 1, "status %d", r.status);
	cr_assert_null(strstr(r.out, "virtio test"), "guest ran: %s", r.out);
	cr_assert(strstr(r.err, msg), "stderr lacks '%s':\n%s", msg, r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
}

Test(virtio_blk, missing_image_is_refused)
{
	assert_refused("path=/nonexistent/disk.img,id=d9",
		       "disk d9: cannot open /nonexistent/disk.img: No such "
		       "file or directory");
}

Test(virtio_blk, image_in_use_is_refused)
{
	char *path = image("blk-lock", false, SECTORS * 512), disk[512];
	int fd = open(path, O_RDWR);

	/* As if another mvm had the image. */
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	snprintf(disk, sizeof(disk), "path=%s", path);
	assert_refused(disk, "is in use by another VM (locked)");
	/* A read-only disk needs a shared lock: refused as well. */
	snprintf(disk, sizeof(disk), "path=%s,readonly=on", path);
	assert_refused(disk, "is in use by another VM (locked)");
	close(fd);
	unlink(path);
	free(path);
}

Test(virtio_blk, odd_size_is_refused)
{
	char *path = image("blk-odd", false, 1000), disk[512];

	snprintf(disk, sizeof(disk), "path=%s", path);
	assert_refused(disk, "size 1000 is not a multiple of 512 bytes");
	unlink(path);
	free(path);
}

Test(virtio_blk, not_a_file_is_refused)
{
	assert_refused("path=/tmp", "cannot open /tmp: Is a directory");
	assert_refused("path=/tmp,readonly=on",
		       "/tmp is not a regular file or a block device");
	assert_refused("path=/dev/null",
		       "/dev/null is not a regular file or a block device");
}

Test(virtio_blk, bad_options_name_the_key)
{
	assert_refused("path=/tmp/x.img,speed=fast",
		       "--disk: unknown key 'speed'");
	assert_refused("id=d1", "--disk: path=FILE is required");
	assert_refused("path=/tmp/x.img,cache=maybe",
		       "--disk: cache: 'maybe' is not none or writeback");
	assert_refused("path=/tmp/x.img,readonly=yes",
		       "--disk: readonly: 'yes' is not on or off");
	assert_refused("path=/tmp/x.img,id=a b", "--disk: id: 'a b'");
}
