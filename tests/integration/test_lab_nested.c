/*
 * Nested virtualization end to end, in the lab (real SVM under QEMU TCG):
 * runs tests/lab/nested, which prints one "ok - ..." or "not ok - ..." line
 * per check, and asserts on that output. Every check this suite relies on
 * is named below, so a check that silently stopped running fails here.
 *
 * The lab needs qemu-system-x86_64 and a C compiler (and, the first time,
 * network access to fetch the default guest's packages). Where it cannot
 * run, the test says so plainly; with -Dlab=enabled that is a failure.
 * Its time budget is 600 s of lab time; MVM_LAB_TIMEOUT=SECONDS widens it
 * on a host too busy for that (the transcript gives each step's time).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_checks.h"

static const char *const expected[] = {
	"mvm host-check: this lab can nest",
	"--nested on: the guest's CPUID shows SVM",
	"--nested off: the guest's CPUID shows neither VMX nor SVM",
	"mvm nested enable without --yes and no terminal: declined (1)",
	"declined: the file is untouched",
	"mvm nested enable --yes: done (0)",
	"enable set nested_virt",
	"enable turned mac_spoofing on for eth0",
	"enable warned about 512 MiB",
	"GET /vm/nested: exposed",
	"GET /vm/nested: host_supported",
	"GET /vm/nested: mechanism svm",
	"kvm_amd loaded, no VM yet: l1_hypervisor_active false",
	"idle: snapshot_create allowed",
	"idle: dynamic_memory allowed (nesting on, not hosting)",
	"L3 (a tiny kernel under L2's mvm) runs",
	"GET /vm/nested: l1_hypervisor_active while L3 runs",
	"GET /vm/nested: l2_running seen while L3 spins",
	"GET /vm/policy: snapshot_create refused while L2 hosts L3",
	"GET /vm/policy: memory_resize refused while L2 hosts L3",
	"GET /vm/policy: checkpoint_apply refused while L2 hosts L3",
	"GET /vm/policy: live_migration refused while L2 hosts L3",
	"GET /vm/policy: snapshot_load refused while L2 hosts L3",
	"GET /vm/policy: dynamic_memory refused while L2 hosts L3",
	"GET /vm/policy: dynamic_memory names rule and reason",
	"GET /vm/policy: snapshot_create names rule and reason",
	"GET /vm/policy: live_migration names rule and reason",
	"PATCH machine-config nested_virt after boot: 400",
	"... with the policy's reason",
	"mvm logged: L1 hypervisor active (svm)",
	"10 whole-VM state round trips while L2 hosts L3",
	"every round trip found the devices identical after load",
	"PATCH /vm Paused while L2 hosts L3: 204",
	"PUT /snapshot/create while L2 hosts L3: 409",
	"... naming the rule nested_guest_hypervisor_active",
	"... and writing no file",
	"PUT /snapshot/create, allow_nested_state, L2 hosting L3: 204",
	"... its vCPU carries nested state",
	"PATCH /vm Resumed after the refusal: 204",
	"PATCH /balloon while L2 hosts L3: 409",
	"PATCH /balloon's 409 gives the rule's reason",
	"... and the balloon's target stays 0",
	"PATCH /hotplug/memory while L2 hosts L3: 409",
	"PATCH /hotplug/memory's 409 gives the rule's reason",
	"... and nothing is requested of L2",
	"GET /dynamic-memory: frozen while L2 hosts L3",
	"GET /dynamic-memory: the reason is the rule's",
	"PATCH /dynamic-memory while L2 hosts L3: 409",
	"PATCH /dynamic-memory's 409 gives the rule's reason",
	"... and dynamic memory stays on",
	"L2's timers run after the round trips (its sleep returns)",
	"L3 kept running (still spinning, then killed)",
	"L3's VM was gone when its mvm had exited (kvm_amd unreferenced)",
	"GET /vm/nested: l1_hypervisor_active clears once L3 exits",
	"GET /vm/nested: since moved",
	"GET /vm/policy: snapshot_create allowed again",
	"GET /vm/policy: memory_resize allowed again",
	"GET /vm/policy: checkpoint_apply allowed again",
	"GET /vm/policy: live_migration allowed again",
	"GET /vm/policy: dynamic_memory allowed again",
	"mvm logged: L1 hypervisor inactive",
	"GET /dynamic-memory: not frozen once L3 is gone",
	"PATCH /dynamic-memory off once L3 is gone: 204",
	"PATCH /balloon once L3 is gone: 204",
	"... L2's virtio_balloon inflates 64 MiB",
	"PATCH /hotplug/memory once L3 is gone: 204",
	"... L2's virtio_mem plugs 128 MiB",
	"PATCH /balloon back to 0: 204",
	"... L2's virtio_balloon deflates",
	"PATCH /hotplug/memory back to 0: 204",
	"... L2's virtio_mem unplugs it",
	"PATCH /dynamic-memory on again: 204",
	"PUT /snapshot/create once L3 is gone: 204",
	"mvm snapshot inspect: nested virtualization on",
	"mvm snapshot inspect: its vCPU carries nested state",
	"PATCH /vm Resumed after the snapshot: 204",
	"after rmmod kvm_amd: l1_hypervisor_active false",
	"L2 powered off; mvm exited 0",
	"L2's script ended cleanly",
	"PUT /snapshot/load of L2 in a new mvm: 204",
	"restored L2: GET /vm/nested: exposed",
	"restored L2: l1_hypervisor_active false (no VM in it yet)",
	"restored L2 starts an L3, which runs",
	"restored L2: l1_hypervisor_active while its L3 runs",
	"PUT /migration (20 Mbit/s) before L2 hosts L3: 204",
	"the pause refuses the migration: L2 began hosting L3",
	"... and L2 runs on here (Running), L3 inside it",
	"... and the destination discarded it (mvm --incoming: 1)",
	"restored L2: snapshot_create refused while it hosts L3",
	"PUT /migration while L2 hosts L3: 409",
	"... naming the rule nested_guest_hypervisor_active",
	"... and starting none (GET /migration: the last one's)",
	"PUT /migration to c (, \"allow_nested_state\": true): 204",
	"the source mvm ended with 0 once L2 ran in c",
	"c: GET /migration says completed, incoming",
	"c: l1_hypervisor_active: L3 came along inside L2",
	"L3 kept running across the migration (then killed)",
	"l1_hypervisor_active clears once L3 exits",
	"GET /vm/policy: live_migration allowed again",
	"PUT /migration to d: 204",
	"the source mvm ended with 0 once L2 ran in d",
	"d: GET /migration says completed, incoming",
	"L2 powered off in its last mvm, which exited 0",
	"L2's script ended cleanly there",
	"--nested off: L2 boots and powers off",
	"--nested off: L2's CPUs have no svm",
	"--nested off: kvm_amd refuses to load in L2",
	"--nested off: no /dev/kvm in L2",
};

Test(lab_nested, matryoshka, .timeout = 840)
{
	const char *src = getenv("MVM_SRC"), *build = getenv("MVM_BUILD");
	const char *mvm = getenv("MVM_BIN"), *mode = getenv("MVM_LAB");
	char cmd[4096], *out = NULL;
	size_t len = 0, cap = 0;
	int status;
	FILE *p;

	cr_assert(src && build && mvm, "MVM_SRC, MVM_BUILD, MVM_BIN unset");
	if (mode && !strcmp(mode, "disabled")) {
		fprintf(stderr, "[NOTE] lab_nested NOT RUN: the build has "
			"-Dlab=disabled; nested virtualization on real SVM "
			"(tests/lab/nested) went unchecked\n");
		cr_skip_test("-Dlab=disabled");
	}
	if (!lab_have("qemu-system-x86_64") || !lab_have("cc")) {
		fprintf(stderr, "[NOTE] lab_nested NOT RUN: the lab needs "
			"qemu-system-x86_64 and cc on this host; nested "
			"virtualization on real SVM (tests/lab/nested) went "
			"unchecked\n");
		cr_assert(!mode || strcmp(mode, "enabled"),
			  "-Dlab=enabled, but the lab cannot run here");
		cr_skip_test("no qemu-system-x86_64 or cc");
	}
	/* The budget is tests/lab/nested's (600 s); a slow host may widen it. */
	snprintf(cmd, sizeof(cmd), "'%s/tests/lab/nested' -B '%s' --mvm '%s' "
		 "%s%s 2>&1", src, build, mvm,
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
		      "budget (tests/lab/nested --timeout)");
	cr_assert_neq(WEXITSTATUS(status), 125, "the lab ended without a "
		      "status (kernel panic or QEMU failure)");
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		cr_expect(lab_has_line(out, "ok - ", expected[i]),
			  "missing: ok - %s", expected[i]);
	cr_expect_null(strstr(out, "\nnot ok - "), "a lab check failed");
	cr_assert_not_null(strstr(out, " passed, 0 failed"), "no clean "
			   "summary line");
	cr_assert_eq(WEXITSTATUS(status), 0, "tests/lab/nested exited %d",
		     WEXITSTATUS(status));
	free(out);
}
