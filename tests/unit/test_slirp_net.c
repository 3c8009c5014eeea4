/*
 * The user-mode stack (slirp_net) on a real loop: hostfwd rules parsed
 * and refused, DHCP and ARP answered from raw frames, a UDP datagram NATed
 * to a socket of this host, a host port forwarded to the guest, and a
 * guest service's bytes both ways.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/slirp_net.h"

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* Frames slirp sent to the guest, kept for the test to look at. */
struct sink {
	uint8_t frames[64][1600];
	size_t len[64];
	unsigned n;
};

static void sink_out(void *opaque, const void *frame, size_t len)
{
	struct sink *k = opaque;

	if (k->n < 64 && len <= sizeof(k->frames[0])) {
		memcpy(k->frames[k->n], frame, len);
		k->len[k->n++] = len;
	}
}

static uint16_t csum(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)(b[n - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* An Ethernet + IPv4 + UDP frame from the guest; its length. */
static size_t udp_frame(uint8_t *f, const char *src, const char *dst,
			uint16_t sport, uint16_t dport, const void *data,
			size_t n, const uint8_t *dst_mac)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint8_t pseudo[12];
	uint32_t s, d;

	memset(f, 0, 14 + 28 + n);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + n));
	ip[8] = 64;
	ip[9] = 17;
	inet_pton(AF_INET, src, &s);
	inet_pton(AF_INET, dst, &d);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, csum(ip, 20, 0));
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + n));
	if (n)
		memcpy(udp + 8, data, n);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, (uint16_t)(8 + n));
	{
		uint32_t sum = 0;

		for (int i = 0; i < 12; i += 2)
			sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
		put16(udp + 6, csum(udp, 8 + n, sum));
	}
	return 14 + 28 + n;
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* A DHCP DISCOVER from guest_mac. */
static size_t dhcp_discover(uint8_t *f)
{
	uint8_t b[300] = { 0 };

	b[0] = 1; /* BOOTREQUEST */
	b[1] = 1;
	b[2] = 6;
	b[4] = 0x12; /* xid */
	memcpy(b + 28, guest_mac, 6);
	b[236] = 99; b[237] = 130; b[238] = 83; b[239] = 99; /* cookie */
	b[240] = 53; b[241] = 1; b[242] = 1; /* DISCOVER */
	b[243] = 255;
	return udp_frame(f, "0.0.0.0", "255.255.255.255", 68, 67, b,
			 sizeof(b), bcast);
}

/* "Who has 10.0.2.2? Tell 10.0.2.15": slirp learns the guest's MAC. */
static void arp_request(uint8_t arp[42])
{
	memset(arp, 0, 42);
	memcpy(arp, bcast, 6);
	memcpy(arp + 6, guest_mac, 6);
	put16(arp + 12, 0x0806);
	put16(arp + 14, 1);
	put16(arp + 16, 0x0800);
	arp[18] = 6;
	arp[19] = 4;
	put16(arp + 20, 1);
	memcpy(arp + 22, guest_mac, 6);
	memcpy(arp + 28, "\x0a\x00\x02\x0f", 4);
	memcpy(arp + 38, "\x0a\x00\x02\x02", 4);
}

static struct loop loop;
static struct slirp_net *sn;
static struct sink sink;

static void start(const struct slirp_net_config *cfg)
{
	struct mvm_err err = { 0 };

	cr_assert_eq(loop_init(&loop, 64, &err), 0, "%s", err.msg);
	memset(&sink, 0, sizeof(sink));
	cr_assert_eq(slirp_net_new(&sn, cfg, &loop, sink_out, &sink, &err),
		     0, "%s", err.msg);
}

static void stop(void)
{
	slirp_net_free(sn);
	sn = NULL;
	loop_fini(&loop);
}

static void start_default(void)
{
	struct slirp_net_config cfg;

	slirp_net_config_default(&cfg);
	start(&cfg);
}

static bool got_frames(void *ctx)
{
	return sink.n >= *(unsigned *)ctx;
}

/* Run the loop until the sink holds n frames or ms pass. */
static void run_for(unsigned n, int ms)
{
	loop_run_until(&loop, got_frames, &n, ms);
}

