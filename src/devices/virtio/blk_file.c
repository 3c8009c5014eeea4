/*
 * A virtio-blk disk's backing file: a raw image or a block device, opened
 * with the cache mode asked for, locked against other VMs, sized, and
 * probed for what discard and write-zeroes can use.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/file.h"

#include "blk.h"

#define SECTOR 512

/*
 * O_NONBLOCK: opening a FIFO would wait for its other end, with every
 * signal blocked (they are read from a signalfd). Once the file is known to
 * be a regular file or a block device the flag goes: io_uring would answer
 * -EAGAIN instead of waiting for the page cache on a non-blocking file.
 */
static int open_image(const struct disk_config *cfg, int flags,
		      struct mvm_err *err)
{
	int fd = open(cfg->path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	int e;

	if (fd < 0) {
		if (errno == EINVAL && (flags & O_DIRECT))
			return mvm_fail(err, -EINVAL, "disk %s: %s: cache=none "
					"needs O_DIRECT, which this file system "
					"does not support (use cache=writeback)",
					cfg->id, cfg->path);
		return mvm_fail(err, -errno, "disk %s: cannot open %s: %s",
				cfg->id, cfg->path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, flags & ~O_ACCMODE) < 0) {
		e = errno;
		close(fd);
		return mvm_fail(err, -e, "disk %s: %s: %s", cfg->id, cfg->path,
				strerror(e));
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return mvm_fail(err, -EINVAL, "disk %s: %s is not a regular "
				"file or a block device (%s)", cfg->id,
				cfg->path, file_kind(st.st_mode));
	}
	return fd;
}

static int size_image(struct blk_file *f, const struct disk_config *cfg,
		      struct mvm_err *err)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return mvm_fail(err, -errno, "disk %s: %s: %s", cfg->id,
				cfg->path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		f->is_blockdev = true;
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0)
			return mvm_fail(err, -errno, "disk %s: %s: cannot get "
					"the device size: %s", cfg->id,
					cfg->path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else {
		return mvm_fail(err, -EINVAL, "disk %s: %s is not a regular "
				"file or a block device", cfg->id, cfg->path);
	}
	if (f->size % SECTOR)
		return mvm_fail(err, -EINVAL, "disk %s: %s: size %llu is not "
				"a multiple of 512 bytes", cfg->id, cfg->path,
				(unsigned long long)f->size);
	return 0;
}

/*
 * Punching a hole past the end of a regular file changes nothing, so it
 * tells safely whether the file system can. Block devices discard.
 */
static void probe_discard(struct blk_file *f)
{
	if (f->readonly)
		return;
	if (f->is_blockdev) {
		f->can_punch = f->can_zero = true;
		return;
	}
	f->can_punch = fallocate(f->fd, FALLOC_FL_PUNCH_HOLE |
				 FALLOC_FL_KEEP_SIZE, (off_t)f->size,
				 4096) == 0;
	/* No harmless probe exists: tried, and dropped on EOPNOTSUPP. */
	f->can_zero = true;
}

int blk_file_lock(struct blk_file *f, const char *id, const char *path,
		  struct mvm_err *err)
{
	/* flock() locks follow the open file, so only this fd holds it. */
	if (flock(f->fd, (f->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		return mvm_fail(err, -EBUSY, "disk %s: %s is in use by "
				"another VM (locked)", id, path);
	return mvm_fail(err, -errno, "disk %s: %s: cannot lock: %s", id, path,
			strerror(errno));
}

int blk_file_release(struct blk_file *f, const char *id,
		     struct mvm_err *err)
{
	if (!f->readonly && fdatasync(f->fd) < 0)
		return mvm_fail(err, -errno, "disk %s: flush: %s", id,
				strerror(errno));
	if (flock(f->fd, LOCK_UN) < 0)
		return mvm_fail(err, -errno, "disk %s: unlock: %s", id,
				strerror(errno));
	return 0;
}

int blk_file_open(struct blk_file *f, const struct disk_config *cfg,
		  struct mvm_err *err)
{
	int flags = cfg->readonly ? O_RDONLY : O_RDWR;
	int ret;

	memset(f, 0, sizeof(*f));
	f->fd = f->fd_buffered = -1;
	f->readonly = cfg->readonly;
	f->direct = cfg->cache == DISK_CACHE_NONE;
	f->fd = open_image(cfg, flags | (f->direct ? O_DIRECT : 0), err);
	if (f->fd < 0)
		return f->fd;
	/* A migration's destination takes the lock at the handover. */
	ret = cfg->unlocked ? 0 : blk_file_lock(f, cfg->id, cfg->path, err);
	if (!ret)
		ret = size_image(f, cfg, err);
	if (ret)
		goto fail;
	if (f->direct) {
		f->fd_buffered = open_image(cfg, flags, err);
		if (f->fd_buffered < 0) {
			ret = f->fd_buffered;
			goto fail;
		}
	}
	probe_discard(f);
	return 0;
fail:
	blk_file_close(f);
	return ret;
}

void blk_file_close(struct blk_file *f)
{
	if (f->fd_buffered >= 0)
		close(f->fd_buffered);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = f->fd_buffered = -1;
}
