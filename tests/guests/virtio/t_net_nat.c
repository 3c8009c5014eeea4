/*
 * virtio-net on the user-mode NAT backend, from raw frames: a DHCP
 * DISCOVER must bring an OFFER of 10.0.2.15, an ARP request for the
 * gateway 10.0.2.2 a reply, and a UDP datagram to 10.0.2.2:port= (the
 * host's loopback, through the NAT; dst=A.B.C.D another address) the host
 * test's answer back from that port. The host test answers
 * "mvm-nat-ping" with "mvm-nat-pong"; pings=N makes N round trips, one
 * after the other (a latency measure of the NAT's path). The device must
 * offer VIRTIO_NET_F_MTU with the MTU mtu= says (default 1500).
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#define NET_F_MTU 3
#define NET_F_MAC 5
#define CFG_MTU 10 /* virtio_net_config.mtu */
#define NET_F_MRG_RXBUF 15
#define HDR 12
#define RXQ 0
#define TXQ 1
#define NRX 16
#define RX_BUF 2048

static struct vdev d;
static uint8_t mac[6], gw_mac[6];
static uint8_t *rx_buf[256];
static uint8_t *tx_buf;
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t guest_ip[4] = { 10, 0, 2, 15 };
static const uint8_t gw_ip[4] = { 10, 0, 2, 2 };

static void post_rx(uint8_t *b)
{
	struct vbuf v = { (uintptr_t)b, RX_BUF, true };
	uint16_t head = vq_add(&d.q[RXQ], &v, 1);

	rx_buf[head] = b;
	vq_kick(&d.q[RXQ], head);
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

static uint16_t ip_csum(const uint8_t *p, unsigned n)
{
	uint32_t sum = 0;

	for (unsigned i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Send len bytes of frame (Ethernet on) from tx_buf + HDR. */
static bool send_frame(unsigned len)
{
	struct vbuf v;

	memset(tx_buf, 0, HDR);
	if (len < 60) {
		memset(tx_buf + HDR + len, 0, 60 - len);
		len = 60;
	}
	v = (struct vbuf){ (uintptr_t)tx_buf, HDR + len, false };
	return vq_call(&d.q[TXQ], &v, 1) >= 0;
}

/* UDP over IPv4 (UDP checksum 0: none, as IPv4 allows). */
static bool send_udp(const uint8_t *dst_mac, const uint8_t *src,
		     const uint8_t *dst, uint16_t sport, uint16_t dport,
		     const void *data, unsigned n)
{
	uint8_t *f = tx_buf + HDR, *ip = f + 14, *udp = ip + 20;

	memset(f, 0, 14 + 28);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + n));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	put16(ip + 10, ip_csum(ip, 20));
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + n));
	memcpy(udp + 8, data, n);
	return send_frame(14 + 28 + n);
}

typedef bool (*frame_fn)(const uint8_t *f, unsigned len, void *ctx);

/* Receive frames until want() takes one; false after 64 or a timeout. */
static bool recv_until(frame_fn want, void *ctx)
{
	for (int tries = 0; tries < 64; tries++) {
		struct vused u;
		uint8_t *b;
		bool hit;

		if (!vq_wait(&d.q[RXQ], &u) || u.id >= 256 || !rx_buf[u.id])
			return false;
		b = rx_buf[u.id];
		hit = u.len > HDR + 14 && want(b + HDR, u.len - HDR, ctx);
		post_rx(b);
		if (hit)
			return true;
	}
	return false;
}

static bool is_udp_from(const uint8_t *f, unsigned len, uint16_t sport)
{
	return len >= 42 && get16(f + 12) == 0x0800 && f[23] == 17 &&
	       get16(f + 34) == sport;
}

static bool dhcp_offer(const uint8_t *f, unsigned len, void *ctx)
{
	uint8_t *yiaddr = ctx;

	if (!is_udp_from(f, len, 67) || len < 42 + 240 || f[42] != 2)
		return false;
	memcpy(yiaddr, f + 42 + 16, 4);
	memcpy(gw_mac, f + 6, 6);
	return true;
}

static void dhcp(void)
{
	static const uint8_t zero[4], all[4] = { 255, 255, 255, 255 };
	uint8_t b[300] = { 0 }, yi[4] = { 0 };

	b[0] = 1;
	b[1] = 1;
	b[2] = 6;
	b[4] = 0x4d; /* xid */
	memcpy(b + 28, mac, 6);
	b[236] = 99;
	b[237] = 130;
	b[238] = 83;
	b[239] = 99;
	b[240] = 53; /* DHCP message type: DISCOVER */
	b[241] = 1;
	b[242] = 1;
	b[243] = 255;
	if (!send_udp(bcast, zero, all, 68, 67, b, sizeof(b))) {
		fail("nat dhcp discover", "not sent");
		return;
	}
	check("nat dhcp offer", recv_until(dhcp_offer, yi) &&
	      !memcmp(yi, guest_ip, 4), "offered %u.%u.%u.%u", yi[0], yi[1],
	      yi[2], yi[3]);
}

