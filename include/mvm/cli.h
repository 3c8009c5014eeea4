/* Command-line parsing into a vm_config; pure, so it is unit-tested. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "mvm/spec.h"
#include "mvm/vm.h"

struct mvm_err;

/*
 * Parse `run` options (argv[0] is "run"). Returns 0, 1 when --help was
 * asked (usage printed by the caller), or a negative errno with a message
 * naming the bad option.
 */
int cli_parse_run(int argc, char **argv, struct vm_config *cfg,
		  struct mvm_err *err);
/* Parse a decimal count for option opt ("--cpus"), within [0, max]. */
int cli_parse_u64(const char *opt, const char *s, unsigned long long max,
		  unsigned long long *out, struct mvm_err *err);
extern const char cli_run_usage[];

/* The API options: --api-sock PATH, --config-file FILE. */
struct cli_api_opts {
	const char *api_sock;
	const char *config_file;
	const char *incoming; /* --incoming URI: a live migration's target */
	bool no_seccomp; /* --no-seccomp: no filters, for debugging */
};

/*
 * Remove the API options (and --no-seccomp, which every VM-running form
 * takes) from argv (argv[0] is kept; argc is updated) and return them in
 * *o. --config-file is refused unless config_allowed.
 */
int cli_take_api_opts(int *argc, char **argv, struct cli_api_opts *o,
		      bool config_allowed, struct mvm_err *err);

/*
 * `mvm snapshot inspect FILE | merge BASE_MEM DIFF_MEM` (argv[0] is
 * "snapshot") and `mvm --describe-snapshot FILE` (argv[0] is "mvm"):
 * output to out, the one-line errors to errs; mvm's exit status.
 */
int cli_snapshot(int argc, char **argv, FILE *out, FILE *errs);
int cli_describe_snapshot(int argc, char **argv, FILE *out, FILE *errs);
extern const char cli_snapshot_usage[];

/*
 * `mvm checkpoint create|list|apply|delete|config --api-sock PATH [NAME]`
 * (argv[0] is "checkpoint"): one request to the API at PATH; its JSON
 * answer to out, the one-line errors to errs; mvm's exit status.
 */
int cli_checkpoint(int argc, char **argv, FILE *out, FILE *errs);
extern const char cli_checkpoint_usage[];

#endif
