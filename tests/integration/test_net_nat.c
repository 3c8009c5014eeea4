/*
 * --net user end to end with the virtio test kernel (test=net_nat): the
 * guest gets a DHCP OFFER and an ARP reply from mvm's NAT, and a UDP
 * datagram it sends to the gateway's port reaches a socket of this host
 * on 127.0.0.1, whose answer goes back through the NAT to the guest, 50
 * times over (each frame passes between the NIC's rings and slirp by
 * call, none may be lost).
 * Needs no root and no tap. Bad --net user values are one-line errors,
 * and a hostfwd whose host port is taken fails the start, named.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define NAT_PINGS 50

struct echo {
	int fd;
	uint16_t port;
	pthread_t thread;
	volatile bool stop;
	int pings;
};

/* Answer each "mvm-nat-ping" with "mvm-nat-pong", until told to stop. */
static void *echo_run(void *arg)
{
	struct echo *e = arg;

	while (!e->stop) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		char buf[64];
		ssize_t n = recvfrom(e->fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fl);

		if (n == 12 && !memcmp(buf, "mvm-nat-ping", 12)) {
			e->pings++;
			sendto(e->fd, "mvm-nat-pong", 12, 0,
			       (struct sockaddr *)&from, fl);
		}
	}
	return NULL;
}

static void echo_start(struct echo *e)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	struct timeval tv = { .tv_usec = 200000 };

	memset(e, 0, sizeof(*e));
	e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(e->fd, 0);
	cr_assert_eq(bind(e->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(e->fd, (struct sockaddr *)&a, &l), 0);
	e->port = ntohs(a.sin_port);
	setsockopt(e->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(pthread_create(&e->thread, NULL, echo_run, e), 0);
}

static void echo_stop(struct echo *e)
{
	e->stop = true;
	pthread_join(e->thread, NULL);
	close(e->fd);
}

Test(net_nat, dhcp_arp_and_udp_through_the_nat, .timeout = 60)
{
	struct mvm_opts o = { .timeout = 30 };
	char cmdline[64];
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--memory", "64", "--net", "user", "--cmdline",
			       cmdline, NULL };
	struct mvm_result r;
	struct echo e;

	echo_start(&e);
	snprintf(cmdline, sizeof(cmdline), "test=net_nat port=%u pings=%d",
		 e.port, NAT_PINGS);
	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	echo_stop(&e);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, "PASS nat dhcp offer"), "%s\n%s", r.out,
		  r.err);
	cr_assert(strstr(r.out, "PASS nat arp gateway"), "%s", r.out);
	cr_assert(strstr(r.out, "PASS nat udp echo"), "%s", r.out);
	cr_assert(strstr(r.out, "PASS nat mtu"), "%s", r.out);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	cr_assert_eq(e.pings, NAT_PINGS, "the host saw %d pings", e.pings);
	mvm_result_free(&r);
}

/* mtu= reaches the guest's driver as VIRTIO_NET_F_MTU's mtu. */
Test(net_nat, mtu_is_offered_to_the_guest, .timeout = 60)
{
	struct mvm_opts o = { .timeout = 30 };
	char cmdline[64];
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--memory", "64", "--net", "user,mtu=9000",
			       "--cmdline", cmdline, NULL };
	struct mvm_result r;
	struct echo e;

	echo_start(&e);
	snprintf(cmdline, sizeof(cmdline), "test=net_nat port=%u mtu=9000",
		 e.port);
	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	echo_stop(&e);
	cr_assert(strstr(r.out, "PASS nat mtu"), "%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	mvm_result_free(&r);
}

static void assert_refused(const char *net, const char *msg)
{
	struct mvm_opts o = { 0 };
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--net", net, "--cmdline", "test=net_nat", NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert_neq(r.status, 0, "'%s' accepted", net);
	cr_assert(strstr(r.err, msg), "stderr lacks '%s':\n%s", msg, r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
}

Test(net_nat, bad_options_name_the_key, .timeout = 60)
{
	assert_refused("user,hostfwd=tcp::80", "--net: hostfwd 'tcp::80'");
	assert_refused("user,hostfwd=tcp::8o-:80", "bad host port '8o'");
	assert_refused("user,speed=1", "--net: unknown key 'speed'");
	assert_refused("user,tap=t0", "--net: tap: not with the user backend");
	assert_refused("user,mtu=65521", "--net: mtu: 65521 is too large");
	assert_refused("user,mtu=0", "--net: mtu: 0 is below 68");
}

Test(net_nat, hostfwd_port_in_use_fails_the_start, .timeout = 60)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char net[96], msg[64];

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	snprintf(net, sizeof(net), "user,hostfwd=tcp:127.0.0.1:%u-:80",
		 ntohs(a.sin_port));
	snprintf(msg, sizeof(msg), "hostfwd tcp:127.0.0.1:%u-:80",
		 ntohs(a.sin_port));
	assert_refused(net, msg);
	close(fd);
}