static bool arp_reply(const uint8_t *f, unsigned len, void *ctx)
{
	(void)ctx;
	if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 2 ||
	    memcmp(f + 28, gw_ip, 4))
		return false;
	memcpy(gw_mac, f + 22, 6);
	return true;
}

static void arp_gateway(void)
{
	uint8_t *f = tx_buf + HDR;

	memset(f, 0, 42);
	memcpy(f, bcast, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, guest_ip, 4);
	memcpy(f + 38, gw_ip, 4);
	check("nat arp gateway", send_frame(42) && recv_until(arp_reply, NULL),
	      "no ARP reply for 10.0.2.2");
}

struct pong {
	const uint8_t *from;
	uint16_t port;
	bool ok;
};

static bool udp_pong(const uint8_t *f, unsigned len, void *ctx)
{
	struct pong *p = ctx;

	if (!is_udp_from(f, len, p->port) || get16(f + 36) != 4000 ||
	    memcmp(f + 26, p->from, 4))
		return false;
	p->ok = len >= 42 + 12 && !memcmp(f + 42, "mvm-nat-pong", 12);
	return true;
}

/* "A.B.C.D" into ip; false when malformed. */
static bool parse_ip(const char *s, uint8_t ip[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, n = 0;

		while (*s >= '0' && *s <= '9' && n < 3) {
			v = v * 10 + (unsigned)(*s++ - '0');
			n++;
		}
		if (!n || v > 255 || *s != (i < 3 ? '.' : '\0'))
			return false;
		ip[i] = (uint8_t)v;
		s++;
	}
	return true;
}

/* pings round trips, one at a time: each answer before the next ping. */
static void udp_echo(const uint8_t *dst, uint16_t port, uint64_t pings)
{
	uint64_t i;

	for (i = 0; i < pings; i++) {
		struct pong p = { .from = dst, .port = port };

		if (!send_udp(gw_mac, guest_ip, dst, 4000, port,
			      "mvm-nat-ping", 12)) {
			fail("nat udp send", "not sent");
			return;
		}
		if (!recv_until(udp_pong, &p) || !p.ok)
			break;
	}
	check("nat udp echo", i == pings,
	      "no mvm-nat-pong from %u.%u.%u.%u:%u (ping %llu of %llu)",
	      dst[0], dst[1], dst[2], dst[3], port,
	      (unsigned long long)i + 1, (unsigned long long)pings);
}

/* The link's MTU, as a driver that takes VIRTIO_NET_F_MTU reads it. */
static void check_mtu(const struct bootinfo *bi)
{
	uint64_t want = cmdline_u64_or(bi->cmdline, "mtu", 1500);
	bool offered = vdev_device_features(&d) & VBIT(NET_F_MTU);
	uint16_t mtu = offered ? vdev_cfg16(&d, CFG_MTU) : 0;

	check("nat mtu", offered && mtu == want, "VIRTIO_NET_F_MTU %s, mtu "
	      "%u, not %llu", offered ? "offered" : "not offered", mtu,
	      (unsigned long long)want);
}

void test_net_nat(const struct bootinfo *bi)
{
	uint64_t want = ring_features(bi) | VBIT(NET_F_MAC) |
			VBIT(NET_F_MRG_RXBUF);
	uint16_t port = (uint16_t)cmdline_u64_or(bi->cmdline, "port", 0);
	uint64_t pings = cmdline_u64_or(bi->cmdline, "pings", 1);
	uint8_t *pool = palloc_pages(NRX * RX_BUF / PAGE_SIZE);
	uint8_t dst[4];
	char text[20];

	tx_buf = palloc_page();
	if (!vdev_open(&d, VIRTIO_ID_NET, 0) || !vdev_negotiate(&d, want) ||
	    !vdev_queue(&d, RXQ, 0, 0) || !vdev_queue(&d, TXQ, 0, 1)) {
		fail("nat open", "no virtio-net device, or it refused us");
		return;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = vdev_cfg8(&d, (unsigned)i);
	check_mtu(bi);
	for (int i = 0; i < NRX; i++)
		post_rx(pool + i * RX_BUF);
	vdev_driver_ok(&d);
	dhcp();
	arp_gateway();
	memcpy(dst, gw_ip, 4);
	if (cmdline_str(bi->cmdline, "dst", text, sizeof(text)) == 1 &&
	    !parse_ip(text, dst))
		fail("nat dst", "'%s' is not an IPv4 address", text);
	else if (port)
		udp_echo(dst, port, pings ? pings : 1);
	else
		fail("nat udp echo", "no port= on the command line");
	vdev_reset(&d);
}
