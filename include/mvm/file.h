/*
 * Input files (kernel, initrd) read into memory, with clear errors; and
 * a file's contents into another, shared where the file system can
 * (checkpoints' disks).
 */
#ifndef MVM_FILE_H
#define MVM_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mvm_err;

struct mapped_file {
	const uint8_t *data;
	size_t size;
};

/* role names the culprit in messages: "kernel", "initrd". */
int file_map(const char *role, const char *path, struct mapped_file *out,
	     struct mvm_err *err);
void file_unmap(struct mapped_file *f);

/* What a path that is no regular file names, for messages: "a FIFO". */
const char *file_kind(mode_t mode);

/*
 * dst (a regular file open for writing) becomes a copy of the first size
 * bytes of src (a regular file): a reflink (ioctl FICLONE: the two share
 * their extents until either is written) where the file system makes
 * one, else dst emptied and src's data extents copied into it
 * (copy_file_range, or read and write), so that its holes stay holes.
 * dst is size bytes long after either. *reflinked says which was done.
 * The names are for messages.
 */
int file_clone_or_copy(int src, const char *src_name, int dst,
		       const char *dst_name, uint64_t size, bool *reflinked,
		       struct mvm_err *err);

#endif
