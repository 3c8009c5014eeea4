/*
 * The API form, `mvm [FLAGS]` with Firecracker's flags (src/cli/fc_flags.c):
 * start with no VM and let clients configure it over the API, or take the
 * whole configuration from a file (the same shapes) and boot at once, or
 * receive a live migration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/err.h"
#include "mvm/run.h"
#include "mvm/sandbox.h"
#include "mvm/vmm.h"
#include "mvm/vmm_mmds.h"
#include "mvm/vmm_migration.h"

/*
 * The API's messages name the field of its body ("log_path: ..."); from a
 * file they also name the file and the section, as every other config
 * error does ("vm.json: logger.log_path: ...").
 */
static int in_file(int ret, const char *file, const char *section,
		   struct mvm_err *err)
{
	if (ret && file)
		mvm_wrap(err, ret, "%s: %s%s", file, section,
			 strchr(err->msg, ':') ? "." : ": ");
	return ret;
}

/* Outputs a config file names are opened as their API calls would. */
static int apply_outputs(struct vmm *v, const char *file,
			 struct mvm_err *err)
{
	int ret = 0;

	if (v->spec.logger_set)
		ret = in_file(vmm_logger_set(v, &v->spec, err), file,
			      "logger", err);
	if (!ret && v->spec.metrics_set)
		ret = in_file(vmm_metrics_set(v, &v->spec, err), file,
			      "metrics", err);
	if (!ret && v->spec.serial_set)
		ret = in_file(vmm_serial_set(v, &v->spec, err), file,
			      "serial", err);
	return ret;
}

static int start_incoming(struct vmm *v, const char *uri, struct mvm_err *err)
{
	struct vmm_migrate_in rq = { .nr_overrides = 0 };
	int ret;

	if (strlen(uri) >= sizeof(rq.uri))
		return mvm_fail(err, -EINVAL, "--incoming: the URI is longer "
				"than %zu bytes", sizeof(rq.uri) - 1);
	snprintf(rq.uri, sizeof(rq.uri), "%s", uri);
	v->incoming_cli = true;
	ret = vmm_migrate_in(v, &rq, err);
	return ret ? mvm_wrap(err, ret, "--incoming: ") : 0;
}

/* The logger flags, as PUT /logger would take them. */
static int fc_logger(struct vmm *v, const struct cli_fc_opts *o,
		     struct mvm_err *err)
{
	struct vm_spec src;
	int ret = 0;

	spec_init(&src);
	src.log_level = o->level;
	src.log_show_level = o->show_level;
	src.log_show_origin = o->show_origin;
	if (o->log_path && !(src.log_path = strdup(o->log_path)))
		ret = -ENOMEM;
	if (!ret && o->module && !(src.log_module = strdup(o->module)))
		ret = -ENOMEM;
	if (!ret)
		ret = vmm_logger_set(v, &src, err);
	else
		mvm_fail(err, ret, "out of memory");
	spec_free(&src);
	return ret ? mvm_wrap(err, ret, "--log-path %s: ", o->log_path ?
			      o->log_path : "(stderr)") : 0;
}

static int fc_metrics(struct vmm *v, const char *path, struct mvm_err *err)
{
	struct vm_spec src;
	int ret;

	spec_init(&src);
	src.metrics_path = strdup(path);
	ret = src.metrics_path ? vmm_metrics_set(v, &src, err) :
				 mvm_fail(err, -ENOMEM, "out of memory");
	spec_free(&src);
	return ret ? mvm_wrap(err, ret, "--metrics-path: ") : 0;
}

/*
 * What the flags set before any output opens: the id the log lines carry,
 * the launcher's times, the boot timer.
 */
static int fc_setup(struct vmm *v, const struct cli_fc_opts *o,
		    struct mvm_err *err)
{
	if (o->id)
		snprintf(v->id, sizeof(v->id), "%s", o->id);
	v->startup.start_set = o->start_us_set;
	v->startup.start_us = o->start_us;
	v->startup.start_cpu_set = o->start_cpu_us_set;
	v->startup.start_cpu_us = o->start_cpu_us;
	v->startup.parent_cpu_us = o->parent_cpu_us;
	return o->boot_timer ? vmm_boot_timer_enable(v, err) : 0;
}

/*
 * The logger and the metrics the flags name. Firecracker opens them before
 * a config file's, whose logger then takes over and whose second metrics
 * output is refused; mvm ends the same way, a config file's outputs being
 * open already (apply_outputs).
 */
