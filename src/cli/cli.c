#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mvm/api.h"
#include "mvm/cli.h"
#include "mvm/cli_devices.h"
#include "mvm/err.h"

const char cli_run_usage[] =
	"usage: mvm run --kernel FILE [--initrd FILE] [--cmdline STR]\n"
	"               [--cpus N] [--memory MiB] [--huge-pages WHAT]\n"
	"               [--on-reboot exit|restart]\n"
	"               [--nested on|off] [--api-sock PATH] [--no-seccomp]\n"
	"               [--disk SPEC]... [--net SPEC]... [--pmem SPEC]... [--rng]\n"
	"               [--balloon SPEC] [--memory-hotplug SPEC]\n"
	"               [--dynamic-memory SPEC] [--vsock SPEC]\n"
	"\n"
	"  --kernel FILE     bzImage, ELF vmlinux with a PVH note, or multiboot ELF\n"
	"  --initrd FILE     initial ramdisk (multiboot: module 0)\n"
	"  --cmdline STR     kernel command line\n"
	"  --cpus N          vCPUs (default 1)\n"
	"  --memory MiB      guest RAM in MiB (default 128)\n"
	"  --huge-pages WHAT what backs guest RAM: transparent (default: THP\n"
	"                    where the host has them), none (4 KiB pages) or\n"
	"                    2M (hugetlbfs pages from the host's pool)\n"
	"  --on-reboot WHAT  on guest reboot: exit (default) or restart\n"
	"  --nested on|off   expose VMX/SVM so the guest can run its own\n"
	"                    hypervisor (default off; see mvm host-check)\n"
	"  --api-sock PATH   also serve the control API on this UNIX socket\n"
	"  --no-seccomp      run without mvm's seccomp filters (debugging only)\n"
	CLI_DEVICES_USAGE
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
	if (*end || (errno && errno != ERANGE))
		goto bad;
	/* Beyond 64 bits is too large too, not "not a number". */
	if (errno == ERANGE || v > max)
		return mvm_fail(err, -ERANGE, "%s: %s is too large (at most %llu)",
				opt, s, max);
	*out = v;
	return 0;
bad:
	return mvm_fail(err, -EINVAL, "%s: '%s' is not a whole number", opt,
			s ? s : "");
}

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY,
       OPT_ON_REBOOT, OPT_NESTED, OPT_HELP, OPT_DISK, OPT_NET, OPT_RNG,
       OPT_HUGE_PAGES, OPT_BALLOON, OPT_MEMORY_HOTPLUG, OPT_DYNAMIC_MEMORY,
       OPT_PMEM, OPT_VSOCK };

static const struct option run_opts[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "huge-pages", required_argument, NULL, OPT_HUGE_PAGES },
	{ "nested", required_argument, NULL, OPT_NESTED },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "pmem", required_argument, NULL, OPT_PMEM },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "memory-hotplug", required_argument, NULL, OPT_MEMORY_HOTPLUG },
	{ "dynamic-memory", required_argument, NULL, OPT_DYNAMIC_MEMORY },
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
		/* GET /vm/config would echo it back into JSON. */
		if (!api_utf8_valid(arg, strlen(arg)))
			return mvm_fail(err, -EINVAL, "--cmdline: not valid "
					"UTF-8");
		cfg->cmdline = arg;
		return 0;
	case OPT_CPUS:
		ret = cli_parse_u64("--cpus", arg, VM_MAX_VCPUS, &v, err);
		if (!ret)
			cfg->cpus = (unsigned)v;
		return ret;
	case OPT_MEMORY:
		ret = cli_parse_u64("--memory", arg, 1ull << 32, &v, err);
		if (!ret)
			cfg->mem_mib = v;
		return ret;
	case OPT_HUGE_PAGES:
		for (int i = 0; gm_pages_names[i]; i++)
			if (!strcasecmp(arg, gm_pages_names[i])) {
				cfg->pages = (enum gm_pages)i;
				return 0;
			}
		return mvm_fail(err, -EINVAL, "--huge-pages: '%s' is not "
				"transparent, none or 2M", arg);
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
	case OPT_DISK:
		return cli_add_disk(cfg, arg, err);
	case OPT_NET:
		return cli_add_net(cfg, arg, err);
	case OPT_PMEM:
		return cli_add_pmem(cfg, arg, err);
	case OPT_RNG:
		cfg->rng = true;
		return 0;
	case OPT_VSOCK:
		return cli_set_vsock(cfg, arg, err);
	case OPT_BALLOON:
		return cli_add_balloon(cfg, arg, err);
	case OPT_MEMORY_HOTPLUG:
		return cli_set_hotplug(cfg, arg, err);
	case OPT_DYNAMIC_MEMORY:
		if (cfg->dynmem.enabled)
			return mvm_fail(err, -EINVAL, "--dynamic-memory: "
					"given twice");
		return cli_set_dynmem(cfg, arg, err);
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
	return cli_dynmem_check(cfg, err);
}

/*
 * The API options are taken out of argv before the rest is parsed, so the
 * run options and the top-level form share them without knowing each
 * other. "--opt VALUE" and "--opt=VALUE" are both accepted.
 */
static int take_opt(int *argc, char **argv, int *i, const char *name,
		    const char **out, struct mvm_err *err)
{
	size_t n = strlen(name);
	const char *a = argv[*i];
	int used;

	if (strncmp(a, name, n) || (a[n] != '\0' && a[n] != '='))
		return 0;
	if (a[n] == '=') {
		*out = a + n + 1;
		used = 1;
	} else if (*i + 1 < *argc) {
		*out = argv[*i + 1];
		used = 2;
	} else {
		return mvm_fail(err, -EINVAL, "option '%s' needs a value",
				name);
	}
	if (!**out)
		return mvm_fail(err, -EINVAL, "%s: the path must not be empty",
				name);
	memmove(&argv[*i], &argv[*i + used],
		(size_t)(*argc - *i - used + 1) * sizeof(*argv));
	*argc -= used;
	(*i)--;
	return 1;
}

/* Remove flag from argv when argv[*i] is it: 1 if it was, else 0. */
static int take_flag(int *argc, char **argv, int *i, const char *flag)
{
	if (strcmp(argv[*i], flag))
		return 0;
	memmove(&argv[*i], &argv[*i + 1],
		(size_t)(*argc - *i) * sizeof(*argv));
	(*argc)--;
	(*i)--;
	return 1;
}

int cli_take_api_opts(int *argc, char **argv, struct cli_api_opts *o,
		      bool config_allowed, struct mvm_err *err)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < *argc; i++) {
		int ret;

		if (!strcmp(argv[i], "--"))
			break;
		if (take_flag(argc, argv, &i, "--no-seccomp")) {
			o->no_seccomp = true;
			continue;
		}
		ret = take_opt(argc, argv, &i, "--api-sock", &o->api_sock, err);
		if (ret)
			goto next;
		ret = take_opt(argc, argv, &i, "--config-file", &o->config_file,
			       err);
		if (ret > 0 && !config_allowed)
			return mvm_fail(err, -EINVAL, "--config-file cannot be "
					"combined with run options");
		if (ret)
			goto next;
		ret = take_opt(argc, argv, &i, "--incoming", &o->incoming, err);
		if (ret > 0 && !config_allowed)
			return mvm_fail(err, -EINVAL, "--incoming cannot be "
					"combined with run options: the VM "
					"comes from the source");
next:
		if (ret < 0)
			return ret;
	}
	return 0;
}
