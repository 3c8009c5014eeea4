/*
 * The whole VM's state through the one generic path (include/mvm/
 * vm_state.h) on running guests: MVM_TEST_VM_ROUNDTRIP (the test hook)
 * pauses the VM, saves every device and vCPU, loads it all back in place,
 * saves again (every device node the same bytes) and resumes. The guests
 * must not notice:
 *  - the echo kernel, two vCPUs, still echoes what is typed afterwards;
 *  - the virtio soak kernel, with a disk, a NIC and virtio-rng, keeps
 *    writing, reading back and checking its disk and sending frames while
 *    the round trips pause it mid-I/O (it stops at the first wrong byte).
 * The soak needs root (a network namespace with a TAP), as the virtio-net
 * tests do, and is skipped without it, saying so.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define ROUNDTRIPS 3
#define TAP "mvmvs0"

static char netns[64];

/* In the child, before exec: into the test's network namespace. */
static void enter_netns(void)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		_exit(99);
}

static bool round_trips_done(struct mvm_child *c)
{
	return count_str(c->ebuf, "vm state round trip") >= ROUNDTRIPS;
}

/* Every round trip loaded and came back the same; none failed. */
static void assert_round_trips(const struct mvm_child *c)
{
	cr_assert_eq(count_str(c->ebuf, "devices identical after load"),
		     ROUNDTRIPS, "%s", c->ebuf);
	cr_assert_null(strstr(c->ebuf, "failed"), "%s", c->ebuf);
}

static bool echoed(struct mvm_child *c)
{
	return strstr(c->obuf, "after-load q") != NULL;
}

Test(vm_state, echo_guest_runs_on_a_reloaded_vm, .timeout = 60)
{
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--cmdline", "action=echo", "--memory", "32",
			       "--cpus", "2", NULL };
	static char env[] = "MVM_TEST_VM_ROUNDTRIP=3";
	static const char input[] = "after-load q";
	struct mvm_child c;

	cr_assert_eq(mvm_child_spawn(&c, argv, env, NULL), 0);
	cr_assert(mvm_child_wait(&c, round_trips_done, 20), "no round trips:\n"
		  "stdout: %s\nstderr: %s", c.obuf, c.ebuf);
	assert_round_trips(&c);
	/* 11 nodes: 8 devices, the 2 vCPUs and the kvmclock. */
	cr_assert_not_null(strstr(c.ebuf, "round trip: 11 nodes"), "%s",
			   c.ebuf);
	cr_assert_not_null(strstr(c.obuf, "echo ready"), "%s", c.obuf);
	/* The UART and the interrupts work on the loaded state: an echo. */
	cr_assert_eq(write(c.in, input, sizeof(input) - 1),
		     (ssize_t)sizeof(input) - 1);
	cr_assert(mvm_child_wait(&c, echoed, 20), "no echo after the load:\n%s",
		  c.obuf);
	cr_assert_eq(mvm_child_end(&c), 1, "%s", c.ebuf);
}

static int sh(const char *fmt)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, netns, netns);
	return system(cmd);
}

static void make_netns(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root for a network namespace and a TAP");
	snprintf(netns, sizeof(netns), "mvmvs-%d", (int)getpid());
	if (sh("ip netns add %s 2>/dev/null"))
		cr_skip_test("cannot create a network namespace");
	cr_assert_eq(sh("ip -n %s tuntap add dev " TAP " mode tap && "
			"ip -n %s link set " TAP " up"), 0);
}

static void drop_netns(void)
{
	if (netns[0])
		sh("ip netns del %s 2>/dev/null");
}

static unsigned soak_lines;

/* Two more progress lines than when the round trips were done. */
static bool soak_went_on(struct mvm_child *c)
{
	return (unsigned)count_str(c->obuf, "soak rounds=") >= soak_lines + 2 ||
	       strstr(c->obuf, "FAIL");
}

Test(vm_state, virtio_io_goes_on_across_reloads, .init = make_netns,
     .fini = drop_netns, .timeout = 120)
{
	char disk[] = "/tmp/mvm-vmstate-XXXXXX";
	char dspec[64];
	const char *argv[] = { "run", "--kernel",
			       guest_path("virtio/mb_virtio"), "--memory",
			       "64", "--disk", dspec, "--net", "tap=" TAP,
			       "--rng", "--cmdline", "test=soak report=16",
			       NULL };
	static char env[] = "MVM_TEST_VM_ROUNDTRIP=3";
	struct mvm_child c;
	int fd = mkstemp(disk);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 << 20), 0);
	close(fd);
	snprintf(dspec, sizeof(dspec), "path=%s", disk);
	cr_assert_eq(mvm_child_spawn(&c, argv, env, enter_netns), 0);
	cr_assert(mvm_child_wait(&c, round_trips_done, 60), "no round trips:\n"
		  "stdout: %s\nstderr: %s", c.obuf, c.ebuf);
	assert_round_trips(&c);
	/* 13 nodes: 7 legacy devices, the irqchip, 3 virtio, 1 vCPU, the
	 * kvmclock. */
	cr_assert_not_null(strstr(c.ebuf, "round trip: 13 nodes"), "%s",
			   c.ebuf);
	soak_lines = (unsigned)count_str(c.obuf, "soak rounds=");
	cr_assert(mvm_child_wait(&c, soak_went_on, 60), "the soak stopped:\n%s\n%s",
		  c.obuf, c.ebuf);
	cr_assert_null(strstr(c.obuf, "FAIL"), "%s", c.obuf);
	kill(c.pid, SIGTERM);
	cr_assert_eq(mvm_child_end(&c), 128 + SIGTERM, "%s", c.ebuf);
	unlink(disk);
}
