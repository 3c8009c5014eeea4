/*
 * Input files (kernel, initrd) are read into private anonymous memory, not
 * mapped: a mapping of a file that another process truncates raises
 * SIGBUS on the next touch of a page past the new end, which would kill
 * mvm, while a short read is just an error that names the file.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"

const char *file_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a file";
}

/*
 * O_NONBLOCK: opening a FIFO for reading would wait for a writer, with
 * every signal blocked (they are read from a signalfd); with the flag it
 * returns at once and fstat() refuses it. Regular files ignore the flag.
 */
static int open_regular(const char *role, const char *path, off_t *size,
			struct mvm_err *err)
{
	struct stat st;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return mvm_fail(err, -errno, "%s %s: %s", role, path,
				strerror(errno));
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return mvm_fail(err, -e, "%s %s: %s", role, path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mvm_fail(err, -EINVAL, "%s %s: not a regular file (%s)",
				role, path, file_kind(st.st_mode));
	}
	if (st.st_size == 0) {
		close(fd);
		return mvm_fail(err, -ENOEXEC, "%s %s: file is empty", role,
				path);
	}
	*size = st.st_size;
	return fd;
}

/* All of [0, size) or an error: a short read means the file shrank. */
static int read_all(const char *role, const char *path, int fd, uint8_t *p,
		    size_t size, struct mvm_err *err)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = pread(fd, p + done, size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mvm_fail(err, -errno, "%s %s: read: %s", role,
					path, strerror(errno));
		if (n == 0)
			return mvm_fail(err, -EIO, "%s %s: the file shrank "
					"while mvm read it (%zu of %zu bytes)",
					role, path, done, size);
		done += (size_t)n;
	}
	return 0;
}

int file_map(const char *role, const char *path, struct mapped_file *out,
	     struct mvm_err *err)
{
	off_t size = 0;
	void *p;
	int fd, ret;

	out->data = NULL;
	out->size = 0;
	fd = open_regular(role, path, &size, err);
	if (fd < 0)
		return fd;
	/* Anonymous pages: untouched ones cost nothing, the rest is freed
	 * at once by file_unmap(). */
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		ret = mvm_fail(err, -ENOMEM, "%s %s: no memory for its %lld "
			       "bytes", role, path, (long long)size);
		close(fd);
		return ret;
	}
	ret = read_all(role, path, fd, p, (size_t)size, err);
	close(fd);
	if (ret) {
		munmap(p, (size_t)size);
		return ret;
	}
	out->data = p;
	out->size = (size_t)size;
	return 0;
}

void file_unmap(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	f->data = NULL;
	f->size = 0;
}
