/*
 * virtio-net end to end, in a network namespace made for each test: a TAP
 * interface there, mvm attached to it, and a responder on the interface
 * (an AF_PACKET socket) that answers the virtio test kernel's frames.
 * Frames from a foreign source MAC must not reach the wire unless the NIC
 * has mac_spoofing=on; MMDS answers the guest over it. Needs root
 * (namespaces, TAP); skipped otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

#define ETHERTYPE 0x88b5
#define TAP "mvmtap0"

/* The namespace mvm runs in (read by the child before exec). */
static char netns[64];

struct responder {
	int sock;
	pthread_t thread;
	volatile bool stop;
	int pings, spoofs, dones;
	char ping_src[32];
};

static void enter_netns(void)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		_exit(99);
	close(fd);
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), fmt, arg, arg);
	return system(cmd);
}

static void make_netns(void)
{
	static int n;

	if (geteuid() != 0)
		cr_skip_test("needs root for network namespaces and TAP");
	snprintf(netns, sizeof(netns), "mvmt-%d-%d", (int)getpid(), n++);
	if (sh("ip netns add %s 2>/dev/null", netns))
		cr_skip_test("cannot create a network namespace");
	/* No IPv6 chatter on the TAP: only the test's frames. */
	cr_assert_eq(sh("ip netns exec %s sysctl -qw "
			"net.ipv6.conf.default.disable_ipv6=1 && "
			"ip netns exec %s sysctl -qw "
			"net.ipv6.conf.all.disable_ipv6=1", netns), 0);
	cr_assert_eq(sh("ip -n %s tuntap add dev " TAP " mode tap && "
			"ip -n %s link set " TAP " up", netns), 0);
}

static void drop_netns(void)
{
	sh("ip netns del %s 2>/dev/null", netns);
}

/* A raw socket on the TAP, made inside the namespace. */
static int tap_socket(void)
{
	char path[128];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns, s;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETHERTYPE) };
	/* Short, so the responder notices when it is told to stop. */
	struct timeval tv = { .tv_usec = 200000 };

	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(self >= 0 && ns >= 0);
	cr_assert_eq(setns(ns, CLONE_NEWNET), 0);
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));
	sll.sll_ifindex = (int)if_nametoindex(TAP);
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	close(ns);
	close(self);
	cr_assert(s >= 0 && sll.sll_ifindex > 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

static void reply(int s, const uint8_t *to, const char *payload)
{
	uint8_t f[64] = { 0 };

	memcpy(f, to, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, payload, strlen(payload));
	if (send(s, f, 60, 0) != 60)
		fprintf(stderr, "responder: send failed\n");
}

/* Echo pings as pongs, count spoofed frames, stop after "mvm-done". */
static void *respond(void *arg)
{
	struct responder *rp = arg;
	uint8_t f[2048];

	while (!rp->stop) {
		ssize_t n = recv(rp->sock, f, sizeof(f) - 1, 0);
		char *payload = (char *)f + 14;

		if (n < 14)
			continue;
		f[n] = 0;
		if (!strncmp(payload, "mvm-ping", 8)) {
			char pong[64];

			if (!rp->pings++)
				snprintf(rp->ping_src, sizeof(rp->ping_src),
					 "%02x:%02x:%02x:%02x:%02x:%02x",
					 f[6], f[7], f[8], f[9], f[10], f[11]);
			snprintf(pong, sizeof(pong), "mvm-pong%.40s",
				 payload + 8);
			reply(rp->sock, f + 6, pong);
		} else if (!strncmp(payload, "mvm-spoof", 9)) {
			rp->spoofs++;
		} else if (!strcmp(payload, "mvm-done")) {
			rp->dones++;
			reply(rp->sock, f + 6, "mvm-done-ack");
			break;
		}
	}
	return NULL;
}

static struct mvm_result run_net(const char *net, const char *cmdline,
				 struct responder *rp)
{
	struct mvm_opts o = { .child_setup = enter_netns, .timeout = 30 };
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--memory", "64", "--net", net, "--cmdline",
			       cmdline, NULL };
	struct mvm_result r;

	memset(rp, 0, sizeof(*rp));
	rp->sock = tap_socket();
	cr_assert_eq(pthread_create(&rp->thread, NULL, respond, rp), 0);
	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	/* mvm is gone: stop the responder if it still waits. */
	rp->stop = true;
	pthread_join(rp->thread, NULL);
	close(rp->sock);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	return r;
}

static void assert_all_ok(const struct mvm_result *r)
{
	cr_assert(strstr(r->out, "ALL OK"), "guest failed:\n%s\nstderr:\n%s",
		  r->out, r->err);
	cr_assert_eq(r->status, 1, "status %d", r->status);
}

TestSuite(virtio_net, .init = make_netns, .fini = drop_netns);

