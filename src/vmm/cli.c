#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/cli.h"
#include "mvm/err.h"

const char cli_run_usage[] =
	"usage: mvm run --kernel FILE [--initrd FILE] [--cmdline STR]\n"
	"               [--cpus N] [--memory MiB] [--on-reboot exit|restart]\n"
	"               [--nested on|off]\n"
	"\n"
	"  --kernel FILE     bzImage, ELF vmlinux with a PVH note, or multiboot ELF\n"
	"  --initrd FILE     initial ramdisk (multiboot: module 0)\n"
	"  --cmdline STR     kernel command line\n"
	"  --cpus N          vCPUs (default 1)\n"
	"  --memory MiB      guest RAM in MiB (default 128)\n"
	"  --on-reboot WHAT  on guest reboot: exit (default) or restart\n"
	"  --nested on|off   expose VMX/SVM so the guest can run its own\n"
	"                    hypervisor (default off; see mvm host-check)\n"
	"\n"
	"Console: the guest's COM1 is this terminal; Ctrl-A x quits.\n";

int cli_parse_u64(const char *opt, const char *s, unsigned long long max,
		  unsigned long long *out, struct mvm_err *err)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		goto bad;
	if (v > max)
		return mvm_fail(err, -ERANGE, "%s: %s is too large (at most %llu)",
				opt, s, max);
	*out = v;
	return 0;
bad:
	return mvm_fail(err, -EINVAL, "%s: '%s' is not a whole number", opt,
			s ? s : "");
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY,
       OPT_ON_REBOOT, OPT_NESTED, OPT_HELP };

static const struct option run_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "nested", required_argument, NULL, OPT_NESTED },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static int parse_one(int opt, const char *arg, struct vm_config *cfg,
		     struct mvm_err *err)
{
	unsigned long long v;
	int ret;

	switch (opt) {
	case OPT_KERNEL:
		cfg->kernel = arg;
		return 0;
	case OPT_INITRD:
		cfg->initrd = arg;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = arg;
		return 0;
	case OPT_CPUS:
		ret = cli_parse_u64("--cpus", arg, 1u << 16, &v, err);
		if (!ret)
			cfg->cpus = (unsigned)v;
		return ret;
	case OPT_MEMORY:
		ret = cli_parse_u64("--memory", arg, 1ull << 32, &v, err);
		if (!ret)
			cfg->mem_mib = v;
		return ret;
	case OPT_ON_REBOOT:
		if (!strcmp(arg, "exit"))
			cfg->on_reboot = VM_ON_REBOOT_EXIT;
		else if (!strcmp(arg, "restart"))
			cfg->on_reboot = VM_ON_REBOOT_RESTART;
		else
			return mvm_fail(err, -EINVAL, "--on-reboot: '%s' is "
					"not exit or restart", arg);
		return 0;
	case OPT_NESTED:
		if (!strcmp(arg, "on"))
			cfg->nested = true;
		else if (!strcmp(arg, "off"))
			cfg->nested = false;
		else
			return mvm_fail(err, -EINVAL, "--nested: '%s' is not "
					"on or off", arg);
		return 0;
	case OPT_HELP:
		return 1;
	default:
		return -EINVAL;
	}
}

int cli_parse_run(int argc, char **argv, struct vm_config *cfg,
		  struct mvm_err *err)
{
	int opt, ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = "";
	cfg->cpus = MVM_DEFAULT_CPUS;
	cfg->mem_mib = MVM_DEFAULT_MEM_MIB;
	cfg->console_in = 0;
	cfg->console_out = 1;

	optind = 0; /* reset getopt: tests call this repeatedly */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":", run_opts, NULL)) != -1) {
		if (opt == '?')
			return mvm_fail(err, -EINVAL, "unknown option '%s' "
					"(see mvm run --help)", argv[optind - 1]);
		if (opt == ':')
			return mvm_fail(err, -EINVAL, "option '%s' needs a "
					"value", argv[optind - 1]);
		ret = parse_one(opt, optarg, cfg, err);
		if (ret)
			return ret;
	}
	if (optind < argc)
		return mvm_fail(err, -EINVAL, "unexpected argument '%s'",
				argv[optind]);
	if (!cfg->kernel)
		return mvm_fail(err, -EINVAL, "--kernel FILE is required");
	return 0;
}
