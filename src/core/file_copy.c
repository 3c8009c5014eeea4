/*
 * A file's contents into another (include/mvm/file.h): what checkpoints
 * keep of a VM's disks, and put back. A reflink costs nothing but the
 * metadata, so it is tried first; a file system without them (ext4,
 * tmpfs) gets a copy of the data only, so a sparse disk image stays
 * sparse and an untouched 10 GiB image costs no 10 GiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"

#define BOUNCE (UINT64_C(1) << 20)
#define MAX_CHUNK (UINT64_C(1) << 30)

struct copy {
	int src, dst;
	const char *src_name, *dst_name;
	uint8_t *buf; /* where copy_file_range cannot copy */
	struct mvm_err *err;
};

/* The answers of FICLONE that mean "not here", rather than a failure. */
static bool no_reflink_here(int e)
{
	return e == EOPNOTSUPP || e == EXDEV || e == EINVAL || e == ENOTTY ||
	       e == ENOSYS;
}

static int write_all(struct copy *c, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t put = pwrite(c->dst, p, n, off);

		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return mvm_fail(c->err, put ? -errno : -EIO,
					"%s: write at %lld: %s", c->dst_name,
					(long long)off,
					put ? strerror(errno) : "no progress");
		p += put;
		n -= (size_t)put;
		off += put;
	}
	return 0;
}

static int copy_by_hand(struct copy *c, off_t off, uint64_t len)
{
	if (!c->buf && !(c->buf = malloc(BOUNCE)))
		return mvm_fail(c->err, -ENOMEM, "out of memory");
	while (len) {
		size_t n = len < BOUNCE ? (size_t)len : BOUNCE;
		ssize_t got = pread(c->src, c->buf, n, off);
		int ret;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return mvm_fail(c->err, got ? -errno : -EIO, "%s: read "
					"at %lld: %s", c->src_name,
					(long long)off, got ? strerror(errno) :
					"the file shrank");
		ret = write_all(c, c->buf, (size_t)got, off);
		if (ret)
			return ret;
		off += got;
		len -= (uint64_t)got;
	}
	return 0;
}

/* [off, off+len) of src into dst at the same offset. */
static int copy_extent(struct copy *c, off_t off, uint64_t len)
{
	while (len) {
		loff_t in = off, out = off;
		ssize_t n = copy_file_range(c->src, &in, c->dst, &out,
					    len < MAX_CHUNK ? len : MAX_CHUNK,
					    0);

		if (n < 0 && errno == EINTR)
			continue;
		/* Other file systems, old kernels, or a short file (which
		 * the plain copy names): a plain copy. */
		if (n <= 0)
			return copy_by_hand(c, off, len);
		off += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* src's data extents below size; all of it where holes cannot be told. */
static int copy_data(struct copy *c, uint64_t size)
{
	off_t data = 0, hole;
	int ret;

	while ((uint64_t)data < size) {
		data = lseek(c->src, data, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0; /* holes to the end */
		if (data < 0)
			return copy_extent(c, 0, size);
		hole = lseek(c->src, data, SEEK_HOLE);
		if (hole < 0)
			return mvm_fail(c->err, -errno, "%s: SEEK_HOLE: %s",
					c->src_name, strerror(errno));
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		if (hole <= data)
			return 0;
		ret = copy_extent(c, data, (uint64_t)(hole - data));
		if (ret)
			return ret;
		data = hole;
	}
	return 0;
}

static int resize(struct copy *c, uint64_t size)
{
	if (ftruncate(c->dst, (off_t)size) < 0)
		return mvm_fail(c->err, -errno, "%s: cannot size it to %llu "
				"bytes: %s", c->dst_name,
				(unsigned long long)size, strerror(errno));
	return 0;
}

int file_clone_or_copy(int src, const char *src_name, int dst,
		       const char *dst_name, uint64_t size, bool *reflinked,
		       struct mvm_err *err)
{
	struct copy c = { .src = src, .dst = dst, .src_name = src_name,
			  .dst_name = dst_name, .err = err };
	int ret;

	*reflinked = false;
	if (size > INT64_MAX)
		return mvm_fail(err, -EINVAL, "%s: %llu bytes is too large",
				src_name, (unsigned long long)size);
	/*
	 * Emptied first: whatever src has no data for must read as zeros,
	 * and a clone may end in a partial block only at dst's end.
	 */
	ret = resize(&c, 0);
	if (ret)
		return ret;
	if (ioctl(dst, FICLONE, src) == 0) {
		*reflinked = true;
		return resize(&c, size); /* cloned src whole: cut to size */
	}
	if (!no_reflink_here(errno))
		return mvm_fail(err, -errno, "%s: cannot reflink it into %s: "
				"%s", src_name, dst_name, strerror(errno));
	ret = resize(&c, size);
	if (!ret)
		ret = copy_data(&c, size);
	free(c.buf);
	return ret;
}
