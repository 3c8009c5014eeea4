/*
 * `mvm snapshot merge BASE DIFF`: a Diff snapshot's memory file holds
 * exactly the pages written since the snapshot before it (zero pages
 * too) and holes elsewhere, so applying it is copying its data extents
 * into the base at the same offsets. The base is changed in place.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/mem_file.h"

#define COPY_CHUNK (1u << 20)

struct merge {
	const char *base, *diff;
	int base_fd, diff_fd;
	uint64_t size;
	uint8_t *buf;
};

static int open_regular(const char *path, int flags, struct stat *st,
			struct mvm_err *err)
{
	/* O_NONBLOCK: a FIFO given by mistake is refused, not waited on
	 * (a regular file ignores the flag). */
	int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return mvm_fail(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		return mvm_fail(err, -e, "%s: %s", path, strerror(e));
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return mvm_fail(err, -EINVAL, "%s: %s, not a memory file",
				path, file_kind(st->st_mode));
	}
	return fd;
}

static int open_both(struct merge *m, struct mvm_err *err)
{
	struct stat bs, ds;

	m->base_fd = open_regular(m->base, O_RDWR, &bs, err);
	if (m->base_fd < 0)
		return m->base_fd;
	m->diff_fd = open_regular(m->diff, O_RDONLY, &ds, err);
	if (m->diff_fd < 0)
		return m->diff_fd;
	if (bs.st_dev == ds.st_dev && bs.st_ino == ds.st_ino)
		return mvm_fail(err, -EINVAL, "%s: is the base itself (%s)",
				m->diff, m->base);
	/* Both files are guest RAM in the same layout: the same size. */
	if (bs.st_size != ds.st_size)
		return mvm_fail(err, -EINVAL, "%s: %jd bytes, but base %s has "
				"%jd: not a diff of this base", m->diff,
				(intmax_t)ds.st_size, m->base,
				(intmax_t)bs.st_size);
	m->size = (uint64_t)ds.st_size;
	return 0;
}

/* Copy diff's [off, end) to the same place in base. */
static int copy_extent(struct merge *m, uint64_t off, uint64_t end,
		       struct mvm_err *err)
{
	while (off < end) {
		size_t want = end - off < COPY_CHUNK ? end - off : COPY_CHUNK;
		ssize_t got = pread(m->diff_fd, m->buf, want, (off_t)off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return mvm_fail(err, -errno, "%s: read at 0x%" PRIx64
					": %s", m->diff, off, strerror(errno));
		if (got == 0)
			return mvm_fail(err, -EIO, "%s: ends at 0x%" PRIx64
					" while being merged", m->diff, off);
		for (ssize_t done = 0; done < got;) {
			ssize_t w = pwrite(m->base_fd, m->buf + done,
					   (size_t)(got - done),
					   (off_t)off + done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return mvm_fail(err, -errno, "%s: write at 0x%"
						PRIx64 ": %s", m->base,
						off + (uint64_t)done,
						strerror(errno));
			done += w;
		}
		off += (uint64_t)got;
	}
	return 0;
}

static int copy_extents(struct merge *m, struct mvm_err *err)
{
	uint64_t pos = 0;

	while (pos < m->size) {
		off_t data = lseek(m->diff_fd, (off_t)pos, SEEK_DATA), hole;
		int ret;

		if (data < 0 && errno == ENXIO)
			return 0; /* only holes from pos to the end */
		if (data < 0)
			return mvm_fail(err, -errno, "%s: SEEK_DATA: %s",
					m->diff, strerror(errno));
		hole = lseek(m->diff_fd, data, SEEK_HOLE);
		if (hole < 0)
			return mvm_fail(err, -errno, "%s: SEEK_HOLE: %s",
					m->diff, strerror(errno));
		if ((uint64_t)hole > m->size)
			hole = (off_t)m->size;
		ret = copy_extent(m, (uint64_t)data, (uint64_t)hole, err);
		if (ret)
			return ret;
		pos = (uint64_t)hole;
	}
	return 0;
}

int gm_file_merge(const char *base, const char *diff, struct mvm_err *err)
{
	struct merge m = { .base = base, .diff = diff, .base_fd = -1,
			   .diff_fd = -1 };
	int ret = open_both(&m, err);

	if (!ret) {
		m.buf = malloc(COPY_CHUNK);
		ret = m.buf ? copy_extents(&m, err) :
			      mvm_fail(err, -ENOMEM, "out of memory");
	}
	/* The base is a snapshot again only once its bytes are on disk. */
	if (!ret && fsync(m.base_fd) < 0)
		ret = mvm_fail(err, -errno, "%s: fsync: %s", base,
			       strerror(errno));
	free(m.buf);
	if (m.diff_fd >= 0)
		close(m.diff_fd);
	if (m.base_fd >= 0)
		close(m.base_fd);
	return ret;
}
