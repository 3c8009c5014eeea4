/*
 * Nested virtualization on Intel VMX, in the Intel lab (Bochs emulating a
 * Skylake-X CPU with VMX and EPT, Linux's kvm_intel nested=1): runs
 * tests/lab/intel, which prints one "ok - ..." or "not ok - ..." line per
 * check, and asserts on that output. Every check is named below, so a
 * check that silently stopped running fails here.
 *
 * The Intel lab needs bochs, syslinux, mtools, dosfstools (the packages
 * scripts/install-deps.sh installs) and a C compiler. Where it cannot
 * run, the test says so plainly; with -Dlab=enabled that is a failure.
 * Its time budget is 1800 s of the host's time; MVM_LAB_TIMEOUT=SECONDS
 * widens it.
 *
 * By default (make test, CI) only parts 1 and 2 run (tests/lab/intel
 * --basic: one lab boot, host-check, VMX hidden and shown, #UD): the
 * hypervisor part, with its snapshot and migrations, takes the emulator
 * 8 minutes on an idle 2-core machine and over half an hour on a loaded
 * one. MVM_LAB_INTEL_FULL=1 (`make test-intel` sets it) runs everything;
 * the test says which ran.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_checks.h"

/* The checks of parts 1 and 2 (--basic), then part 3's. */
#define BASIC_CHECKS 10
static const char *const expected[] = {
	"mvm host-check: vendor intel",
	"mvm host-check: hardware KVM",
	"mvm host-check: every check says yes",
	"mvm host-check: nested virtualization: yes",
	"--nested on: the guest's CPUID shows VMX",
	"--nested off: the guest's CPUID shows no VMX",
	"--nested off: bz_vmx sees no VMX",
	"--nested off: CR4.VMXE does not stick",
	"--nested off: VMXON raises #UD",
	"--nested off: bz_vmx ends ALL OK (mvm exit 1)",
	/* Part 3, not run with --basic. */
	"--nested on: bz_vmx sees VMX",
	"IA32_FEATURE_CONTROL locked with VMXON allowed (0x5)",
	"VMXON succeeds",
	"L3 runs: VMLAUNCH, then CPUID, I/O and HLT exits and VMRESUME",
	"GET /vm/nested: mechanism vmx",
	"GET /vm/nested: l1_hypervisor_active while L3 runs",
	"GET /vm/nested: l2_running seen while L3 runs",
	"GET /vm/policy: snapshot_create refused while the guest hosts L3",
	"GET /vm/policy: snapshot_create names rule and reason",
	"GET /vm/policy: memory_resize refused while the guest hosts L3",
	"GET /vm/policy: memory_resize names rule and reason",
	"GET /vm/policy: checkpoint_apply refused while the guest hosts L3",
	"GET /vm/policy: checkpoint_apply names rule and reason",
	"GET /vm/policy: live_migration refused while the guest hosts L3",
	"GET /vm/policy: live_migration names rule and reason",
	"GET /vm/policy: snapshot_load refused while the guest hosts L3",
	"GET /vm/policy: snapshot_load names rule and reason",
	"mvm logged: L1 hypervisor active (vmx)",
	"3 whole-VM state round trips while the guest hosts L3",
	"no round trip failed",
	"PATCH /vm Paused while the guest hosts L3: 204",
	"PUT /snapshot/create while the guest hosts L3: 409",
	"... naming the rule nested_guest_hypervisor_active",
	"... and writing no file",
	"a round reported before the snapshot",
	"PUT /snapshot/create, allow_nested_state, while the guest hosts L3: 204",
	"... its vCPU carries VMX nested state",
	"PATCH /vm Resumed: 204",
	"L3 keeps running after the round trips and the pause",
	"a round reported before the migration",
	"PUT /migration while the guest hosts L3: 409",
	"... and the guest runs on here",
	"PUT /migration, allow_nested_state, while the guest hosts L3: 204",
	"the source mvm ended with 0 once the guest ran in b",
	"b: GET /migration says completed, incoming",
	"b: l1_hypervisor_active: L3 came along",
	"b: L3 runs on, its round counter past the source's",
	"b: no new boot (bz_vmx did not start over)",
	"on request, VMXOFF",
	"no check in bz_vmx failed",
	"GET /vm/nested: l1_hypervisor_active clears after VMXOFF",
	"GET /vm/nested: since moved",
	"GET /vm/policy: snapshot_create allowed again",
	"GET /vm/policy: memory_resize allowed again",
	"GET /vm/policy: checkpoint_apply allowed again",
	"GET /vm/policy: live_migration allowed again",
	"mvm logged: L1 hypervisor inactive",
	"bz_vmx ended ALL OK (mvm exit 1)",
	"PUT /snapshot/load, allow_nested_state, in a new mvm: 204",
	"restored: l1_hypervisor_active: L3 came along",
	"restored: L3 runs on from the snapshot's round",
	"restored: no new boot (bz_vmx did not start over)",
	"restored: on request, VMXOFF",
	"restored: bz_vmx ended ALL OK (mvm exit 1)",
};

