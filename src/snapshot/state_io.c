/*
 * State files on disk. A write goes to "PATH.tmp" beside PATH, is
 * fsync'd, and is renamed over PATH (then the directory is fsync'd): a
 * crash leaves the old file or the new one under the name, never half
 * of one. A read takes a regular file of at most SNAP_FILE_MAX bytes.
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/snapshot.h"

#include "state_fdt.h"

static int write_all(int fd, const void *buf, size_t len, const char *path,
		     struct mvm_err *err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mvm_fail_host(err, -errno, "%s: %s", path,
					     strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The rename is durable once the directory holding it is synced. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY |
				     O_CLOEXEC) : -1;

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static int write_tmp(const char *tmp, const void *buf, size_t len,
		     struct mvm_err *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return mvm_fail(err, -errno, "%s: %s", tmp, strerror(errno));
	ret = write_all(fd, buf, len, tmp, err);
	if (!ret && fsync(fd) < 0)
		ret = mvm_fail_host(err, -errno, "%s: fsync: %s", tmp,
				    strerror(errno));
	if (close(fd) < 0 && !ret)
		ret = mvm_fail_host(err, -errno, "%s: close: %s", tmp,
				    strerror(errno));
	return ret;
}

int snap_file_write(const char *path, const struct snap_file *s,
		    struct mvm_err *err)
{
	void *buf;
	size_t len;
	char *tmp;
	int ret = snap_file_encode(s, &buf, &len, err);

	if (ret)
		return ret;
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		free(buf);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	ret = write_tmp(tmp, buf, len, err);
	if (!ret && rename(tmp, path) < 0)
		ret = mvm_fail(err, -errno, "%s: cannot rename %s over it: %s",
			       path, tmp, strerror(errno));
	if (ret)
		unlink(tmp);
	else
		sync_dir(path);
	free(tmp);
	free(buf);
	return ret;
}

static int read_all(int fd, void *buf, size_t len, const char *path,
		    struct mvm_err *err)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mvm_fail(err, -errno, "%s: %s", path,
					strerror(errno));
		if (n == 0)
			return mvm_fail(err, -EIO, "%s: shrank while being "
					"read", path);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_file(const char *path, void **buf, size_t *len,
		     struct mvm_err *err)
{
	/* O_NONBLOCK: a FIFO is refused below, not waited on. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st = { .st_size = 0 };
	int ret = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return mvm_fail(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		ret = mvm_fail(err, -errno, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		ret = mvm_fail(err, -EINVAL, "%s: %s, not a snapshot state "
			       "file", path, file_kind(st.st_mode));
	else if ((uint64_t)st.st_size > SNAP_FILE_MAX)
		ret = mvm_fail(err, -EFBIG, "%s: %jd bytes, more than a state "
			       "file's %u", path, (intmax_t)st.st_size,
			       SNAP_FILE_MAX);
	else if (!(*buf = malloc(st.st_size ? (size_t)st.st_size : 1)))
		ret = mvm_fail(err, -ENOMEM, "%s: out of memory", path);
	else
		ret = read_all(fd, *buf, (size_t)st.st_size, path, err);
	close(fd);
	if (!ret)
		*len = (size_t)st.st_size;
	if (ret) {
		free(*buf);
		*buf = NULL;
	}
	return ret;
}

int snap_file_read(const char *path, struct snap_file *s,
		   struct mvm_err *err)
{
	void *buf;
	size_t len;
	int ret = read_file(path, &buf, &len, err);

	memset(s, 0, sizeof(*s));
	if (ret)
		return ret;
	ret = snap_file_decode(buf, len, s, err);
	free(buf);
	if (ret)
		return mvm_wrap(err, ret, "%s: ", path);
	return 0;
}