static int fc_outputs(struct vmm *v, const struct cli_fc_opts *o,
		      const char *config_file, struct mvm_err *err)
{
	int ret = 0;

	if (o->logger && !(config_file && v->spec.logger_set))
		ret = fc_logger(v, o, err);
	if (!ret && o->metrics_path && v->spec.metrics_set)
		ret = mvm_fail(err, -EINVAL, "--metrics-path: the config file "
			       "configures the metrics too");
	if (!ret && o->metrics_path)
		ret = fc_metrics(v, o->metrics_path, err);
	return ret;
}

/*
 * MMDS's limit, Firecracker's default being the API's payload limit, and
 * --metadata's contents, which must fit it.
 */
static int fc_mmds(struct vmm *v, const struct cli_fc_opts *o,
		   struct mvm_err *err)
{
	size_t limit = API_MAX_BODY;

	if (o->mmds_limit_set)
		limit = o->mmds_limit;
	else if (o->max_payload_set)
		limit = o->max_payload;
	vmm_mmds_set_limit(v, limit);
	return o->metadata ? api_metadata_load(v, o->metadata, err) : 0;
}

/* --help, --version, --describe-snapshot: answer and end. */
static int fc_answer(const struct cli_fc_opts *o)
{
	char *argv[] = { "mvm", "--describe-snapshot",
			 (char *)o->describe_snapshot, NULL };

	if (o->help) {
		fputs(cli_fc_usage, stdout);
		return MVM_EXIT_OK;
	}
	if (o->version) {
		/* Firecracker's line, for the tools that parse it. */
		printf("Firecracker v%s (mvm %s)\n\n", MVM_VERSION,
		       MVM_VERSION);
		return MVM_EXIT_OK;
	}
	return cli_describe_snapshot(3, argv, stdout, stderr);
}

static int start_api(struct vmm *v, const struct cli_fc_opts *o,
		     struct api_server **api, struct mvm_err *err)
{
	int ret = api_server_start(api, v, &v->loop, o->api.api_sock, err);

	if (ret && o->default_sock)
		return mvm_wrap(err, ret, "the default API socket (no "
				"--api-sock given): ");
	if (!ret && o->max_payload_set)
		api_server_set_max_body(*api, o->max_payload);
	if (!ret)
		vmm_report_startup(v);
	return ret;
}

int vmm_main(int argc, char **argv)
{
	struct mvm_err err = { .msg = "" };
	struct cli_fc_opts o;
	struct vm_spec spec;
	struct api_server *api = NULL;
	struct vmm v;
	int ret, status;

	ret = cli_parse_fc(argc, argv, &o, &err);
	if (ret) {
		fprintf(stderr, "mvm: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	if (o.help || o.version || o.describe_snapshot)
		return fc_answer(&o);
	spec_init(&spec);
	if (o.api.config_file) {
		ret = config_file_load(&spec, o.api.config_file, NULL, &err);
		if (ret) {
			spec_free(&spec);
			fprintf(stderr, "mvm: %s\n", err.msg);
			return MVM_EXIT_START_FAILED;
		}
	}
	ret = vmm_init(&v, &spec, &err);
	api_name_routes(&v); /* the metrics count requests by route */
	if (!ret)
		ret = fc_setup(&v, &o, &err);
	if (!ret)
		ret = fc_mmds(&v, &o, &err);
	if (!ret)
		ret = apply_outputs(&v, o.api.config_file, &err);
	if (!ret)
		ret = fc_outputs(&v, &o, o.api.config_file, &err);
	if (!ret && o.api.api_sock)
		ret = start_api(&v, &o, &api, &err);
	/* Before any VM: InstanceStart builds one under the filter. */
	if (!ret)
		ret = sandbox_start(!o.api.no_seccomp, console_crash_restore,
				    &err);
	if (!ret && o.api.config_file)
		ret = vmm_start_vm(&v, &err);
	if (!ret && o.api.incoming)
		ret = start_incoming(&v, o.api.incoming, &err);
	if (ret) {
		api_server_stop(api); /* first: then nobody can ask */
		vmm_fini(&v);
		fprintf(stderr, "mvm: %s\n", err.msg[0] ? err.msg :
			strerror(-ret));
		return MVM_EXIT_START_FAILED;
	}
	status = vmm_run(&v);
	api_server_stop(api); /* first: then nobody can ask */
	vmm_fini(&v);
	return status;
}
