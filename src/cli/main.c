/* mvm's entry point: pick the subcommand. Only main decides to exit. */
#include <stdio.h>
#include <string.h>

#include "mvm/run.h"
#include "mvm/vmm.h"

static const char usage[] =
	"usage: mvm COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  run          boot a kernel (mvm run --help)\n"
	"  --api-sock PATH [--config-file FILE]\n"
	"               serve the control API; configure and start the VM\n"
	"               through it (or from FILE)\n"
	"  --config-file FILE\n"
	"  --incoming unix:PATH|tcp:HOST:PORT [--api-sock PATH]\n"
	"               boot the VM a JSON config file describes\n"
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
	"  --describe-snapshot FILE\n"
	"               print a state file's format version (\"v1\") and a\n"
	"               one-line summary, as Firecracker's flag does\n"
	"  version      print the version\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return MVM_EXIT_START_FAILED;
	}
	/* The API form has no command word, as Firecracker's has none. */
	if (!strncmp(argv[1], "--api-sock", 10) ||
	    !strncmp(argv[1], "--config-file", 13) ||
	    !strncmp(argv[1], "--incoming", 10))
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
	if (!strcmp(argv[1], "--describe-snapshot"))
		return mvm_cmd_describe_snapshot(argc, argv);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("mvm %s\n", MVM_VERSION);
		return MVM_EXIT_OK;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return MVM_EXIT_OK;
	}
	fprintf(stderr, "mvm: unknown command '%s' (see mvm help)\n", argv[1]);
	return MVM_EXIT_START_FAILED;
}
