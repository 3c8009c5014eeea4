/*
 * Snapshot files from the command line, without a VM:
 *   mvm snapshot inspect FILE          what a state file holds
 *   mvm snapshot merge BASE_MEM DIFF_MEM
 *                                      a Diff's memory file onto its base
 *   mvm --describe-snapshot FILE       the state file's format version,
 *                                      as Firecracker's flag prints its
 *                                      snapshot's ("v1"), and one line
 * Exit status 0, or 1 with one line naming the file and what is wrong.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mvm/cli.h"
#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mvm/run.h"
#include "mvm/snapshot.h"
#include "mvm/vmm.h"

const char cli_snapshot_usage[] =
	"usage: mvm snapshot inspect FILE\n"
	"       mvm snapshot merge BASE_MEM DIFF_MEM\n"
	"\n"
	"  inspect FILE    print what a snapshot's state file holds: when and\n"
	"                  by which mvm it was taken, Full or Diff, the\n"
	"                  machine, each vCPU (nested state or not), each\n"
	"                  device's state, the memory file's layout\n"
	"  merge BASE_MEM DIFF_MEM\n"
	"                  apply a Diff snapshot's memory file to the memory\n"
	"                  file of the snapshot before it, in place: BASE_MEM\n"
	"                  then goes with the Diff's state file\n"
	"\n"
	"Exit status: 0 done, 1 bad arguments or a bad file (one line says\n"
	"which and why).\n";

static int inspect(const char *path, FILE *out, FILE *errs)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file s;

	if (snap_file_read(path, &s, &err)) {
		fprintf(errs, "mvm snapshot inspect: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	snap_file_print(&s, out);
	snap_file_free(&s);
	return fflush(out) ? MVM_EXIT_START_FAILED : MVM_EXIT_OK;
}

static int merge(const char *base, const char *diff, FILE *errs)
{
	struct mvm_err err = { .msg = "" };

	if (gm_file_merge(base, diff, &err)) {
		fprintf(errs, "mvm snapshot merge: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	return MVM_EXIT_OK;
}

/* Exactly want operands after the action, or a line saying what is off. */
static bool operands(int argc, char **argv, int want, const char *names,
		     FILE *errs)
{
	if (argc - 2 == want)
		return true;
	if (argc - 2 < want)
		fprintf(errs, "mvm snapshot %s: needs %s (see mvm snapshot "
			"--help)\n", argv[1], names);
	else
		fprintf(errs, "mvm snapshot %s: unexpected argument '%s'\n",
			argv[1], argv[2 + want]);
	return false;
}

int cli_snapshot(int argc, char **argv, FILE *out, FILE *errs)
{
	if (argc < 2) {
		fputs(cli_snapshot_usage, errs);
		return MVM_EXIT_START_FAILED;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(cli_snapshot_usage, out);
		return MVM_EXIT_OK;
	}
	if (!strcmp(argv[1], "inspect"))
		return operands(argc, argv, 1, "FILE", errs) ?
			       inspect(argv[2], out, errs) :
			       MVM_EXIT_START_FAILED;
	if (!strcmp(argv[1], "merge"))
		return operands(argc, argv, 2, "BASE_MEM DIFF_MEM", errs) ?
			       merge(argv[2], argv[3], errs) :
			       MVM_EXIT_START_FAILED;
	fprintf(errs, "mvm snapshot: unknown action '%s' (inspect or merge; "
		"see mvm snapshot --help)\n", argv[1]);
	return MVM_EXIT_START_FAILED;
}

/* "2023-11-14T22:13:20Z", or the seconds when gmtime cannot say. */
static void when(uint64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;

	if (!gmtime_r(&sec, &tm) ||
	    !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%" PRIu64 " s after the epoch",
			 ns / 1000000000u);
}

int cli_describe_snapshot(int argc, char **argv, FILE *out, FILE *errs)
{
	struct mvm_err err = { .msg = "" };
	struct snap_file s;
	char taken[48];

	if (argc != 3) {
		fprintf(errs, "mvm --describe-snapshot: %s\n", argc < 3 ?
			"needs the state file: --describe-snapshot FILE" :
			"takes one state file and nothing else");
		return MVM_EXIT_START_FAILED;
	}
	if (snap_file_read(argv[2], &s, &err)) {
		fprintf(errs, "mvm --describe-snapshot: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	when(s.created_ns, taken, sizeof(taken));
	fprintf(out, "v%u\n%s snapshot taken %s by mvm %s: %u vCPUs, %" PRIu64
		" MiB, %u state nodes, nested state %s\n", s.format_version,
		s.type == SNAP_DIFF ? "Diff" : "Full", taken, s.mvm_version,
		s.machine.cpus, s.machine.mem_mib, s.state.nr,
		snap_file_has_nested(&s) ? "present" : "none");
	snap_file_free(&s);
	return fflush(out) ? MVM_EXIT_START_FAILED : MVM_EXIT_OK;
}

int mvm_cmd_snapshot(int argc, char **argv)
{
	return cli_snapshot(argc, argv, stdout, stderr);
}

int mvm_cmd_describe_snapshot(int argc, char **argv)
{
	return cli_describe_snapshot(argc, argv, stdout, stderr);
}
