#include <criterion/criterion.h>

#include "mvm/cli.h"
#include "mvm/err.h"

#define ARGV(...) ((char *[]){ "run", __VA_ARGS__, NULL })
#define ARGC(a) ((int)(sizeof(a) / sizeof(a[0])) - 1)

static int parse(char **argv, int argc, struct vm_config *cfg,
		 struct mvm_err *err)
{
	return cli_parse_run(argc, argv, cfg, err);
}

Test(cli, defaults_and_all_options)
{
	char **a = ARGV("--kernel", "k", "--initrd", "i", "--cmdline", "x y",
			"--cpus", "4", "--memory", "512", "--on-reboot",
			"restart");
	struct vm_config c;
	struct mvm_err e;

	cr_assert_eq(parse(a, 13, &c, &e), 0, "%s", e.msg);
	cr_assert_str_eq(c.kernel, "k");
	cr_assert_str_eq(c.initrd, "i");
	cr_assert_str_eq(c.cmdline, "x y");
	cr_assert_eq(c.cpus, 4);
	cr_assert_eq(c.mem_mib, 512);
	cr_assert_eq(c.on_reboot, VM_ON_REBOOT_RESTART);

	a = ARGV("--kernel", "k");
	cr_assert_eq(parse(a, 3, &c, &e), 0);
	cr_assert_eq(c.cpus, MVM_DEFAULT_CPUS);
	cr_assert_eq(c.mem_mib, MVM_DEFAULT_MEM_MIB);
	cr_assert_str_eq(c.cmdline, "");
	cr_assert_null(c.initrd);
	cr_assert_eq(c.on_reboot, VM_ON_REBOOT_EXIT);
}

Test(cli, bad_values_name_the_option)
{
	struct vm_config c;
	struct mvm_err e;

	cr_assert_lt(parse(ARGV("--kernel", "k", "--cpus", "two"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--cpus"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--memory", "-5"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--memory"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--memory", "1x"), 5, &c, &e), 0);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--memory",
				"99999999999999999999999"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--memory"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--on-reboot", "x"), 5, &c, &e), 0);
	cr_assert(strstr(e.msg, "--on-reboot"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "--bogus"), 4, &c, &e), 0);
	cr_assert(strstr(e.msg, "--bogus"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel", "k", "extra"), 4, &c, &e), 0);
	cr_assert(strstr(e.msg, "extra"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--cpus", "1"), 3, &c, &e), 0);
	cr_assert(strstr(e.msg, "--kernel"), "%s", e.msg);
	cr_assert_lt(parse(ARGV("--kernel"), 2, &c, &e), 0);
	cr_assert(strstr(e.msg, "--kernel"), "%s", e.msg);
}

Test(cli, help_is_not_an_error)
{
	struct vm_config c;

	cr_assert_eq(parse(ARGV("--help"), 2, &c, NULL), 1);
}

Test(cli, config_checks_name_the_culprit)
{
	struct vm_config c = { .kernel = "k", .cmdline = "", .cpus = 1,
			       .mem_mib = 0 };
	struct mvm_err e;

	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "memory"), "%s", e.msg);
	c.mem_mib = 1ULL << 40;
	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "more than this host has"), "%s", e.msg);
	c.mem_mib = 64;
	c.cpus = 0;
	cr_assert_lt(vm_check_config(&c, &e), 0);
	cr_assert(strstr(e.msg, "cpus"), "%s", e.msg);
	c.cpus = 1;
	cr_assert_eq(vm_check_config(&c, &e), 0);
}
