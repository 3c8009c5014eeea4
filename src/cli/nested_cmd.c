/*
 * `mvm nested enable|disable --config FILE [--yes]`: turn nested
 * virtualization on or off in a VM config file (the file of
 * `mvm --config-file`), with every prerequisite the file can express
 * checked first. It shows each change, asks before making it, and writes
 * the file back atomically (a temporary file renamed over it), so a crash
 * leaves the old file or the new one, never half of one.
 */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/run.h"

/* The config loader's own limit. */
#define CONFIG_MAX (1024 * 1024)

static const char usage[] =
	"usage: mvm nested enable|disable --config FILE [--yes]\n"
	"                  [--keep-mac-spoofing]\n"
	"\n"
	"Turn nested virtualization (machine-config.nested_virt) on or off in\n"
	"a VM config file, the JSON document of mvm --config-file.\n"
	"\n"
	"  enable    first checks that this host can nest (as mvm host-check\n"
	"            does); turns mac_spoofing on for every NIC without it\n"
	"            (guests of the guest bridge with their own MACs); warns\n"
	"            when the guest has less than 1024 MiB\n"
	"  disable   turns it off; leaves NICs as they are\n"
	"\n"
	"  --config FILE        the config file to change\n"
	"  --yes                apply without asking; otherwise mvm asks on\n"
	"                       the terminal, and declines when there is none\n"
	"  --keep-mac-spoofing  leave NICs as they are (warn instead)\n"
	"\n"
	"Each change is shown before it is made. The file is replaced\n"
	"atomically; content mvm does not change is carried over.\n"
	"\n"
	"Exit status: 0 done (or nothing to change), 1 declined, 2 impossible\n"
	"on this host (enable: the host cannot nest; nothing is written),\n"
	"3 bad input (usage, unreadable or invalid config file).\n";

struct cmd_opts {
	bool enable;
	const char *file;
	bool yes;
	bool keep_mac_spoofing;
};

enum { OPT_CONFIG = 256, OPT_YES, OPT_KEEP, OPT_HELP };

static int parse_args(int argc, char **argv, struct cmd_opts *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "keep-mac-spoofing", no_argument, NULL, OPT_KEEP },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	memset(o, 0, sizeof(*o));
	if (argc >= 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "help")))
		return 1;
	if (argc < 2 || (strcmp(argv[1], "enable") &&
			 strcmp(argv[1], "disable"))) {
		fprintf(stderr, "mvm nested: say enable or disable\n");
		return -EINVAL;
	}
	o->enable = !strcmp(argv[1], "enable");
	optind = 2;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG:
			o->file = optarg;
			break;
		case OPT_YES:
			o->yes = true;
			break;
		case OPT_KEEP:
			o->keep_mac_spoofing = true;
			break;
		case OPT_HELP:
			return 1;
		default:
			fprintf(stderr, "mvm nested: unknown or incomplete "
				"option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mvm nested: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (!o->file) {
		fprintf(stderr, "mvm nested: --config FILE is required\n");
		return -EINVAL;
	}
	return 0;
}

static int read_file(const char *file, char **text, size_t *len,
		     struct mvm_err *err)
{
	struct stat st;
	ssize_t got;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mvm_fail(err, -errno, "%s: %s", file, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_MAX) {
		close(fd);
		return mvm_fail(err, -EINVAL, "%s: not a regular file of at "
				"most %d bytes", file, CONFIG_MAX);
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		close(fd);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	got = read(fd, *text, (size_t)st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(*text);
		*text = NULL;
		return mvm_fail(err, -EIO, "%s: short read", file);
	}
	(*text)[got] = '\0';
	*len = (size_t)got;
	return 0;
}

/* The loader itself judges the file, so "valid" means what mvm boots. */
static int validate(const char *text, size_t len, const char *name,
		    struct vm_spec *spec, struct mvm_err *err)
{
	struct shape_opts so = { .dry_run = true };

	spec_init(spec);
	return config_parse(spec, text, len, name, &so, err);
}

static int host_can_nest(void)
{
	struct mvm_err err = { .msg = "" };
	struct host_probe p;

	if (nested_probe_host(&p, &err)) {
		fprintf(stderr, "mvm nested: impossible on this host: cannot "
			"probe it: %s\n", err.msg);
		return 0;
	}
	if (p.nested_supported)
		return 1;
	for (int i = 0; i < HOST_CHECK_COUNT; i++) {
		const struct host_check *c = &p.checks[i];

		if (c->checked && !c->ok) {
			fprintf(stderr, "mvm nested: impossible on this host: "
				"%s%s%s\n", c->reason,
				c->fix[0] ? "; fix: " : "", c->fix);
			return 0;
		}
	}
	fprintf(stderr, "mvm nested: impossible on this host (see mvm "
		"host-check)\n");
	return 0;
}

static void show_plan(const struct cmd_opts *o, const struct nested_plan *p)
{
	printf("mvm nested %s: changes to %s:\n",
	       o->enable ? "enable" : "disable", o->file);
	for (unsigned i = 0; i < p->nr_changes; i++) {
		const struct nested_change *c = &p->changes[i];

		printf("  %s: %s -> %s\n      (%s)\n", c->path, c->from, c->to,
		       c->why);
	}
}

static bool confirmed(const struct cmd_opts *o)
{
	char line[32];

	if (o->yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		printf("declined: no terminal to ask on; run with --yes to "
		       "apply. %s is unchanged.\n", o->file);
		return false;
	}
	printf("Apply these changes to %s? [y/N] ", o->file);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	if (!strcmp(line, "y\n") || !strcmp(line, "Y\n") ||
	    !strcmp(line, "yes\n")) {
		return true;
	}
	printf("declined. %s is unchanged.\n", o->file);
	return false;
}

/* Write text next to path and rename it over path (its target, if a link). */
static int write_atomically(const char *path, const char *text,
			    struct mvm_err *err)
{
	char real[PATH_MAX], tmp[PATH_MAX + 16];
	size_t len = strlen(text);
	struct stat st;
	int fd, ret = 0;

