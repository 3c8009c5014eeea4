/*
 * The API form's command line, Firecracker's flags: a program that execs
 * `firecracker` with its usual arguments runs mvm the same way. Flags come
 * in any order, each at most once; a bad value is refused naming the flag
 * and the value. What each flag does is vmm_main's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/err.h"

const char cli_fc_usage[] =
	"usage: mvm [FLAGS]   (Firecracker's flags, in any order)\n"
	"\n"
	"  --api-sock PATH     serve the control API (Firecracker's, plus\n"
	"                      mvm's extensions) on this UNIX socket; without\n"
	"                      it, and without --config-file, --incoming or\n"
	"                      --no-api, on " CLI_DEFAULT_API_SOCK "\n"
	"  --config-file FILE  boot at once from this JSON document (the\n"
	"                      shapes of GET /vm/config); no API unless\n"
	"                      --api-sock is given\n"
	"  --no-api            serve no API (needs --config-file)\n"
	"  --incoming URI      receive a live migration on unix:PATH or\n"
	"                      tcp:HOST:PORT and run its guest (as PUT\n"
	"                      /migration/incoming does); mvm ends if it\n"
	"                      fails\n"
	"  --id ID             the instance id GET / and the log lines show:\n"
	"                      1-64 letters, digits and '-'\n"
	"                      (default anonymous-instance)\n"
	"  --no-seccomp        no seccomp filters (debugging only)\n"
	"  --seccomp-filter FILE\n"
	"                      refused: mvm installs its own filters\n"
	"  --log-path PATH     start the logger, as PUT /logger does, writing\n"
	"                      to this file or FIFO (default stderr when any\n"
	"                      logger flag is given)\n"
	"  --level LEVEL       Error, Warning, Info (default), Debug, Trace\n"
	"                      or Off, in any case\n"
	"  --show-level        put each line's level in it\n"
	"  --show-log-origin   put each line's origin (mvm's module) in it\n"
	"  --module NAME       log only this module's lines\n"
	"  --metrics-path PATH write metrics here, as PUT /metrics does\n"
	"  --boot-timer        log the time from InstanceStart to the guest\n"
	"                      writing 123 at 0xd0000000 (Firecracker's boot\n"
	"                      timer)\n"
	"  --http-api-max-payload-size BYTES\n"
	"                      refuse request bodies larger than this with\n"
	"                      400 (default: 65536, refused with 413)\n"
	"  --start-time-us US  --start-time-cpu-us US\n"
	"  --parent-cpu-time-us US\n"
	"                      when the launcher started (CLOCK_MONOTONIC),\n"
	"                      its CPU time then and its parent's: the\n"
	"                      metrics' api_server.process_startup_time_us\n"
	"                      and _cpu_us\n"
	"  --enable-pci        accepted: PCI is mvm's only transport\n"
	"  --mmds-size-limit BYTES\n"
	"                      the MMDS data store's limit, on its compact\n"
	"                      JSON (default: the API's payload limit)\n"
	"  --metadata FILE     fill the MMDS data store with this JSON file\n"
	"                      at start, as PUT /mmds does\n"
	"  --describe-snapshot FILE\n"
	"                      print a state file's format version (\"v1\")\n"
	"                      and a one-line summary\n"
	"  --version           print the version, as Firecracker does\n"
	"  --help              print this\n";

enum fc_flag {
	FC_API_SOCK, FC_CONFIG_FILE, FC_INCOMING, FC_NO_API, FC_NO_SECCOMP,
	FC_ID, FC_LOG_PATH, FC_LEVEL, FC_SHOW_LEVEL, FC_SHOW_ORIGIN,
	FC_MODULE, FC_METRICS_PATH, FC_BOOT_TIMER, FC_MAX_PAYLOAD,
	FC_START_US, FC_START_CPU_US, FC_PARENT_CPU_US, FC_ENABLE_PCI,
	FC_MMDS_SIZE_LIMIT, FC_METADATA, FC_SECCOMP_FILTER,
	FC_DESCRIBE_SNAPSHOT, FC_VERSION, FC_HELP, FC_NR
};

static const struct {
	const char *name;
	bool value;
} fc_flags[FC_NR] = {
	[FC_API_SOCK] = { "--api-sock", true },
	[FC_CONFIG_FILE] = { "--config-file", true },
	[FC_INCOMING] = { "--incoming", true },
	[FC_NO_API] = { "--no-api", false },
	[FC_NO_SECCOMP] = { "--no-seccomp", false },
	[FC_ID] = { "--id", true },
	[FC_LOG_PATH] = { "--log-path", true },
	[FC_LEVEL] = { "--level", true },
	[FC_SHOW_LEVEL] = { "--show-level", false },
	[FC_SHOW_ORIGIN] = { "--show-log-origin", false },
	[FC_MODULE] = { "--module", true },
	[FC_METRICS_PATH] = { "--metrics-path", true },
	[FC_BOOT_TIMER] = { "--boot-timer", false },
	[FC_MAX_PAYLOAD] = { "--http-api-max-payload-size", true },
	[FC_START_US] = { "--start-time-us", true },
	[FC_START_CPU_US] = { "--start-time-cpu-us", true },
	[FC_PARENT_CPU_US] = { "--parent-cpu-time-us", true },
	[FC_ENABLE_PCI] = { "--enable-pci", false },
	[FC_MMDS_SIZE_LIMIT] = { "--mmds-size-limit", true },
	[FC_METADATA] = { "--metadata", true },
	[FC_SECCOMP_FILTER] = { "--seccomp-filter", true },
	[FC_DESCRIBE_SNAPSHOT] = { "--describe-snapshot", true },
	[FC_VERSION] = { "--version", false },
	[FC_HELP] = { "--help", false },
};

/* The flag arg names ("--id" or "--id=..."), or -1. */
static int flag_of(const char *arg, const char **inline_value)
{
	for (int f = 0; f < FC_NR; f++) {
		size_t n = strlen(fc_flags[f].name);

		if (strncmp(arg, fc_flags[f].name, n))
			continue;
		if (arg[n] == '\0') {
			*inline_value = NULL;
			return f;
		}
		if (arg[n] == '=') {
			*inline_value = arg + n + 1;
			return f;
		}
	}
	return -1;
}

