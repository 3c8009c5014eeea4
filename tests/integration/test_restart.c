/*
 * A guest that reboots under --on-reboot restart gets a new VM, but its
 * NICs keep their taps: a tap mvm created itself would otherwise vanish at
 * each reboot (with the host's addresses and routes on it) and come back
 * as a new interface.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

static long ifindex(const char *tap)
{
	char path[96];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", tap);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

Test(restart, taps_outlive_guest_reboots, .timeout = 60)
{
	char tap[16], net[64];
	const char *extra[] = { "run", "--kernel", guest_path("mb_action"),
				"--cmdline", "action=boot then=reset",
				"--memory", "32", "--on-reboot", "restart",
				"--net", net, NULL };
	struct api_proc p;
	long first, later;

	/* A name nobody has: mvm creates the tap, and owns its lifetime. */
	snprintf(tap, sizeof(tap), "mvmrb%d", (int)getpid() % 100000);
	snprintf(net, sizeof(net), "tap=%s", tap);
	cr_assert_eq(ifindex(tap), -1, "%s exists already", tap);
	cr_assert_eq(api_spawn(&p, extra), 0);
	cr_assert(api_wait_out(&p, "booted", 10), "%s\n%s", p.out, p.err);
	first = ifindex(tap);
	cr_assert_gt(first, 0, "no tap %s while the guest runs", tap);
	/* Several reboots later, it is still the same interface. */
	for (int i = 0; i < 400 && count_str(p.out, "booted") < 4; i++)
		api_drain(&p, 0.05);
	cr_assert_geq(count_str(p.out, "booted"), 4, "%s\n%s", p.out, p.err);
	later = ifindex(tap);
	cr_assert_eq(later, first, "tap %s: ifindex %ld, then %ld", tap, first,
		     later);
	api_stop(&p);
	api_proc_free(&p);
	/* Once mvm is gone, so is the tap it created. */
	cr_assert_eq(ifindex(tap), -1, "tap %s outlived mvm", tap);
}

/*
 * KVM's teardown of a rebooted VM runs in a child of mvm's while the next
 * VM boots, but no process of mvm's may outlive it: a VM held by such a
 * process would outlive mvm too (its module pinned, its hypervisor state
 * on) and surprise whatever watches mvm (a cgroup, a systemd unit). As a
 * subreaper, this test inherits any orphan mvm leaves behind.
 */
Test(restart, no_process_outlives_mvm, .timeout = 60)
{
	const char *extra[] = { "run", "--kernel", guest_path("mb_action"),
				"--cmdline", "action=boot then=reset",
				"--memory", "32", "--on-reboot", "restart",
				NULL };
	struct api_proc p;
	pid_t left;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cr_assert_eq(api_spawn(&p, extra), 0);
	for (int i = 0; i < 400 && count_str(p.out, "booted") < 4; i++)
		api_drain(&p, 0.05);
	cr_assert_geq(count_str(p.out, "booted"), 4, "%s\n%s", p.out, p.err);
	api_stop(&p);
	api_proc_free(&p);
	left = waitpid(-1, NULL, WNOHANG);
	cr_assert_eq(left, -1, "process %d, started by mvm, outlived it",
		     (int)left);
}
