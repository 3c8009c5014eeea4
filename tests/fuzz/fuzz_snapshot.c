/*
 * libFuzzer target: a snapshot's state file, as snap_file_read hands it
 * to snap_file_decode (include/mvm/snapshot.h). The input is the file:
 * any bytes. What decodes is printed (as `mvm snapshot inspect` does) and
 * must encode again, since mvm writes back what it loaded: a file that
 * decodes but cannot be written is a bug of the decoder's checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct mvm_err err;
	struct snap_file s;
	size_t len;
	void *buf;

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (snap_file_decode(data, size, &s, &err))
		return 0;
	if (sink)
		snap_file_print(&s, sink);
	if (snap_file_encode(&s, &buf, &len, &err)) {
		fprintf(stderr, "decoded, but does not encode: %s\n", err.msg);
		abort();
	}
	free(buf);
	snap_file_free(&s);
	return 0;
}