bool cli_fc_flag(const char *arg)
{
	const char *v;

	return flag_of(arg, &v) >= 0;
}

/* Firecracker's rule for instance ids (validate_instance_id). */
static int check_id(const char *id, struct mvm_err *err)
{
	size_t n = strlen(id);

	if (n < 1 || n > VMM_ID_MAX)
		return mvm_fail(err, -EINVAL, "--id: '%.80s' must be 1 to %d "
				"characters long", id, VMM_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (!(id[i] == '-' || (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') ||
		      (id[i] >= 'A' && id[i] <= 'Z')))
			return mvm_fail(err, -EINVAL, "--id: '%.80s' has a "
					"character other than a letter, a "
					"digit or '-' at %zu", id, i);
	return 0;
}

/* Firecracker's level names, any case; "Warn" too, as its parser takes. */
static int parse_level(const char *s, enum api_log_level *out,
		       struct mvm_err *err)
{
	static const char *const names[] = { "Off", "Error", "Warning",
					     "Info", "Debug", "Trace" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i])) {
			*out = (enum api_log_level)i;
			return 0;
		}
	if (!strcasecmp(s, "Warn")) {
		*out = API_LOG_WARNING;
		return 0;
	}
	return mvm_fail(err, -EINVAL, "--level: '%.80s' is not one of Error, "
			"Warning, Info, Debug, Trace, Off", s);
}

/* Paths and names are echoed into JSON (GET /vm/config): text only. */
static int check_text(const char *flag, const char *s, struct mvm_err *err)
{
	char why[64];
	const char *p = api_text_problem(s, why, sizeof(why));

	if (!*s)
		return mvm_fail(err, -EINVAL, "%s: the value must not be "
				"empty", flag);
	return p ? mvm_fail(err, -EINVAL, "%s: the value %s", flag, p) : 0;
}

static int parse_us(const char *flag, const char *s, uint64_t *out,
		    bool *set, struct mvm_err *err)
{
	unsigned long long v;
	int ret = cli_parse_u64(flag, s, UINT64_MAX, &v, err);

	if (!ret) {
		*out = v;
		*set = true;
	}
	return ret;
}

static int take_value(int f, const char *v, struct cli_fc_opts *o,
		      struct mvm_err *err)
{
	const char *name = fc_flags[f].name;
	unsigned long long n;
	int ret;