Test(virtio_net, frames_go_out_and_back_spoofing_dropped)
{
	struct responder rp;
	struct mvm_result r = run_net("tap=" TAP, "test=net spoof=1", &rp);

	assert_all_ok(&r);
	cr_assert_eq(rp.pings, 3, "pings seen: %d", rp.pings);
	cr_assert_eq(rp.dones, 1);
	cr_assert_eq(rp.spoofs, 0, "spoofed frames reached the wire");
	cr_assert(strstr(r.err, "dropped a frame from source MAC "
			 "02:00:00:00:00:99"), "no drop message: %s", r.err);
	/* The guest saw its MAC; the wire saw the same one. */
	cr_assert(strstr(r.out, rp.ping_src), "guest MAC != wire MAC %s",
		  rp.ping_src);
	mvm_result_free(&r);
}

Test(virtio_net, spoofing_on_lets_frames_through)
{
	struct responder rp;
	struct mvm_result r = run_net(
		"tap=" TAP ",mac=52:54:00:12:34:56,mac_spoofing=on",
		"test=net spoof=1 mac=52:54:00:12:34:56", &rp);

	assert_all_ok(&r);
	cr_assert_eq(rp.spoofs, 2, "spoofed frames seen: %d", rp.spoofs);
	cr_assert_str_eq(rp.ping_src, "52:54:00:12:34:56");
	mvm_result_free(&r);
}

Test(virtio_net, without_mrg_rxbuf_event_idx_indirect)
{
	struct responder rp;
	struct mvm_result r = run_net("tap=" TAP,
				      "test=net mrg=0 event_idx=0 indirect=0",
				      &rp);

	assert_all_ok(&r);
	cr_assert_eq(rp.pings, 3);
	mvm_result_free(&r);
}

Test(virtio_net, with_checksum_and_segmentation_offloads)
{
	struct responder rp;
	struct mvm_result r = run_net("tap=" TAP, "test=net offload=1", &rp);

	assert_all_ok(&r);
	cr_assert(strstr(r.out, "PASS net offloads offered"), "%s", r.out);
	cr_assert_eq(rp.pings, 3);
	mvm_result_free(&r);
}

static void mac_of(const char *id, char *out, size_t size)
{
	struct responder rp;
	char net[64];
	struct mvm_result r;
	const char *m;

	snprintf(net, sizeof(net), "tap=" TAP ",id=%s", id);
	r = run_net(net, "test=net", &rp);
	assert_all_ok(&r);
	m = strstr(r.out, "net mac ");
	cr_assert_not_null(m);
	snprintf(out, size, "%.17s", m + 8);
	mvm_result_free(&r);
}

Test(virtio_net, generated_mac_is_stable_for_the_id)
{
	char a1[32], a2[32], b[32];

	mac_of("nicA", a1, sizeof(a1));
	mac_of("nicA", a2, sizeof(a2));
	mac_of("nicB", b, sizeof(b));
	cr_assert_str_eq(a1, a2);
	cr_assert_str_neq(a1, b);
	/* Locally administered unicast. */
	cr_assert_eq(strtoul(a1, NULL, 16) & 3, 2, "%s", a1);
}

static void assert_refused(const char *net, const char *msg)
{
	struct mvm_opts o = { .child_setup = enter_netns };
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--net", net, "--cmdline", "test=net", NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, &o, &r), 0);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	cr_assert(strstr(r.err, msg), "stderr lacks '%s':\n%s", msg, r.err);
	cr_assert_eq(count_str(r.err, "\n"), 1, "not one line: %s", r.err);
	mvm_result_free(&r);
}

Test(virtio_net, bad_options_name_the_key)
{
	assert_refused("tap=" TAP ",speed=1", "--net: unknown key 'speed'");
	assert_refused("id=x", "--net: tap=NAME or user is required");
	assert_refused("tap=" TAP ",mac=01:00:00:00:00:01",
		       "--net: mac: '01:00:00:00:00:01' is not a unicast MAC");
	assert_refused("tap=" TAP ",mac_spoofing=maybe",
		       "--net: mac_spoofing: 'maybe' is not on or off");
	assert_refused("tap=averyveryverylongname",
		       "--net: tap: 'averyveryverylongname' is longer");
}

/*
 * MMDS over the NIC: the virtio test kernel ARPs the MMDS address, opens
 * a TCP connection to its port 80 and prints what its GETs get back
 * (test=mmds). mvm answers all of it in the NIC's TX path: no frame for
 * the address may reach the TAP.
 */
#define MD "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-12345678\", " \
	   "\"hostname\": \"mvm-guest\", \"network\": {\"mac\": \"x\"}}}}"

