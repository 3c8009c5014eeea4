#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/file.h"

int file_map(const char *role, const char *path, struct mapped_file *out,
	     struct mvm_err *err)
{
	struct stat st;
	void *p;
	int fd, e;

	out->data = NULL;
	out->size = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
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
		return mvm_fail(err, -EINVAL, "%s %s: not a regular file",
				role, path);
	}
	if (st.st_size == 0) {
		close(fd);
		return mvm_fail(err, -ENOEXEC, "%s %s: file is empty", role,
				path);
	}
	/* Private and read-only: the guest gets copies, the file is safe. */
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return mvm_fail(err, -e, "%s %s: cannot map: %s", role, path,
				strerror(e));
	out->data = p;
	out->size = (size_t)st.st_size;
	return 0;
}

void file_unmap(struct mapped_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	f->data = NULL;
	f->size = 0;
}
