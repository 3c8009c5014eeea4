/* Command-line parsing into a vm_config; pure, so it is unit-tested. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mvm/spec.h"
#include "mvm/vm.h"
#include "mvm/vmm.h"

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
 * The API form's flags, Firecracker's (src/cli/fc_flags.c): mvm started as
 * a program that execs `firecracker` starts it, the flags in any order.
 */
struct cli_fc_opts {
	struct cli_api_opts api; /* --api-sock, --config-file, --incoming,
				    --no-seccomp */
	bool no_api;             /* --no-api: needs --config-file */
	bool default_sock;       /* api.api_sock is the default path */
	const char *id;          /* --id, validated; NULL: the default */
	/* The logger, as PUT /logger would set it; logger: any was given. */
	bool logger;
	const char *log_path;    /* NULL: stderr */
	enum api_log_level level;
	bool show_level, show_origin;
	const char *module;
	const char *metrics_path;
	bool boot_timer;
	bool max_payload_set;
	size_t max_payload;      /* --http-api-max-payload-size */
	/* --mmds-size-limit (default: the payload limit); --metadata. */
	bool mmds_limit_set;
	size_t mmds_limit;
	const char *metadata;
	/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us. */
	bool start_us_set, start_cpu_us_set, parent_cpu_us_set;
	uint64_t start_us, start_cpu_us, parent_cpu_us;
	const char *describe_snapshot;
	bool help, version;
};

/* Where the API form serves without --api-sock (Firecracker's is
 * /run/firecracker.socket). */
#define CLI_DEFAULT_API_SOCK "/run/mvm.socket"
/* The largest --http-api-max-payload-size: bodies are held in memory. */
#define CLI_MAX_PAYLOAD (64ull << 20)

/*
 * Parse the API form's argv (argv[0] is "mvm"): every flag once, in any
 * order, "--flag VALUE" or "--flag=VALUE". 0, or -errno with a message
 * naming the flag and the value.
 */
int cli_parse_fc(int argc, char **argv, struct cli_fc_opts *o,
		 struct mvm_err *err);
/* arg is one of the API form's flags: main routes it to vmm_main. */
bool cli_fc_flag(const char *arg);
/* The API form's usage, for `mvm --help` too. */
extern const char cli_fc_usage[];

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