Test(slirp_hostfwd, parses_qemu_forms)
{
	struct slirp_net_hostfwd f;
	struct mvm_err err = { 0 };
	char text[SLIRP_NET_HOSTFWD_STR];

	cr_assert_eq(slirp_net_hostfwd_parse("tcp:127.0.0.1:8080-:80", &f,
					     &err), 0, "%s", err.msg);
	cr_assert(!f.udp);
	cr_assert_eq(f.host_addr.s_addr, htonl(0x7f000001));
	cr_assert_eq(f.host_port, 8080);
	cr_assert_eq(f.guest_addr.s_addr, 0);
	cr_assert_eq(f.guest_port, 80);
	slirp_net_hostfwd_format(&f, text);
	cr_assert_str_eq(text, "tcp:127.0.0.1:8080-:80");

	cr_assert_eq(slirp_net_hostfwd_parse("udp::5353-10.0.2.15:53", &f,
					     &err), 0, "%s", err.msg);
	cr_assert(f.udp);
	cr_assert_eq(f.host_addr.s_addr, 0);
	cr_assert_eq(f.guest_addr.s_addr, htonl(0x0a00020f));
	slirp_net_hostfwd_format(&f, text);
	cr_assert_str_eq(text, "udp::5353-10.0.2.15:53");

	/* QEMU's empty protocol is tcp. */
	cr_assert_eq(slirp_net_hostfwd_parse("::2222-:22", &f, &err), 0,
		     "%s", err.msg);
	cr_assert(!f.udp);
	cr_assert_eq(f.host_port, 2222);
}

static void refused(const char *rule, const char *says)
{
	struct slirp_net_hostfwd f;
	struct mvm_err err = { 0 };

	cr_assert_eq(slirp_net_hostfwd_parse(rule, &f, &err), -EINVAL,
		     "'%s' was taken", rule);
	cr_assert(strstr(err.msg, says), "'%s': '%s' lacks '%s'", rule,
		  err.msg, says);
}

Test(slirp_hostfwd, refuses_malformed)
{
	refused("sctp:1.2.3.4:80-:80", "protocol 'sctp'");
	refused("tcp:1.2.3.4:80", "expected");
	refused("8080", "expected");
	refused("tcp:1.2.3:80-:80", "bad host address '1.2.3'");
	refused("tcp::0-:80", "bad host port '0'");
	refused("tcp::65536-:80", "bad host port '65536'");
	refused("tcp::80x-:80", "bad host port");
	refused("tcp::80-:", "bad guest port ''");
	refused("tcp::80-10.0.2:22", "bad guest address");
	refused("tcp::80-22", "guest side needs ADDR:PORT");
	refused("tcp:127.0.0.1:8080-10.0.2.15:8080-extra-long-tail", "too long");
}

Test(slirp_net, refuses_bad_config)
{
	struct slirp_net_config cfg;
	struct mvm_err err = { 0 };
	struct slirp_net *s = NULL;

	cr_assert_eq(loop_init(&loop, 16, &err), 0);
	slirp_net_config_default(&cfg);
	inet_pton(AF_INET, "192.168.1.1", &cfg.dns);
	cr_assert_eq(slirp_net_new(&s, &cfg, &loop, sink_out, &sink, &err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "dns"), "%s", err.msg);
	slirp_net_config_default(&cfg);
	cfg.prefix = 31;
	cr_assert_eq(slirp_net_new(&s, &cfg, &loop, sink_out, &sink, &err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "/31"), "%s", err.msg);
	slirp_net_config_default(&cfg);
	cfg.mtu = SLIRP_NET_MTU_MAX + 1; /* libslirp's own limit */
	cr_assert_eq(slirp_net_new(&s, &cfg, &loop, sink_out, &sink, &err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "mtu 65521"), "%s", err.msg);
	loop_fini(&loop);
}

/* Which frame in the sink is an IPv4 UDP one from sport; or -1. */
static int find_udp(uint16_t sport)
{
	for (unsigned i = 0; i < sink.n; i++) {
		const uint8_t *f = sink.frames[i];

		if (sink.len[i] >= 42 && get16(f + 12) == 0x0800 &&
		    f[23] == 17 && get16(f + 34) == sport)
			return (int)i;
	}
	return -1;
}

