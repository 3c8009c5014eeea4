/*
 * mvm's seccomp filters are in force in every kind of thread and process
 * it runs: a forbidden call made on purpose (the test-only hook, see
 * src/core/sandbox_test_hook.c) from each ends mvm with status 148 and one
 * line naming the call. The rest of the integration suite runs with the
 * filters on, so every path it takes is on the lists.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define EXIT_SECCOMP 148
#define GUEST_PASS 1

static const char *kind_env;

static void set_kind(void)
{
	setenv("MVM_TEST_SECCOMP_VIOLATE", kind_env, 1);
}

/* Boot the action kernel with the hook aimed at kind; extra args follow. */
static void run_hooked(const char *kind, const char *action, bool restart,
		       bool no_seccomp, struct mvm_result *r)
{
	const char *argv[12] = { "run", "--kernel", guest_path("mb_action"),
				 "--cmdline", action, "--memory", "32" };
	int n = 7;
	struct mvm_opts o = { .child_setup = set_kind };

	if (restart) {
		argv[n++] = "--on-reboot";
		argv[n++] = "restart";
	}
	if (no_seccomp)
		argv[n++] = "--no-seccomp";
	argv[n] = NULL;
	kind_env = kind;
	cr_assert_eq(mvm_launch(argv, &o, r), 0);
	cr_assert_not(r->timed_out, "%s\n%s", r->out, r->err);
}

static void expect_killed(const char *kind, const char *who,
			  const char *action, bool restart)
{
	struct mvm_result r;
	char want[160];

	run_hooked(kind, action, restart, false, &r);
	snprintf(want, sizeof(want),
		 "mvm: seccomp: %s made a forbidden system call: personality (135)",
		 who);
	cr_assert_eq(r.status, EXIT_SECCOMP, "status %d\n%s", r.status, r.err);
	cr_assert(strstr(r.err, want), "want '%s' in:\n%s", want, r.err);
	mvm_result_free(&r);
}

Test(seccomp, main_thread) {
	expect_killed("main", "the main (event loop) thread", "action=boot",
		      false);
}

Test(seccomp, vcpu_thread)
{
	/* Before the guest ran: the vCPU is filtered before its KVM_RUN. */
	struct mvm_result r;

	expect_killed("vcpu", "a vCPU thread", "action=boot", false);
	run_hooked("vcpu", "action=boot", false, false, &r);
	cr_assert_null(strstr(r.out, "booted"), "the guest ran:\n%s", r.out);
	mvm_result_free(&r);
}

/*
 * The teardown process exists from a guest reboot under --on-reboot
 * restart; it reports, and mvm ends as well.
 */
Test(seccomp, teardown_process)
{
	struct mvm_result r;

	expect_killed("teardown", "the teardown process", "action=rtc_reboot",
		      true);
	run_hooked("teardown", "action=rtc_reboot", true, false, &r);
	cr_assert(strstr(r.err, "a helper process was stopped by its filter"),
		  "%s", r.err);
	mvm_result_free(&r);
}

/* --no-seccomp: the same forbidden call goes through; the guest finishes. */
Test(seccomp, no_seccomp_turns_the_filters_off)
{
	static const char *const kinds[] = { "main", "vcpu", "teardown" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct mvm_result r;

		run_hooked(kinds[i], "action=rtc_reboot", true, true, &r);
		cr_assert_eq(r.status, GUEST_PASS, "%s: status %d\n%s\n%s",
			     kinds[i], r.status, r.out, r.err);
		cr_assert_null(strstr(r.err, "seccomp"), "%s", r.err);
		mvm_result_free(&r);
	}
}