/* Frames on the TAP whose ARP target or IPv4 destination is addr. */
static int mmds_leaks(int s, uint32_t addr)
{
	uint8_t f[2048];
	int leaks = 0;
	ssize_t n;

	while ((n = recv(s, f, sizeof(f), MSG_DONTWAIT)) >= 14) {
		uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
		uint32_t a = 0;

		if (type == 0x0806 && n >= 42)
			memcpy(&a, f + 38, 4);
		else if (type == 0x0800 && n >= 34)
			memcpy(&a, f + 30, 4);
		leaks += a == htonl(addr);
	}
	return leaks;
}

static int tap_all_socket(void)
{
	char path[128];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), ns, s;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(0x0003) };

	snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(self >= 0 && ns >= 0);
	cr_assert_eq(setns(ns, CLONE_NEWNET), 0);
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x0003));
	sll.sll_ifindex = (int)if_nametoindex(TAP);
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	close(ns);
	close(self);
	cr_assert(s >= 0 && sll.sll_ifindex > 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return s;
}

static struct mvm_result run_mmds(const char *mmds_config,
				  const char *cmdline, uint32_t addr)
{
	struct mvm_opts o = { .child_setup = enter_netns, .timeout = 60 };
	char text[1024], *cfg, *md = temp_file("md", MD, strlen(MD));
	struct mvm_result r;
	int s = tap_all_socket(), leaks;

	snprintf(text, sizeof(text), "{\"boot-source\": {\"kernel_image_path\": "
		 "\"%s\", \"boot_args\": \"%s\"}, \"machine-config\": "
		 "{\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		 "\"network-interfaces\": [{\"iface_id\": \"eth0\", "
		 "\"host_dev_name\": \"" TAP "\"}], \"mmds-config\": %s}",
		 guest_path("virtio/mb_virtio"), cmdline, mmds_config);
	cfg = temp_file("mmdscfg", text, strlen(text));
	cr_assert_eq(mvm_launch((const char *[]){ "--no-api", "--config-file",
				cfg, "--metadata", md, NULL }, &o, &r), 0);
	free(cfg);
	free(md);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	leaks = mmds_leaks(s, addr);
	close(s);
	cr_assert_eq(leaks, 0, "%d frames for MMDS reached the TAP", leaks);
	assert_all_ok(&r);
	return r;
}

static void expect_line(const struct mvm_result *r, const char *line)
{
	cr_assert(strstr(r->out, line), "no '%s' in:\n%s", line, r->out);
}

Test(virtio_net, mmds_v1_over_the_nic)
{
	struct mvm_result r = run_mmds("{\"network_interfaces\": [\"eth0\"]}",
				       "test=mmds", 0xa9fea9fe);

	expect_line(&r, "PASS mmds arp");
	expect_line(&r, "mmds answer 200 ami-id|hostname|network/\n");
	expect_line(&r, "mmds answer 200 \"ami-12345678\"\n");
	expect_line(&r, "mmds answer 404 Resource not found: /nope.\n");
	mvm_result_free(&r);
}

Test(virtio_net, mmds_v2_needs_the_token)
{
	struct mvm_result r = run_mmds("{\"version\": \"V2\", "
				       "\"network_interfaces\": [\"eth0\"]}",
				       "test=mmds v2=1", 0xa9fea9fe);
	const char *tok;

	expect_line(&r, "mmds answer 401 No MMDS token provided. Use "
		    "`X-metadata-token` or `X-aws-ec2-metadata-token` header "
		    "to specify the session token.\n");
	tok = strstr(r.out, "mmds answer 200 ");
	cr_assert(tok && strchr(tok, '\n') - tok == 16 + 44,
		  "no 44-character token: %s", r.out);
	expect_line(&r, "mmds answer 200 ami-id|hostname|network/\n");
	expect_line(&r, "mmds answer 200 \"ami-12345678\"\n");
	mvm_result_free(&r);
}

/*
 * Two connections at once on one NIC: half a request on the first, a
 * whole one on a second, then the first's rest; both answered, each on
 * its own connection (one parser each: shared, the halves would mix).
 */
Test(virtio_net, mmds_two_connections_at_once)
{
	struct mvm_result r = run_mmds("{\"network_interfaces\": [\"eth0\"]}",
				       "test=mmds second=1", 0xa9fea9fe);

	expect_line(&r, "PASS mmds second connect");
	expect_line(&r, "PASS mmds two connections");
	mvm_result_free(&r);
}

/* Another address, and imds_compat: text whatever the Accept header. */
Test(virtio_net, mmds_address_and_imds_compat)
{
	struct mvm_result r = run_mmds("{\"network_interfaces\": [\"eth0\"], "
				       "\"ipv4_address\": \"169.254.170.2\", "
				       "\"imds_compat\": true}",
				       "test=mmds mmds_ip=0xa9feaa02",
				       0xa9feaa02);

	expect_line(&r, "mmds answer 200 ami-12345678\n");
	mvm_result_free(&r);
}