	if (!realpath(path, real))
		return mvm_fail(err, -errno, "%s: %s", path, strerror(errno));
	if (stat(real, &st) < 0)
		return mvm_fail(err, -errno, "%s: %s", real, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", real);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return mvm_fail(err, -errno, "cannot create a file next to %s: "
				"%s", real, strerror(errno));
	/* Keep who may read it: a config can name private paths. */
	if (fchmod(fd, st.st_mode & 07777) < 0 ||
	    write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		ret = mvm_fail(err, -errno, "%s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && !ret)
		ret = mvm_fail(err, -errno, "%s: %s", tmp, strerror(errno));
	if (!ret && rename(tmp, real) < 0)
		ret = mvm_fail(err, -errno, "cannot replace %s: %s", real,
			       strerror(errno));
	if (ret)
		unlink(tmp);
	return ret;
}

/* Plan, confirm and write; text is the file's content. */
static int apply(const struct cmd_opts *o, const char *text,
		 const struct vm_spec *spec)
{
	struct nested_plan_opts po = {
		.enable = o->enable,
		.mac_spoofing = !o->keep_mac_spoofing,
		.default_vcpus = spec->vcpu_count,
		.default_mem_mib = spec->mem_size_mib,
	};
	struct mvm_err err = { .msg = "" };
	struct json_object *doc, *out = NULL;
	struct nested_plan *plan;
	struct vm_spec check;
	const char *s;
	char *buf = NULL;
	int status = NESTED_CMD_BAD_INPUT;

	/* The same strict parser as the API and --config-file. */
	if (api_json_parse(text, strlen(text), &doc, &err))
		doc = NULL;
	plan = calloc(1, sizeof(*plan));
	if (!doc || !plan || nested_plan_make(doc, &po, plan, &out, &err)) {
		fprintf(stderr, "mvm nested: %s: %s\n", o->file,
			err.msg[0] ? err.msg : "cannot read the JSON");
		goto out;
	}
	for (unsigned i = 0; i < plan->nr_warnings; i++)
		fprintf(stderr, "warning: %s\n", plan->warnings[i]);
	if (!plan->nr_changes) {
		printf("mvm nested: %s already has nested virtualization %s; "
		       "nothing to change\n", o->file,
		       o->enable ? "on" : "off");
		status = NESTED_CMD_DONE;
		goto out;
	}
	show_plan(o, plan);
	s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s || asprintf(&buf, "%s\n", s) < 0) {
		buf = NULL;
		fprintf(stderr, "mvm nested: out of memory\n");
		goto out;
	}
	/* Never write a file mvm itself would refuse to boot. */
	if (validate(buf, strlen(buf), o->file, &check, &err)) {
		spec_free(&check);
		fprintf(stderr, "mvm nested: the changed file would not load: "
			"%s\n", err.msg);
		goto out;
	}
	spec_free(&check);
	if (!confirmed(o)) {
		status = NESTED_CMD_DECLINED;
		goto out;
	}
	if (write_atomically(o->file, buf, &err)) {
		fprintf(stderr, "mvm nested: %s\n", err.msg);
		goto out;
	}
	printf("mvm nested: %s updated (%u change%s)\n", o->file,
	       plan->nr_changes, plan->nr_changes == 1 ? "" : "s");
	status = NESTED_CMD_DONE;
out:
	free(buf);
	free(plan);
	json_object_put(out);
	json_object_put(doc);
	return status;
}

int mvm_cmd_nested(int argc, char **argv)
{
	struct mvm_err err = { .msg = "" };
	struct cmd_opts o;
	struct vm_spec spec;
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret == 1) {
		fputs(usage, stdout);
		return NESTED_CMD_DONE;
	}
	if (ret) {
		fputs(usage, stderr);
		return NESTED_CMD_BAD_INPUT;
	}
	if (read_file(o.file, &text, &len, &err)) {
		fprintf(stderr, "mvm nested: %s\n", err.msg);
		return NESTED_CMD_BAD_INPUT;
	}
	if (validate(text, len, o.file, &spec, &err)) {
		fprintf(stderr, "mvm nested: %s\n", err.msg);
		ret = NESTED_CMD_BAD_INPUT;
	} else if (o.enable && !host_can_nest()) {
		ret = NESTED_CMD_IMPOSSIBLE;
	} else {
		ret = apply(&o, text, &spec);
	}
	spec_free(&spec);
	free(text);
	return ret;
}
