/*
 * `mvm run`: the command line becomes a spec, the VMM controller boots it
 * at once and runs until the VM ends; with --api-sock the API stays up for
 * runtime control (pause, resume, Ctrl-Alt-Del, metrics). The exit status
 * is the VM's (see README), decided in vmm_run().
 */
#include <stdio.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/cli_devices.h"
#include "mvm/err.h"
#include "mvm/run.h"
#include "mvm/sandbox.h"
#include "mvm/vmm.h"

static int run_with_api(const struct vm_config *cfg,
			const struct cli_api_opts *o)
{
	struct mvm_err err = { .msg = "" };
	struct vm_spec spec;
	struct api_server *api = NULL;
	struct vmm v;
	int ret, status;

	ret = spec_from_config(&spec, cfg, &err);
	if (ret) {
		fprintf(stderr, "mvm: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	ret = vmm_init(&v, &spec, &err);
	api_name_routes(&v); /* the metrics count requests by route */
	if (!ret && o->api_sock)
		ret = api_server_start(&api, &v, &v.loop, o->api_sock, &err);
	if (!ret)
		ret = sandbox_start(!o->no_seccomp, console_crash_restore,
				    &err);
	if (!ret)
		ret = vmm_start_vm(&v, &err);
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

int run_main(int argc, char **argv)
{
	struct mvm_err err = { .msg = "" };
	struct cli_api_opts api;
	struct vm_config cfg;
	int ret;

	ret = cli_take_api_opts(&argc, argv, &api, false, &err);
	if (!ret)
		ret = cli_parse_run(argc, argv, &cfg, &err);
	if (ret == 1) {
		fputs(cli_run_usage, stdout);
		return MVM_EXIT_OK;
	}
	/* The config is checked once, where the VM is built (vm_create). */
	if (ret) {
		cli_free_devices(&cfg);
		fprintf(stderr, "mvm: %s\n", err.msg);
		return MVM_EXIT_START_FAILED;
	}
	/* The spec takes copies of everything: the CLI's strings go now. */
	ret = run_with_api(&cfg, &api);
	cli_free_devices(&cfg);
	return ret;
}