Test(slirp_net, dhcp_offer_and_arp_reply, .init = start_default,
     .fini = stop)
{
	uint8_t f[600], arp[42] = { 0 };
	const uint8_t *o;
	int i;

	slirp_net_input(sn, f, dhcp_discover(f));
	run_for(1, 1000);
	i = find_udp(67);
	cr_assert_geq(i, 0, "no DHCP answer among %u frames", sink.n);
	o = sink.frames[i] + 42;
	cr_assert_eq(o[0], 2, "not a BOOTREPLY");
	cr_assert_eq(memcmp(o + 16, "\x0a\x00\x02\x0f", 4), 0,
		     "offered %u.%u.%u.%u, not 10.0.2.15", o[16], o[17], o[18],
		     o[19]);
	cr_assert(!memcmp(sink.frames[i], guest_mac, 6) ||
		  !memcmp(sink.frames[i], bcast, 6), "sent to neither the guest nor all");

	/* Who has 10.0.2.2? */
	arp_request(arp);
	sink.n = 0;
	slirp_net_input(sn, arp, sizeof(arp));
	run_for(1, 1000);
	cr_assert_geq(sink.n, 1, "no ARP reply");
	cr_assert_eq(get16(sink.frames[0] + 12), 0x0806);
	cr_assert_eq(get16(sink.frames[0] + 20), 2, "not an ARP reply");
	cr_assert_eq(memcmp(sink.frames[0] + 28, "\x0a\x00\x02\x02", 4), 0);
}

/* A host UDP socket on 127.0.0.1: its fd, and its port in *port. */
static int udp_listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

Test(slirp_net, udp_nat_to_host_and_back, .init = start_default,
     .fini = stop)
{
	uint8_t f[600], gw_mac[6], buf[64];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	uint16_t port;
	int fd = udp_listener(&port), i;
	ssize_t n;

	/* slirp's MAC, from its DHCP answer, as a guest would learn it. */
	slirp_net_input(sn, f, dhcp_discover(f));
	run_for(1, 1000);
	i = find_udp(67);
	cr_assert_geq(i, 0);
	memcpy(gw_mac, sink.frames[i] + 6, 6);

	/* To 10.0.2.2: slirp's address for the host's loopback. */
	slirp_net_input(sn, f, udp_frame(f, "10.0.2.15", "10.0.2.2", 4000,
					 port, "ping", 4, gw_mac));
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
		     &fl);
	cr_assert_eq(n, 4, "the host socket got %zd bytes", n);
	cr_assert_eq(memcmp(buf, "ping", 4), 0);

	/* The answer goes back through the NAT to the guest's port 4000. */
	sink.n = 0;
	cr_assert_eq(sendto(fd, "pong", 4, 0, (struct sockaddr *)&from, fl), 4);
	for (int t = 0; t < 20 && find_udp(port) < 0; t++)
		run_for(sink.n + 1, 100);
	i = find_udp(port);
	cr_assert_geq(i, 0, "no answer reached the guest (%u frames)", sink.n);
	cr_assert_eq(get16(sink.frames[i] + 36), 4000);
	cr_assert_eq(memcmp(sink.frames[i] + 42, "pong", 4), 0);
	close(fd);
}

Test(slirp_net, hostfwd_port_in_use_is_named)
{
	struct slirp_net_config cfg;
	struct mvm_err err = { 0 };
	struct slirp_net *s = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	cr_assert_eq(loop_init(&loop, 16, &err), 0);
	slirp_net_config_default(&cfg);
	cfg.nr_hostfwd = 1;
	cfg.hostfwd[0].host_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg.hostfwd[0].host_port = ntohs(a.sin_port);
	cfg.hostfwd[0].guest_port = 80;
	cr_assert_eq(slirp_net_new(&s, &cfg, &loop, sink_out, &sink, &err),
		     -EADDRINUSE);
	cr_assert(strstr(err.msg, "hostfwd tcp:127.0.0.1:"), "%s", err.msg);
	cr_assert(s == NULL);
	close(fd);
	loop_fini(&loop);
}

