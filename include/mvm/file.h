/* Input files (kernel, initrd) read into memory, with clear errors. */
#ifndef MVM_FILE_H
#define MVM_FILE_H

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

#endif
