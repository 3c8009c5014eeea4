/*
 * `mvm --api-sock PATH [--config-file FILE]` and `mvm --config-file FILE`:
 * start with no VM and let clients configure it over the API, or take the
 * whole configuration from a file (the same shapes) and boot at once.
 */
#include <stdio.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/err.h"
#include "mvm/run.h"
#include "mvm/sandbox.h"
#include "mvm/vmm.h"
#include "mvm/vmm_migration.h"

static const char usage[] =
	"usage: mvm --api-sock PATH [--config-file FILE]\n"
	"       mvm --config-file FILE\n"
	"       mvm --incoming URI [--api-sock PATH]\n"
	"       (either form also takes --no-seccomp: no seccomp filters,\n"
	"       for debugging)\n"
	"\n"
	"  --api-sock PATH     serve the control API (Firecracker's, plus\n"
	"                      mvm's extensions) on this UNIX socket; without\n"
	"                      --config-file, wait for InstanceStart\n"
	"  --config-file FILE  boot at once from this JSON document (the\n"
	"                      shapes of GET /vm/config)\n"
	"  --incoming URI      receive a live migration on unix:PATH or\n"
	"                      tcp:HOST:PORT and run its guest (as PUT\n"
	"                      /migration/incoming does); mvm ends if it\n"
	"                      fails\n";

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

int vmm_main(int argc, char **argv)
{
	struct mvm_err err = { .msg = "" };
	struct cli_api_opts o;
	struct vm_spec spec;
	struct api_server *api = NULL;
	struct vmm v;
	int ret, status;

	ret = cli_take_api_opts(&argc, argv, &o, true, &err);
	if (ret) {
		fprintf(stderr, "mvm: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return MVM_EXIT_OK;
	}
	if (o.incoming && o.config_file) {
		fprintf(stderr, "mvm: --incoming cannot be combined with "
			"--config-file: the VM comes from the source\n");
		return MVM_EXIT_START_FAILED;
	}
	if (argc > 1 || (!o.api_sock && !o.config_file && !o.incoming)) {
		if (argc > 1)
			fprintf(stderr, "mvm: unexpected argument '%s'\n",
				argv[1]);
		fputs(usage, stderr);
		return MVM_EXIT_START_FAILED;
	}
	spec_init(&spec);
	if (o.config_file) {
		ret = config_file_load(&spec, o.config_file, NULL, &err);
		if (ret) {
			spec_free(&spec);
			fprintf(stderr, "mvm: %s\n", err.msg);
			return MVM_EXIT_START_FAILED;
		}
	}
	ret = vmm_init(&v, &spec, &err);
	api_name_routes(&v); /* the metrics count requests by route */
	if (!ret)
		ret = apply_outputs(&v, o.config_file, &err);
	if (!ret && o.api_sock)
		ret = api_server_start(&api, &v, &v.loop, o.api_sock, &err);
	/* Before any VM: InstanceStart builds one under the filter. */
	if (!ret)
		ret = sandbox_start(!o.no_seccomp, console_crash_restore,
				    &err);
	if (!ret && o.config_file)
		ret = vmm_start_vm(&v, &err);
	if (!ret && o.incoming)
		ret = start_incoming(&v, o.incoming, &err);
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