/* A host connection to a hostfwd port makes slirp send the guest a SYN. */
Test(slirp_net, hostfwd_connect_reaches_guest)
{
	struct slirp_net_config cfg;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int probe = socket(AF_INET, SOCK_STREAM, 0), c;
	bool syn = false;

	/* A free port: taken, then let go. */
	cr_assert_eq(bind(probe, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(probe, (struct sockaddr *)&a, &l), 0);
	close(probe);
	slirp_net_config_default(&cfg);
	cfg.nr_hostfwd = 1;
	cfg.hostfwd[0].host_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg.hostfwd[0].host_port = ntohs(a.sin_port);
	cfg.hostfwd[0].guest_port = 80;
	start(&cfg);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(c, (struct sockaddr *)&a, sizeof(a));
	/* slirp first asks who has 10.0.2.15, then (after no answer) may
	 * send the SYN to the broadcast address: either shows it heard. */
	for (int t = 0; t < 30 && !syn; t++) {
		run_for(sink.n + 1, 100);
		for (unsigned i = 0; i < sink.n; i++) {
			const uint8_t *f = sink.frames[i];

			if (get16(f + 12) == 0x0806 &&
			    !memcmp(f + 38, "\x0a\x00\x02\x0f", 4))
				syn = true;
			if (get16(f + 12) == 0x0800 && f[23] == 6 &&
			    get16(f + 36) == 80 && (f[47] & 0x02))
				syn = true;
		}
	}
	cr_assert(syn, "no ARP for, or SYN to, 10.0.2.15:80 (%u frames)",
		  sink.n);
	close(c);
	stop();
}

struct svc {
	char got[64];
	size_t n;
};

static ssize_t svc_recv(void *ctx, const void *buf, size_t len)
{
	struct svc *v = ctx;
	size_t take = len < sizeof(v->got) - v->n ? len : sizeof(v->got) - v->n;

	memcpy(v->got + v->n, buf, take);
	v->n += take;
	return (ssize_t)len;
}

static const struct slirp_net_service_ops svc_ops = { .recv = svc_recv };

Test(slirp_net, guest_service_refuses_bad_port, .init = start_default,
     .fini = stop)
{
	struct mvm_err err = { 0 };
	struct in_addr a;
	struct svc v = { 0 };

	inet_pton(AF_INET, "10.0.2.100", &a);
	cr_assert_eq(slirp_net_add_guest_service(sn, a, 0, &svc_ops, &v, &err),
		     -EINVAL);
	cr_assert_eq(slirp_net_add_guest_service(sn, a, 80, &svc_ops, &v, &err),
		     0, "%s", err.msg);
	/* No connection yet: nothing is taken. */
	cr_assert_eq(slirp_net_service_send(sn, a, 80, "x", 1), 0);
}

/* A TCP segment from 10.0.2.15:5000 to dst:dport; its frame length. */
static size_t tcp_frame(uint8_t *f, const uint8_t *dst_mac, const char *dst,
			uint16_t dport, uint32_t seq, uint32_t ack,
			uint8_t flags, const void *data, size_t n)
{
	uint8_t *ip = f + 14, *tcp = ip + 20, pseudo[12];
	uint32_t src, d, sum = 0;

	memset(f, 0, 14 + 40 + n);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(40 + n));
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, "10.0.2.15", &src);
	inet_pton(AF_INET, dst, &d);
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, csum(ip, 20, 0));
	put16(tcp, 5000);
	put16(tcp + 2, dport);
	put16(tcp + 4, (uint16_t)(seq >> 16));
	put16(tcp + 6, (uint16_t)seq);
	put16(tcp + 8, (uint16_t)(ack >> 16));
	put16(tcp + 10, (uint16_t)ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	if (n)
		memcpy(tcp + 20, data, n);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)(20 + n));
	for (int i = 0; i < 12; i += 2)
		sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	put16(tcp + 16, csum(tcp, 20 + n, sum));
	return 14 + 40 + n;
}

