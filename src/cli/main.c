/* mvm's entry point: pick the subcommand. Only main decides to exit. */
#include <stdio.h>
#include <string.h>

#include "mvm/cli.h"
#include "mvm/run.h"
#include "mvm/vmm.h"

static const char usage[] =
	"usage: mvm COMMAND [options]\n"
	"       mvm [FLAGS]\n"
	"\n"
	"commands:\n"
	"  run          boot a kernel (mvm run --help)\n"
	"  host-check   can this host run stock kernels, and nest? [--json]\n"
	"  nested enable|disable --config FILE [--yes]\n"
	"               turn nested virtualization on or off in a config file\n"
	"  snapshot inspect FILE\n"
	"               print what a snapshot's state file holds\n"
	"  snapshot merge BASE_MEM DIFF_MEM\n"
	"               apply a Diff snapshot's memory file to its base's\n"
	"  checkpoint create|apply|delete --api-sock PATH NAME\n"
	"  checkpoint list|config --api-sock PATH [DIR]\n"
	"               take, apply, delete, list checkpoints of the VM of a\n"
	"               running mvm (mvm checkpoint --help)\n"
	"  version      print the version\n"
	"\n"
	"Without a command, mvm takes Firecracker's flags: it serves the\n"
	"control API and runs the VM configured through it (--api-sock PATH),\n"
	"boots the VM a JSON config file describes (--config-file FILE), or\n"
	"receives a live migration (--incoming URI).\n"
	"\n";

int main(int argc, char **argv)
{
	/*
	 * The API form has no command word, as Firecracker has none: its
	 * flags in any order, or none at all (the default socket).
	 */
	if (argc < 2 || (cli_fc_flag(argv[1]) && strcmp(argv[1], "--help")))
		return vmm_main(argc, argv);
	if (!strcmp(argv[1], "run"))
		return run_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "host-check"))
		return mvm_cmd_host_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "nested"))
		return mvm_cmd_nested(argc - 1, argv + 1);
	if (!strcmp(argv[1], "snapshot"))
		return mvm_cmd_snapshot(argc - 1, argv + 1);
	if (!strcmp(argv[1], "checkpoint"))
		return mvm_cmd_checkpoint(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version")) {
		printf("mvm %s\n", MVM_VERSION);
		return MVM_EXIT_OK;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		fputs(cli_fc_usage, stdout);
		return MVM_EXIT_OK;
	}
	fprintf(stderr, "mvm: unknown command '%s' (see mvm help)\n", argv[1]);
	return MVM_EXIT_START_FAILED;
}
