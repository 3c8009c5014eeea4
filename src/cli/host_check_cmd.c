/*
 * `mvm host-check [--json]`: probe the host and say whether VMs here can
 * expose nested virtualization and boot stock kernels. The exit status
 * tells whether the probe ran, not what it found: "no" is a valid answer.
 */
#include <stdio.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/run.h"

#define EXIT_PROBE_FAILED 1
#define EXIT_BAD_INPUT 1

static void usage(FILE *out, const char *prog)
{
	fprintf(out, "usage: %s [--json]\n"
		     "  Check whether this host can run VMs with nested "
		     "virtualization\n"
		     "  and unmodified guest kernels. Exit status 0 means the "
		     "check ran;\n"
		     "  1 means it could not run (or bad arguments).\n", prog);
}

int mvm_cmd_host_check(int argc, char **argv)
{
	const char *prog = argc > 0 && argv[0] ? argv[0] : "host-check";
	struct mvm_err err = { .msg = "" };
	struct host_probe p;
	bool json = false;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout, prog);
			return 0;
		} else {
			/* One line and status 1, as every bad input to mvm. */
			fprintf(stderr, "mvm host-check: unknown option '%s' "
				"(see mvm host-check --help)\n", argv[i]);
			return EXIT_BAD_INPUT;
		}
	}

	r = nested_probe_host(&p, &err);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		return EXIT_PROBE_FAILED;
	}
	r = nested_host_check_print(&p, stdout, json);
	if (r < 0) {
		fprintf(stderr, "%s: cannot write the report: %s\n", prog,
			strerror(-r));
		return EXIT_PROBE_FAILED;
	}
	return fflush(stdout) ? EXIT_PROBE_FAILED : 0;
}