/* The last TCP segment to the guest's port 5000 with all of flags. */
static int find_tcp(uint8_t flags)
{
	int hit = -1;

	for (unsigned i = 0; i < sink.n; i++) {
		const uint8_t *f = sink.frames[i];

		if (sink.len[i] >= 54 && get16(f + 12) == 0x0800 &&
		    f[23] == 6 && get16(f + 36) == 5000 &&
		    (f[47] & flags) == flags)
			hit = (int)i;
	}
	return hit;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* A guest connects to a service, sends a request, reads the answer. */
Test(slirp_net, guest_service_bytes_both_ways, .init = start_default,
     .fini = stop)
{
	struct mvm_err err = { 0 };
	struct svc v = { 0 };
	struct in_addr a;
	uint8_t f[200], arp[42], gw[6];
	uint32_t their;
	int i;

	inet_pton(AF_INET, "10.0.2.100", &a);
	cr_assert_eq(slirp_net_add_guest_service(sn, a, 80, &svc_ops, &v, &err),
		     0, "%s", err.msg);
	arp_request(arp);
	slirp_net_input(sn, arp, sizeof(arp));
	run_for(1, 1000);
	cr_assert_geq(sink.n, 1, "no ARP reply");
	memcpy(gw, sink.frames[0] + 22, 6);

	sink.n = 0;
	slirp_net_input(sn, f, tcp_frame(f, gw, "10.0.2.100", 80, 1000, 0,
					 0x02, NULL, 0));
	run_for(1, 1000);
	i = find_tcp(0x12);
	cr_assert_geq(i, 0, "no SYN-ACK from the service (%u frames)", sink.n);
	cr_assert_eq(get16(sink.frames[i] + 34), 80);
	their = get32(sink.frames[i] + 38);

	sink.n = 0;
	slirp_net_input(sn, f, tcp_frame(f, gw, "10.0.2.100", 80, 1001,
					 their + 1, 0x18, "GET / HTTP/1.0\r\n", 16));
	run_for(1, 300);
	cr_assert_eq(v.n, 16, "the service got %zu bytes", v.n);
	cr_assert_eq(memcmp(v.got, "GET / HTTP/1.0\r\n", 16), 0);

	sink.n = 0;
	cr_assert_eq(slirp_net_service_send(sn, a, 80, "HTTP/1.0 200 OK\r\n",
					    17), 17);
	run_for(1, 1000);
	for (i = 0; i < (int)sink.n; i++)
		if (sink.len[i] >= 54 + 17 &&
		    !memcmp(sink.frames[i] + 54, "HTTP/1.0 200 OK\r\n", 17))
			break;
	cr_assert_lt(i, (int)sink.n, "the answer never reached the guest "
		     "(%u frames)", sink.n);
}

/*
 * Whether a UDP datagram of n bytes from the guest reaches a host socket
 * through the stack: one Ethernet frame, not fragmented.
 */
static bool big_udp_reaches_host(size_t n)
{
	static uint8_t f[14 + 28 + 9000], buf[9000];
	uint8_t gw_mac[6];
	uint16_t port;
	int fd = udp_listener(&port), i;
	ssize_t got;

	slirp_net_input(sn, f, dhcp_discover(f));
	run_for(1, 1000);
	i = find_udp(67);
	cr_assert_geq(i, 0);
	memcpy(gw_mac, sink.frames[i] + 6, 6);
	memset(buf, 'x', n);
	slirp_net_input(sn, f, udp_frame(f, "10.0.2.15", "10.0.2.2", 4000,
					 port, buf, n, gw_mac));
	got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	close(fd);
	return got == (ssize_t)n;
}

static void start_mtu_9000(void)
{
	struct slirp_net_config cfg;

	slirp_net_config_default(&cfg);
	cfg.mtu = 9000;
	start(&cfg);
}

/* The link's MTU is what the stack takes: 8028 bytes of IP pass at 9000. */
Test(slirp_net, takes_frames_up_to_its_mtu, .init = start_mtu_9000,
     .fini = stop)
{
	cr_assert(big_udp_reaches_host(8000));
}

Test(slirp_net, drops_frames_past_the_default_mtu, .init = start_default,
     .fini = stop)
{
	cr_assert(big_udp_reaches_host(1400), "a 1500-byte link's datagram");
	cr_assert_not(big_udp_reaches_host(8000));
}