Test(lab_intel, vmx, .timeout = 1980)
{
	const char *src = getenv("MVM_SRC"), *build = getenv("MVM_BUILD");
	const char *mvm = getenv("MVM_BIN"), *mode = getenv("MVM_LAB");
	char cmd[4096], *out = NULL;
	size_t len = 0, cap = 0;
	int status;
	bool full;
	FILE *p;

	cr_assert(src && build && mvm, "MVM_SRC, MVM_BUILD, MVM_BIN unset");
	if (mode && !strcmp(mode, "disabled")) {
		fprintf(stderr, "[NOTE] lab_intel NOT RUN: the build has "
			"-Dlab=disabled; nested virtualization on VMX "
			"(tests/lab/intel) went unchecked\n");
		cr_skip_test("-Dlab=disabled");
	}
	if (!lab_have("bochs") || !lab_have("syslinux") || !lab_have("mcopy") ||
	    !lab_have("mkfs.fat") || !lab_have("python3") || !lab_have("cc")) {
		fprintf(stderr, "[NOTE] lab_intel NOT RUN: the Intel lab needs "
			"bochs, syslinux, mcopy, mkfs.fat, python3 and cc on "
			"this host (scripts/install-deps.sh installs them); "
			"nested virtualization on VMX (tests/lab/intel) went "
			"unchecked\n");
		cr_assert(!mode || strcmp(mode, "enabled"),
			  "-Dlab=enabled, but the Intel lab cannot run here");
		cr_skip_test("no bochs, syslinux, mtools, dosfstools, python3 or cc");
	}
	full = getenv("MVM_LAB_INTEL_FULL") &&
	       !strcmp(getenv("MVM_LAB_INTEL_FULL"), "1");
	if (!full)
		fprintf(stderr, "[NOTE] lab_intel: parts 1 and 2 only; "
			"part 3 (bz_vmx as a VMX hypervisor under mvm's API "
			"and policy) NOT RUN here: make test-intel runs it\n");
	/* The budget is tests/lab/intel's (1800 s); a slow host may widen it. */
	snprintf(cmd, sizeof(cmd), "'%s/tests/lab/intel' -B '%s' --mvm '%s' "
		 "%s%s%s 2>&1", src, build, mvm, full ? "" : "--basic ",
		 getenv("MVM_LAB_TIMEOUT") ? "--timeout " : "",
		 getenv("MVM_LAB_TIMEOUT") ? getenv("MVM_LAB_TIMEOUT") : "");
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
			cr_assert_not_null(out);
		}
		n = fread(out + len, 1, cap - len - 1, p);
		if (!n)
			break;
		len += n;
	}
	out[len] = '\0';
	status = pclose(p);
	/* The whole transcript, so a failure can be read in the test log. */
	fprintf(stderr, "%s", out);
	cr_assert_neq(WEXITSTATUS(status), 124, "the lab ran past its time "
		      "budget (tests/lab/intel --timeout)");
	cr_assert_neq(WEXITSTATUS(status), 125, "the lab ended without a "
		      "status (kernel panic or Bochs failure)");
	size_t n = full ? sizeof(expected) / sizeof(expected[0]) : BASIC_CHECKS;

	for (size_t i = 0; i < n; i++)
		cr_expect(lab_has_line(out, "ok - ", expected[i]),
			  "missing: ok - %s", expected[i]);
	cr_expect_null(strstr(out, "\nnot ok - "), "a lab check failed");
	cr_assert_not_null(strstr(out, " passed, 0 failed"), "no clean "
			   "summary line");
	cr_assert_eq(WEXITSTATUS(status), 0, "tests/lab/intel exited %d",
		     WEXITSTATUS(status));
	free(out);
}
