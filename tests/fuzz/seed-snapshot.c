/*
 * The snapshot fuzzer's seed: a valid state file, written by the encoder
 * itself from the unit tests' fixture (tests/unit/snap_fixture.h), so the
 * seed follows the format as it changes.
 *   seed-snapshot OUT
 */
#include <stdio.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"

#include "snap_fixture.h"

int main(int argc, char **argv)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file s;
	int ret;

	if (argc != 2) {
		fprintf(stderr, "usage: seed-snapshot OUT\n");
		return 2;
	}
	ret = fix_make_snap(&s);
	if (ret)
		snprintf(err.msg, sizeof(err.msg), "fixture: error %d", ret);
	else
		ret = snap_file_write(argv[1], &s, &err);
	snap_file_free(&s);
	if (ret) {
		fprintf(stderr, "seed-snapshot: %s\n", err.msg);
		return 1;
	}
	return 0;
}
