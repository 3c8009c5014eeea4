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

struct child {
	pid_t pid;
	int in, out, err;
	char obuf[65536], ebuf[65536];
	size_t olen, elen;
};

static char netns[64];

/* mvm with argv (after the binary) and env added, pipes on 0, 1 and 2. */
static void spawn(struct child *c, const char *const *argv, char *env,
		  bool in_netns)
{
	int pin[2], pout[2], perr[2];

	memset(c, 0, sizeof(*c));
	cr_assert_eq(pipe(pin) | pipe(pout) | pipe(perr), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		char *args[24] = { (char *)mvm_bin() };
		char path[128];
		int n, fd;

		for (n = 1; argv[n - 1] && n < 23; n++)
			args[n] = (char *)argv[n - 1];
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		putenv(env);
		snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
		fd = in_netns ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (in_netns && (fd < 0 || setns(fd, CLONE_NEWNET) < 0))
			_exit(99);
		execv(mvm_bin(), args);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	c->in = pin[1];
	c->out = pout[0];
	c->err = perr[0];
}

static void drain(int fd, char *buf, size_t *len, size_t cap)
{
	ssize_t n = read(fd, buf + *len, cap - 1 - *len);

	if (n > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
}

/* Read both pipes until cond holds (true) or seconds pass (false). */
static bool wait_for(struct child *c, bool (*cond)(struct child *),
		     double seconds)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!cond(c)) {
		struct pollfd p[2] = { { c->out, POLLIN, 0 },
				       { c->err, POLLIN, 0 } };

		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) +
			    (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
			return false;
		if (poll(p, 2, 100) <= 0)
			continue;
		if ((p[0].revents & (POLLIN | POLLHUP)) &&
		    c->olen < sizeof(c->obuf) - 1)
			drain(c->out, c->obuf, &c->olen, sizeof(c->obuf));
		if ((p[1].revents & (POLLIN | POLLHUP)) &&
		    c->elen < sizeof(c->ebuf) - 1)
			drain(c->err, c->ebuf, &c->elen, sizeof(c->ebuf));
		if ((p[0].revents | p[1].revents) & POLLHUP &&
		    !(p[0].revents & POLLIN) && !(p[1].revents & POLLIN))
			return cond(c);
	}
	return true;
}

static int end(struct child *c)
{
	int status;

	cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
	close(c->in);
	close(c->out);
	close(c->err);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static bool round_trips_done(struct child *c)
{
	return count_str(c->ebuf, "vm state round trip") >= ROUNDTRIPS;
}

/* Every round trip loaded and came back the same; none failed. */
static void assert_round_trips(const struct child *c)
{
	cr_assert_eq(count_str(c->ebuf, "devices identical after load"),
		     ROUNDTRIPS, "%s", c->ebuf);
	cr_assert_null(strstr(c->ebuf, "failed"), "%s", c->ebuf);
}

static bool echoed(struct child *c)
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
	struct child c;

	spawn(&c, argv, env, false);
	cr_assert(wait_for(&c, round_trips_done, 20), "no round trips:\n"
		  "stdout: %s\nstderr: %s", c.obuf, c.ebuf);
	assert_round_trips(&c);
	/* 10 nodes: 8 devices and the 2 vCPUs. */
	cr_assert_not_null(strstr(c.ebuf, "round trip: 10 nodes"), "%s",
			   c.ebuf);
	cr_assert_not_null(strstr(c.obuf, "echo ready"), "%s", c.obuf);
	/* The UART and the interrupts work on the loaded state: an echo. */
	cr_assert_eq(write(c.in, input, sizeof(input) - 1),
		     (ssize_t)sizeof(input) - 1);
	cr_assert(wait_for(&c, echoed, 20), "no echo after the load:\n%s",
		  c.obuf);
	cr_assert_eq(end(&c), 1, "%s", c.ebuf);
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
static bool soak_went_on(struct child *c)
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
	struct child c;
	int fd = mkstemp(disk);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 4 << 20), 0);
	close(fd);
	snprintf(dspec, sizeof(dspec), "path=%s", disk);
	spawn(&c, argv, env, true);
	cr_assert(wait_for(&c, round_trips_done, 60), "no round trips:\n"
		  "stdout: %s\nstderr: %s", c.obuf, c.ebuf);
	assert_round_trips(&c);
	/* 12 nodes: 7 legacy devices, the irqchip, 3 virtio, 1 vCPU. */
	cr_assert_not_null(strstr(c.ebuf, "round trip: 12 nodes"), "%s",
			   c.ebuf);
	soak_lines = (unsigned)count_str(c.obuf, "soak rounds=");
	cr_assert(wait_for(&c, soak_went_on, 60), "the soak stopped:\n%s\n%s",
		  c.obuf, c.ebuf);
	cr_assert_null(strstr(c.obuf, "FAIL"), "%s", c.obuf);
	kill(c.pid, SIGTERM);
	cr_assert_eq(end(&c), 128 + SIGTERM, "%s", c.ebuf);
	unlink(disk);
}
