/*
 * Merging a Diff memory file onto its base: the Diff's data extents are
 * exactly the pages written since the base was taken, so copying them
 * over the base, at the same offsets, gives the memory of the Diff's
 * moment. The holes of the Diff are found with SEEK_DATA/SEEK_HOLE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

#define BOUNCE (UINT64_C(1) << 20)

struct merge {
	const char *base, *diff;
	int bfd, dfd;
	uint8_t *buf; /* where copy_file_range cannot copy */
	struct mvm_err *err;
};

static int copy_by_hand(struct merge *m, off_t off, uint64_t len)
{
	if (!m->buf && !(m->buf = malloc(BOUNCE)))
		return mvm_fail(m->err, -ENOMEM, "out of memory");
	while (len) {
		size_t n = len < BOUNCE ? (size_t)len : BOUNCE;
		ssize_t got = pread(m->dfd, m->buf, n, off), put;

		if (got <= 0)
			return mvm_fail(m->err, got ? -errno : -EIO, "%s: read "
					"at %lld: %s", m->diff, (long long)off,
					got ? strerror(errno) :
					      "the file shrank");
		for (ssize_t done = 0; done < got; done += put) {
			put = pwrite(m->bfd, m->buf + done, (size_t)(got - done),
				     off + done);
			if (put < 0 && errno == EINTR) {
				put = 0;
				continue;
			}
			if (put <= 0)
				return mvm_fail(m->err, put ? -errno : -EIO,
						"%s: write at %lld: %s", m->base,
						(long long)(off + done),
						put ? strerror(errno) :
						      "no progress");
		}
		off += got;
		len -= (uint64_t)got;
	}
	return 0;
}

/* [off, off+len) of diff into base, in the kernel where it can. */
static int copy_extent(struct merge *m, off_t off, uint64_t len)
{
	while (len) {
		loff_t in = off, out = off;
		ssize_t n = copy_file_range(m->dfd, &in, m->bfd, &out,
					    len < (1u << 30) ? len : (1u << 30),
					    0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			/* Other file systems, old kernels: a plain copy. */
			return copy_by_hand(m, off, len);
		off += n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int merge_extents(struct merge *m, off_t size)
{
	off_t data = 0, hole;
	int ret;

	for (;;) {
		data = lseek(m->dfd, data, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return 0; /* no data past here */
		if (data < 0)
			return mvm_fail(m->err, -errno, "%s: SEEK_DATA: %s",
					m->diff, strerror(errno));
		hole = lseek(m->dfd, data, SEEK_HOLE);
		if (hole < 0)
			return mvm_fail(m->err, -errno, "%s: SEEK_HOLE: %s",
					m->diff, strerror(errno));
		if (hole > size)
			hole = size; /* it grew meanwhile: not ours */
		if (hole <= data)
			return 0;
		ret = copy_extent(m, data, (uint64_t)(hole - data));
		if (ret)
			return ret;
		data = hole;
	}
}

int gm_file_merge(const char *base, const char *diff, struct mvm_err *err)
{
	struct merge m = { .base = base, .diff = diff, .bfd = -1, .dfd = -1,
			   .err = err };
	off_t bsize = 0, dsize = 0;
	int ret;

	m.bfd = gm_open_regular(base, O_RDWR, &bsize, err);
	if (m.bfd < 0)
		return m.bfd;
	m.dfd = gm_open_regular(diff, O_RDONLY, &dsize, err);
	if (m.dfd < 0) {
		close(m.bfd);
		return m.dfd;
	}
	if (bsize != dsize)
		ret = mvm_fail(err, -EINVAL, "%s: %lld bytes, but its base %s "
			       "has %lld: not a Diff of that base", diff,
			       (long long)dsize, base, (long long)bsize);
	else
		ret = merge_extents(&m, dsize);
	if (!ret && fsync(m.bfd) < 0)
		ret = mvm_fail(err, -errno, "%s: fsync: %s", base,
			       strerror(errno));
	free(m.buf);
	close(m.dfd);
	close(m.bfd);
	return ret;
}
