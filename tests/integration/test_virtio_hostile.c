/*
 * A guest must not be able to freeze mvm. The virtio test kernel's
 * test=net_hostile posts receive buffers (MRG_RXBUF) that add up to less
 * than one frame, after transmit chains that hold no frame. While those
 * buffers are short, mvm must keep serving: its API answers, SIGTERM ends
 * it at once, and its event loop (the main thread) does not spin. Once
 * the guest posts enough, the frame the host sent meanwhile must arrive.
 * Needs root (a network namespace and a TAP); skipped otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "harness.h"

#define ETHERTYPE 0x88b5
#define TAP "mvmtap0"
#define FRAME_LEN 60
/* Loop-thread CPU over a 1 s window: a spinning loop uses all of it. */
#define SPIN_WINDOW_S 1.0
#define SPIN_MAX_S 0.05

static char netns[64];

static int sh(const char *cmd)
{
	char line[512];

	snprintf(line, sizeof(line), cmd, netns, netns);
	return system(line);
}

/* A namespace with a TAP for this test; the test process moves into it. */
static void enter_netns(void)
{
	char path[128];
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root for network namespaces and TAP");
	snprintf(netns, sizeof(netns), "mvmh-%d", (int)getpid());
	if (sh("ip netns add %s 2>/dev/null"))
		cr_skip_test("cannot create a network namespace");
	cr_assert_eq(sh("ip netns exec %s sysctl -qw "
			"net.ipv6.conf.default.disable_ipv6=1 && "
			"ip netns exec %s sysctl -qw "
			"net.ipv6.conf.all.disable_ipv6=1"), 0);
	cr_assert_eq(sh("ip -n %s tuntap add dev " TAP " mode tap && "
			"ip -n %s link set " TAP " up"), 0);
	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert_eq(setns(fd, CLONE_NEWNET), 0);
	close(fd);
}

static void drop_netns(void)
{
	if (netns[0])
		sh("ip netns del %s 2>/dev/null");
}

TestSuite(virtio_hostile, .init = enter_netns, .fini = drop_netns,
	  .timeout = 120);

static int tap_socket(void)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETHERTYPE) };
	struct timeval tv = { .tv_sec = 5 };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));

	sll.sll_ifindex = (int)if_nametoindex(TAP);
	cr_assert(s >= 0 && sll.sll_ifindex > 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* A broadcast frame into the TAP, towards the guest. */
static void send_frame(int s, const char *payload)
{
	uint8_t f[FRAME_LEN] = { 0 };

	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, payload, strlen(payload));
	cr_assert_eq(send(s, f, sizeof(f), 0), FRAME_LEN);
}

/* Wait for a frame from the guest whose payload starts with want. */
static bool got_frame(int s, const char *want)
{
	uint8_t f[2048];

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(s, f, sizeof(f), 0);

		if (n < 0)
			return false;
		if (n >= 14 + (ssize_t)strlen(want) &&
		    !memcmp(f + 14, want, strlen(want)))
			return true;
	}
	return false;
}

/* CPU seconds the thread tid of pid has used (utime + stime). */
static double thread_cpu_s(pid_t pid, pid_t tid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	/* The command name may hold spaces: fields count from its ')'. */
	p = strrchr(buf, ')');
	cr_assert_not_null(p);
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			    "%*u %lu %lu", &ut, &st), 2);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Does the API answer a request within seconds? (No client timeout of 15 s.) */
static bool api_answers(const char *sock, int seconds)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd pfd = { fd, POLLIN, 0 };
	char resp[64] = { 0 };
	bool ok = false;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(req) - 1)
		goto out;
	if (poll(&pfd, 1, seconds * 1000) == 1 &&
	    recv(fd, resp, sizeof(resp) - 1, 0) > 0)
		ok = !strncmp(resp, "HTTP/1.1 200", 12);
out:
	if (fd >= 0)
		close(fd);
	return ok;
}

/* mvm with the net test kernel; returns once its buffers are short. */
static void start_short(struct api_proc *p, const char *cmdline)
{
	const char *argv[] = { "run", "--kernel",
			       guest_path("virtio/mb_virtio"), "--memory",
			       "64", "--rng", "--net", "tap=" TAP, "--cmdline",
			       cmdline, NULL };

	cr_assert_eq(api_spawn(p, argv), 0);
	cr_assert(api_wait_out(p, "net short posted", 15),
		  "guest never posted:\n%s\n%s", p->out, p->err);
}

static void assert_loop_idle(struct api_proc *p)
{
	double t0 = thread_cpu_s(p->pid, p->pid), used;

	usleep((useconds_t)(SPIN_WINDOW_S * 1e6));
	used = thread_cpu_s(p->pid, p->pid) - t0;
	cr_assert_lt(used, SPIN_MAX_S, "the event loop spins: %.2f s of CPU "
		     "in %.1f s", used, SPIN_WINDOW_S);
}

static void short_buffers_keep_mvm_serving(const char *cmdline)
{
	struct api_proc p;
	int s = tap_socket();

	start_short(&p, cmdline);
	cr_assert(got_frame(s, "mvm-tx-ok"),
		  "no good frame after empty transmit chains:\n%s", p.out);
	send_frame(s, "mvm-short");
	assert_loop_idle(&p);
	cr_assert(api_answers(p.sock, 2), "the API does not answer");
	/* The guest now posts the rest; the frame sent above must land. */
	cr_assert_eq(write(p.in_fd, "g", 1), 1);
	cr_assert(api_wait_out(&p, "ALL OK", 15), "guest failed:\n%s\n%s",
		  p.out, p.err);
	cr_assert_eq(api_wait_exit(&p, 10), 1, "status %d: %s", p.status,
		     p.err);
	close(s);
	api_proc_free(&p);
}

Test(virtio_hostile, short_rx_buffers_with_event_idx)
{
	short_buffers_keep_mvm_serving("test=net_hostile");
}

Test(virtio_hostile, short_rx_buffers_without_event_idx)
{
	short_buffers_keep_mvm_serving("test=net_hostile event_idx=0 "
				       "indirect=0");
}

Test(virtio_hostile, short_rx_buffers_for_a_gso_frame)
{
	short_buffers_keep_mvm_serving("test=net_hostile offload=1");
}

Test(virtio_hostile, sigterm_ends_mvm_while_rx_buffers_are_short)
{
	struct api_proc p;
	struct timespec a, b;
	int st;

	start_short(&p, "test=net_hostile");
	clock_gettime(CLOCK_MONOTONIC, &a);
	kill(p.pid, SIGTERM);
	/* api_wait_exit() sends SIGKILL after 3 s: a status of 137. */
	st = api_wait_exit(&p, 3);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert_neq(st, 128 + SIGKILL, "SIGTERM ignored:\n%s", p.err);
	cr_assert_lt((double)(b.tv_sec - a.tv_sec) +
		     (b.tv_nsec - a.tv_nsec) / 1e9, 1.0, "slow to stop");
	api_proc_free(&p);
}
