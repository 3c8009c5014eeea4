/*
 * How the guest ends decides how mvm ends: poweroff and reboot are clean
 * (0), the debug-exit port maps V to (V<<1)|1, crashes are 2 with the
 * registers on stderr, signals are 128+n.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static struct mvm_result action(const char *act, const char *extra,
				const struct mvm_opts *o)
{
	struct mvm_result r;
	char cmdline[64];

	snprintf(cmdline, sizeof(cmdline), "action=%s", act);
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--cmdline", cmdline, "--memory", "32",
			       extra ? "--on-reboot" : NULL, extra, NULL };
	cr_assert_eq(mvm_launch(argv, o, &r), 0);
	cr_assert_not(r.timed_out, "action %s timed out:\n%s\n%s", act, r.out,
		      r.err);
	cr_assert(strstr(r.out, "action "), "kernel did not start: %s", r.out);
	return r;
}

Test(exits, acpi_poweroff_exits_zero)
{
	struct mvm_result r = action("poweroff", NULL, NULL);

	cr_assert_eq(r.status, 0, "status %d\n%s\n%s", r.status, r.out, r.err);
	mvm_result_free(&r);
}

Test(exits, i8042_reset_exits_zero)
{
	struct mvm_result r = action("reset", NULL, NULL);

	cr_assert_eq(r.status, 0, "status %d\n%s", r.status, r.err);
	mvm_result_free(&r);
}

Test(exits, cf9_reset_exits_zero)
{
	struct mvm_result r = action("cf9", NULL, NULL);

	cr_assert_eq(r.status, 0, "status %d\n%s", r.status, r.err);
	mvm_result_free(&r);
}

Test(exits, debug_exit_value_maps_like_qemu)
{
	struct mvm_result r = action("exit=5", NULL, NULL);

	cr_assert_eq(r.status, (5 << 1) | 1, "status %d", r.status);
	mvm_result_free(&r);
	r = action("exit=0", NULL, NULL);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	mvm_result_free(&r);
}

static void assert_crash(const char *act, const char *reason)
{
	struct mvm_result r = action(act, NULL, NULL);

	cr_assert_eq(r.status, 2, "%s: status %d\n%s", act, r.status, r.err);
	cr_assert(strstr(r.err, reason), "%s: stderr lacks '%s':\n%s", act,
		  reason, r.err);
	cr_assert(strstr(r.err, "RIP="), "no registers: %s", r.err);
	cr_assert(strstr(r.err, "CR0="), "no registers: %s", r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
}

Test(exits, triple_fault_is_an_error_with_registers)
{
	assert_crash("triple", "triple fault");
}

Test(exits, undefined_opcode_without_idt_is_an_error)
{
	assert_crash("ud", "triple fault");
}

Test(exits, reboot_exits_zero_by_default)
{
	struct mvm_result r = action("boot", NULL, NULL);

	cr_assert_eq(r.status, 0, "status %d\n%s", r.status, r.err);
	cr_assert_eq(count_str(r.out, "booted"), 1);
	mvm_result_free(&r);
}

Test(exits, reboot_restarts_with_on_reboot_restart)
{
	struct mvm_opts o = { .kill_after_match = "booted",
			      .kill_after_count = 3,
			      .kill_after_match_signal = SIGTERM };
	struct mvm_result r = action("boot", "restart", &o);

	cr_assert_geq(count_str(r.out, "booted"), 3, "%s", r.out);
	cr_assert_eq(r.status, 128 + SIGTERM, "status %d\n%s", r.status, r.err);
	cr_assert(strstr(r.err, "restarting"), "%s", r.err);
	mvm_result_free(&r);
}

/* The CMOS (NVRAM and the clock's offset) survives a reboot. */
Test(exits, restart_keeps_the_cmos)
{
	struct mvm_result r = action("rtc_reboot", "restart", NULL);

	cr_assert(strstr(r.out, "rtc set year 40"), "%s", r.out);
	cr_assert(strstr(r.out, "rtc kept nvram a5 year 40"), "%s", r.out);
	cr_assert(strstr(r.out, "ALL OK"), "%s", r.out);
	cr_assert_eq(r.status, 1, "status %d\n%s", r.status, r.err);
	mvm_result_free(&r);
}

Test(exits, sigterm_stops_a_running_guest)
{
	struct mvm_opts o = { .kill_after_match = "hanging",
			      .kill_after_match_signal = SIGTERM };
	struct mvm_result r = action("hang", NULL, &o);

	cr_assert_eq(r.status, 128 + SIGTERM, "status %d", r.status);
	cr_assert(strstr(r.err, "signal"), "%s", r.err);
	mvm_result_free(&r);
}

Test(exits, sigint_stops_a_spinning_smp_guest)
{
	struct mvm_opts o = { .kill_after_match = "action spin",
			      .kill_after_match_signal = SIGINT };
	struct mvm_result r;
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--cmdline", "action=spin", "--cpus", "2", NULL };

	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert_not(r.timed_out);
	cr_assert_eq(r.status, 128 + SIGINT, "status %d", r.status);
	mvm_result_free(&r);
}

Test(exits, console_input_reaches_the_guest)
{
	struct mvm_opts o = { .stdin_data = "hello mvm\nq",
			      .stdin_after = "echo ready" };
	struct mvm_result r = action("echo", NULL, &o);

	cr_assert(strstr(r.out, "hello mvm"), "echo missing:\n%s", r.out);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	mvm_result_free(&r);
}