	switch (f) {
	case FC_API_SOCK:
		o->api.api_sock = v;
		return check_text(name, v, err);
	case FC_CONFIG_FILE:
		o->api.config_file = v;
		return check_text(name, v, err);
	case FC_INCOMING:
		o->api.incoming = v;
		return check_text(name, v, err);
	case FC_ID:
		o->id = v;
		return check_id(v, err);
	case FC_LOG_PATH:
		o->logger = true;
		o->log_path = v;
		return check_text(name, v, err);
	case FC_LEVEL:
		o->logger = true;
		return parse_level(v, &o->level, err);
	case FC_MODULE:
		o->logger = true;
		o->module = v;
		return check_text(name, v, err);
	case FC_METRICS_PATH:
		o->metrics_path = v;
		return check_text(name, v, err);
	case FC_MAX_PAYLOAD:
		ret = cli_parse_u64(name, v, CLI_MAX_PAYLOAD, &n, err);
		o->max_payload = (size_t)n;
		o->max_payload_set = !ret;
		return ret;
	case FC_START_US:
		return parse_us(name, v, &o->start_us, &o->start_us_set, err);
	case FC_START_CPU_US:
		return parse_us(name, v, &o->start_cpu_us,
				&o->start_cpu_us_set, err);
	case FC_PARENT_CPU_US:
		return parse_us(name, v, &o->parent_cpu_us,
				&o->parent_cpu_us_set, err);
	case FC_MMDS_SIZE_LIMIT:
		/* The store is held in memory: the payload limit's bound. */
		ret = cli_parse_u64(name, v, CLI_MAX_PAYLOAD, &n, err);
		o->mmds_limit = (size_t)n;
		o->mmds_limit_set = !ret;
		return ret;
	case FC_METADATA:
		o->metadata = v;
		return check_text(name, v, err);
	case FC_SECCOMP_FILTER:
		return mvm_fail(err, -ENOTSUP, "%s %.80s: custom seccomp "
				"filters are not supported (mvm installs its "
				"own; --no-seccomp turns them off)", name, v);
	case FC_DESCRIBE_SNAPSHOT:
		o->describe_snapshot = v;
		return 0;
	}
	return -EINVAL;
}

static void take_flag(int f, struct cli_fc_opts *o)
{
	switch (f) {
	case FC_NO_API:
		o->no_api = true;
		break;
	case FC_NO_SECCOMP:
		o->api.no_seccomp = true;
		break;
	case FC_SHOW_LEVEL:
		o->logger = o->show_level = true;
		break;
	case FC_SHOW_ORIGIN:
		o->logger = o->show_origin = true;
		break;
	case FC_BOOT_TIMER:
		o->boot_timer = true;
		break;
	case FC_VERSION:
		o->version = true;
		break;
	case FC_HELP:
		o->help = true;
		break;
	default: /* --enable-pci: PCI is the only transport mvm has */
		break;
	}
}

/* The combinations Firecracker (or mvm) refuses, and the default socket. */
static int check_combination(struct cli_fc_opts *o, struct mvm_err *err)
{
	if (o->no_api && !o->api.config_file)
		return mvm_fail(err, -EINVAL, "--no-api needs --config-file: "
				"without an API the VM comes from the file");
	if (o->api.incoming && o->api.config_file)
		return mvm_fail(err, -EINVAL, "--incoming cannot be combined "
				"with --config-file: the VM comes from the "
				"source");
	/* Firecracker ignores --api-sock under --no-api; so does mvm. */
	if (o->no_api)
		o->api.api_sock = NULL;
	else if (!o->api.api_sock && !o->api.config_file &&
		 !o->api.incoming) {
		o->api.api_sock = CLI_DEFAULT_API_SOCK;
		o->default_sock = true;
	}
	return 0;
}

int cli_parse_fc(int argc, char **argv, struct cli_fc_opts *o,
		 struct mvm_err *err)
{
	bool seen[FC_NR] = { false };

	memset(o, 0, sizeof(*o));
	o->level = API_LOG_INFO;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int f = flag_of(argv[i], &v), ret;

		if (f < 0)
			return mvm_fail(err, -EINVAL, "unknown argument "
					"'%.80s' (see mvm --help)", argv[i]);
		if (seen[f])
			return mvm_fail(err, -EINVAL, "%s: given more than "
					"once", fc_flags[f].name);
		seen[f] = true;
		if (!fc_flags[f].value) {
			if (v)
				return mvm_fail(err, -EINVAL, "%s takes no "
						"value (got '%.80s')",
						fc_flags[f].name, v);
			take_flag(f, o);
			continue;
		}
		if (!v) {
			if (i + 1 >= argc)
				return mvm_fail(err, -EINVAL, "%s needs a "
						"value", fc_flags[f].name);
			v = argv[++i];
		}
		ret = take_value(f, v, o, err);
		if (ret)
			return ret;
	}
	if (o->help || o->version || o->describe_snapshot)
		return 0; /* they answer and end: the rest does not matter */
	return check_combination(o, err);
}
