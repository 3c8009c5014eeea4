/*
 * The CPU the guest sees as the machine's configuration shapes it: SMT's
 * two threads a core, and the bits CPU templates (Firecracker's static
 * ones by name, custom ones from PUT /cpu-config) fix. The check kernel
 * reads what it must find from its command line (threads=, cpuidwant=) and
 * reports PASS or FAIL for each.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

#define GUEST_PASS ((0 << 1) | 1)

/* Boot the check kernel from a Firecracker config file; it must pass. */
static void boot_checked(const char *machine, const char *cpu_config,
			 const char *args, const char *expect)
{
	char text[4096], *cfg;
	struct mvm_result r;

	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}, \"machine-config\": %s%s%s}",
		 guest_path("mb_check"), args, machine,
		 cpu_config ? ", \"cpu-config\": " : "",
		 cpu_config ? cpu_config : "");
	cfg = temp_file("cpucfg", text, strlen(text));
	{
		const char *argv[] = { "--config-file", cfg, NULL };

		cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	}
	unlink(cfg);
	free(cfg);
	cr_assert_not(r.timed_out, "timed out; console:\n%s", r.out);
	cr_assert_eq(r.status, GUEST_PASS, "exited %d\nconsole:\n%s\n"
		     "stderr:\n%s", r.status, r.out, r.err);
	cr_assert(strstr(r.out, "ALL OK"), "console:\n%s", r.out);
	cr_assert(strstr(r.out, expect), "no '%s' in the console:\n%s",
		  expect, r.out);
	mvm_result_free(&r);
}

Test(cpu_config, smt_gives_two_threads_a_core, .timeout = 60)
{
	boot_checked("{\"vcpu_count\": 4, \"mem_size_mib\": 64, "
		     "\"smt\": true}", NULL,
		     "mem=64 memtol=385 cpus=4 threads=2 tag=smt", "PASS cpuid-smt");
}

Test(cpu_config, without_smt_one_thread_a_core, .timeout = 60)
{
	boot_checked("{\"vcpu_count\": 4, \"mem_size_mib\": 64, "
		     "\"smt\": false}", NULL,
		     "mem=64 memtol=385 cpus=4 threads=1 tag=smt", "PASS cpuid-smt");
}

/* Firecracker's rule: one vCPU, or an even number, with SMT. */
Test(cpu_config, smt_refuses_an_odd_vcpu_count, .timeout = 30)
{
	struct api_resp r;
	struct api_proc p;

	cr_assert_eq(api_spawn(&p, NULL), 0);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 3, \"mem_size_mib\": 64, "
			      "\"smt\": true}", &r), 400, "%s", r.body);
	cr_assert(fault_has(&r, "must be 1 or an even number if SMT is "
			    "enabled"), "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PUT", "/machine-config",
			      "{\"vcpu_count\": 1, \"mem_size_mib\": 64, "
			      "\"smt\": true}", &r), 204, "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PATCH", "/machine-config",
			      "{\"vcpu_count\": 5}", &r), 400, "%s", r.body);
	cr_assert_eq(api_call(p.sock, "PATCH", "/machine-config",
			      "{\"vcpu_count\": 6}", &r), 204, "%s", r.body);
	api_proc_free(&p);
}
