/*
 * MMDS from the guest, in raw frames: ARP for the MMDS address, one TCP
 * connection to its port 80 (kept alive), HTTP requests on it, and each
 * answer printed as "mmds answer STATUS BODY" (the body's newlines as
 * '|') for the host test to compare. v2=1 first asks for a session token
 * and shows that a GET without it is refused. reqs=N then times N more
 * GETs, request sent to answer complete, and prints their p50 and p99
 * (the TSC, calibrated on the PIT). Ring-0 code is emulated, and slow, on
 * some hosts (see t_bench_net.c): the timed requests run in ring 3 where
 * the kernel can (the 64-bit build), and every wait here spins on the TSC
 * rather than reading the PIT, a port (a trap from ring 3).
 *
 * The guest's own address is off MMDS's network (10.0.0.2 unless ip=
 * says), as a guest on a TAP network's would be: MMDS must answer it.
 *
 * second=1 then holds two connections at once: half a request on the
 * first, a whole one on a second connection (the next port), and the
 * rest of the first's; each answer printed as "mmds answer" is.
 *
 * poll=1 first waits for data: a round (ARP, connect, GET, reset) every
 * 100 ms until an answer is 200, printing "mmds empty STATUS" at the
 * first answer that is not. A host test snapshots the VM meanwhile, and
 * fills the restored VM's store.
 */
#include "../lib/cmdline.h"
#include "../lib/io.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/user.h"
#include "tests.h"

#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define HDR 12
#define ETH 14
#define RXQ 0
#define TXQ 1
#define NRX 32
#define RX_BUF 2048
#define RESP_MAX 4096
#define REQS_MAX 4096
#define MY_PORT 40000

static struct vdev d;
static uint8_t mac[6], mmds_mac[6];
static uint8_t *rx_buf[256];
static uint8_t *tx_buf;
static uint32_t my_ip, mmds_ip;
static uint32_t snd_nxt, rcv_nxt;
static uint16_t my_port = MY_PORT; /* the connection's, for second=1 */
static uint32_t per_us; /* TSC cycles per microsecond */
static uint64_t wait_cycles; /* how long a wait for a frame lasts: 5 s */
static uint32_t lat_ns[REQS_MAX];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint32_t sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (; n > 1; p += 2, n -= 2)
		s += get16(p);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * A receive buffer back on the ring. The device is told (an exit) only
 * every 8th time: it has the other buffers meanwhile.
 */
static void post_rx(uint8_t *b)
{
	static unsigned posted;
	struct vq *q = &d.q[RXQ];
	struct vbuf v = { (uintptr_t)b, RX_BUF, true };
	uint16_t head = vq_add(q, &v, 1);

	rx_buf[head] = b;
	if (++posted % 8 == 0 || posted <= NRX) {
		vq_kick(q, head);
		return;
	}
	q->avail[2 + q->avail_idx % q->size] = head;
	__asm__ volatile("" ::: "memory");
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
}

static bool wait_used(struct vq *q, struct vused *out);

/* One frame (Ethernet header onward, in tx_buf + HDR), padded. */
static bool xmit(size_t len)
{
	struct vused u;
	struct vbuf v;

	memset(tx_buf, 0, HDR);
	if (len < 60) {
		memset(tx_buf + HDR + len, 0, 60 - len);
		len = 60;
	}
	v = (struct vbuf){ (uintptr_t)tx_buf, (uint32_t)(HDR + len), false };
	vq_kick(&d.q[TXQ], vq_add(&d.q[TXQ], &v, 1));
	return wait_used(&d.q[TXQ], &u);
}

static void eth_head(uint8_t *f, const uint8_t *to, uint16_t type)
{
	memcpy(f, to, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
}

static bool send_arp(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *f = tx_buf + HDR, *a = f + ETH;

	eth_head(f, bcast, 0x0806);
	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1); /* request */
	memcpy(a + 8, mac, 6);
	put32(a + 14, my_ip);
	memset(a + 18, 0, 6);
	put32(a + 24, mmds_ip);
	return xmit(ETH + 28);
}

static bool send_tcp(uint8_t flags, const char *data, size_t n)
{
	uint8_t *f = tx_buf + HDR, *ip = f + ETH, *t = ip + 20;
	uint32_t s;

	eth_head(f, mmds_mac, 0x0800);
	memset(ip, 0, 40);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(40 + n));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, my_ip);
	put32(ip + 16, mmds_ip);
	put16(ip + 10, fold(sum(ip, 20, 0)));
	put16(t, my_port);
	put16(t + 2, 80);
	put32(t + 4, snd_nxt);
	put32(t + 8, rcv_nxt);
	t[12] = 5 << 4;
	t[13] = flags;
	put16(t + 14, 0xffff);
	memcpy(t + 20, data, n);
	/* The pseudo-header: addresses, protocol, TCP length. */
	s = sum(ip + 12, 8, 6 + 20 + (uint32_t)n);
	put16(t + 16, fold(sum(t, 20 + n, s)));
	return xmit(ETH + 40 + n);
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

/* A segment from MMDS: its flags, seq, payload. */
struct seg {
	uint8_t flags;
	uint32_t seq, ack;
	const uint8_t *data;
	size_t len;
};

/* The next used receive buffer, or false after wait_cycles. */
static bool wait_used(struct vq *q, struct vused *out)
{
	uint64_t end = rdtsc() + wait_cycles;
	const volatile struct vused *e;

	while (q->used[1] == q->last_used) {
		if (rdtsc() > end)
			return false;
		cpu_pause();
	}
	__asm__ volatile("" ::: "memory");
	e = (const volatile struct vused *)&q->used[2] +
	    q->last_used % q->size;
	out->id = e->id;
	out->len = e->len;
	q->last_used++;
	return true;
}

/*
 * The next frame for us: an ARP reply from MMDS (its MAC is kept) or a
 * TCP segment from MMDS's port 80 (into *sg, true). Others are dropped.
 */
static bool next_frame(struct seg *sg, bool *arp)
{
	for (int tries = 0; tries < 64; tries++) {
		struct vused u;
		uint8_t *b, *f, *ip, *t;
		bool got = false;

		if (!wait_used(&d.q[RXQ], &u) || u.id >= 256 ||
		    !rx_buf[u.id])
			return false;
		b = rx_buf[u.id];
		f = b + HDR;
		ip = f + ETH;
		if (u.len >= HDR + ETH + 28 && get16(f + 12) == 0x0806 &&
		    get16(ip + 6) == 2 && get32(ip + 14) == mmds_ip) {
			memcpy(mmds_mac, ip + 8, 6);
			*arp = got = true;
		} else if (u.len >= HDR + ETH + 40 && get16(f + 12) == 0x0800 &&
			   ip[9] == 6 && get32(ip + 12) == mmds_ip &&
			   get32(ip + 16) == my_ip) {
			size_t ihl = (size_t)(ip[0] & 15) * 4;
			size_t tot = get16(ip + 2), thl;

			t = ip + ihl;
			thl = (size_t)(t[12] >> 4) * 4;
			if (get16(t) == 80 && get16(t + 2) == my_port &&
			    ihl + thl <= tot && HDR + ETH + tot <= u.len) {
				static uint8_t copy[RX_BUF];

				sg->flags = t[13];
				sg->seq = get32(t + 4);
				sg->ack = get32(t + 8);
				sg->len = tot - ihl - thl;
				memcpy(copy, t + thl, sg->len);
				sg->data = copy;
				*arp = false;
				got = true;
			}
		}
		post_rx(b);
		if (got)
			return true;
	}
	return false;
}

static bool resolve(void)
{
	struct seg sg;
	bool arp = false;

	if (!send_arp())
		return false;
	while (next_frame(&sg, &arp))
		if (arp)
			return true;
	return false;
}

static bool connect(void)
{
	struct seg sg;
	bool arp;

	snd_nxt = 0x1000;
	rcv_nxt = 0;
	if (!send_tcp(TH_SYN, "", 0))
		return false;
	while (next_frame(&sg, &arp)) {
		if (arp)
			continue;
		if ((sg.flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
		    sg.ack == snd_nxt + 1) {
			snd_nxt++;
			rcv_nxt = sg.seq + 1;
			return send_tcp(TH_ACK, "", 0);
		}
		if (sg.flags & TH_RST)
			return false;
	}
	return false;
}

/* Where an HTTP answer in buf ends, or 0 while it is incomplete. */
static size_t answer_end(const char *buf, size_t n)
{
	size_t head = 0, clen = 0;
	static const char cl[] = "Content-Length: ";

	for (size_t i = 0; i + 3 < n; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			head = i + 4;
			break;
		}
	if (!head)
		return 0;
	for (size_t i = 0; i + sizeof(cl) - 1 < head; i++)
		if (!memcmp(buf + i, cl, sizeof(cl) - 1)) {
			for (i += sizeof(cl) - 1; buf[i] >= '0' && buf[i] <= '9';
			     i++)
				clen = clen * 10 + (size_t)(buf[i] - '0');
			break;
		}
	return head + clen <= n ? head + clen : 0;
}

/* One request on the connection; the whole answer into resp. */
static size_t request(const char *req, char *resp)
{
	size_t got = 0, end;
	struct seg sg;
	bool arp;

	if (!send_tcp(TH_PSH | TH_ACK, req, strlen(req)))
		return 0;
	snd_nxt += (uint32_t)strlen(req);
	while (next_frame(&sg, &arp)) {
		if (arp)
			continue;
		if (sg.flags & TH_RST)
			return 0;
		if (!sg.len)
			continue;
		if (sg.seq != rcv_nxt || got + sg.len > RESP_MAX) {
			send_tcp(TH_ACK, "", 0); /* where we are */
			continue;
		}
		memcpy(resp + got, sg.data, sg.len);
		got += sg.len;
		rcv_nxt += (uint32_t)sg.len;
		send_tcp(TH_ACK, "", 0);
		end = answer_end(resp, got);
		if (end) {
			resp[end] = 0;
			return end;
		}
	}
	return 0;
}

/* "mmds answer 200 body|lines"; the status, or 0. */
static int show(const char *what, const char *req, char *resp)
{
	size_t n = request(req, resp);
	const char *body;
	int status = 0;

	if (!n) {
		fail(what, "no answer");
		return 0;
	}
	for (const char *p = resp + 9; *p >= '0' && *p <= '9'; p++)
		status = status * 10 + (*p - '0');
	body = resp;
	for (size_t i = 0; i + 3 < n; i++)
		if (!memcmp(resp + i, "\r\n\r\n", 4)) {
			body = resp + i + 4;
			break;
		}
	for (char *p = (char *)body; *p; p++)
		if (*p == '\n')
			*p = '|';
	kprintf("mmds answer %d %s\n", status, body);
	return status;
}

/* The token in an answer to PUT /latest/api/token, into tok. */
static bool token_of(const char *resp, char *tok, size_t cap)
{
	const char *b = resp;
	size_t n;

	while (*b && memcmp(b, "\r\n\r\n", 4))
		b++;
	if (!*b)
		return false;
	b += 4;
	n = strlen(b);
	if (!n || n >= cap)
		return false;
	memcpy(tok, b, n + 1);
	return true;
}

/*
 * poll=1's wait. Each round ARPs again: a restored VM's new stack knows
 * the guest's MAC only from that (this guest answers no ARP request).
 * A connection cut by a snapshot's load is reset, or times out (5 s).
 */
static bool wait_for_data(char *resp)
{
	static const char get[] = "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
				  "\r\n";
	bool said = false;

	for (unsigned round = 0; round < 1200; round++) {
		size_t n = 0;

		if (resolve() && connect()) {
			n = request(get, resp);
			send_tcp(TH_RST | TH_ACK, "", 0);
		}
		if (n && !memcmp(resp, "HTTP/1.1 200 ", 13))
			return true;
		if (n && !said) {
			resp[12] = 0;
			kprintf("mmds empty %s\n", resp + 9);
			said = true;
		}
		delay_us(100000);
	}
	return false;
}

static void calibrate(void)
{
	uint64_t t0 = rdtsc();

	delay_us(16384);
	per_us = (uint32_t)((rdtsc() - t0) >> 14);
	if (!per_us)
		per_us = 1;
	wait_cycles = (uint64_t)per_us * 5000000u;
}

static uint32_t to_ns(uint64_t cycles)
{
	uint32_t c;

	if (cycles >> 32)
		return 0xffffffffu;
	c = (uint32_t)cycles;
	return c < 4000000u ? c * 1000u / per_us : c / per_us * 1000u;
}

static void sort(uint32_t *a, unsigned n)
{
	for (unsigned i = 1; i < n; i++) {
		uint32_t v = a[i];
		unsigned j = i;

		for (; j && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

struct bench_args {
	unsigned reqs;
	const char *req;
	char *resp;
};

/* Runs in ring 3 where the kernel can (user.h); prints once, at the end. */
static void bench(void *arg)
{
	const struct bench_args *a = arg;
	unsigned reqs = a->reqs, ok = 0;
	const char *req = a->req;
	char *resp = a->resp;

	for (unsigned i = 0; i < reqs; i++) {
		uint64_t t0 = rdtsc();

		if (!request(req, resp) || memcmp(resp, "HTTP/1.1 200 ", 13))
			break;
		lat_ns[ok++] = to_ns(rdtsc() - t0);
	}
	check("mmds bench answers", ok == reqs, "%u of %u", ok, reqs);
	if (!ok)
		return;
	sort(lat_ns, ok);
	kprintf("mmds latency ring=%u n=%u p50_ns=%u p99_ns=%u max_ns=%u\n",
		user_mode() ? 3 : 0, ok, lat_ns[ok / 2],
		lat_ns[(ok * 99) / 100], lat_ns[ok - 1]);
	send_tcp(TH_RST | TH_ACK, "", 0);
}

static bool open_nic(const struct bootinfo *bi)
{
	uint64_t want = ring_features(bi) | VBIT(NET_F_MAC) |
			VBIT(NET_F_MRG_RXBUF);
	uint8_t *pool = palloc_pages(NRX * RX_BUF / PAGE_SIZE);

	tx_buf = palloc_page();
	if (!vdev_open(&d, VIRTIO_ID_NET, 0) || !vdev_negotiate(&d, want) ||
	    !vdev_queue(&d, RXQ, 0, 0) || !vdev_queue(&d, TXQ, 0, 1))
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = vdev_cfg8(&d, (unsigned)i);
	for (int i = 0; i < NRX; i++)
		post_rx(pool + i * RX_BUF);
	vdev_driver_ok(&d);
	return true;
}

/*
 * Two connections at once: req split on the first (open now), whole on
 * a second; the second's answer, then the first's. A server that mixed
 * the two connections' bytes would answer neither with a 200.
 */
static void two_at_once(const char *req, char *resp)
{
	size_t half = strlen(req) / 2;
	uint32_t snd, rcv;
	int first, second;

	if (!send_tcp(TH_PSH | TH_ACK, req, half)) {
		fail("mmds two connections", "cannot send");
		return;
	}
	snd_nxt += (uint32_t)half;
	snd = snd_nxt;
	rcv = rcv_nxt;
	my_port = MY_PORT + 1;
	if (!check("mmds second connect", connect(), "no SYN-ACK"))
		return;
	second = show("mmds second", req, resp);
	send_tcp(TH_RST | TH_ACK, "", 0);
	my_port = MY_PORT;
	snd_nxt = snd;
	rcv_nxt = rcv;
	first = show("mmds first", req + half, resp);
	check("mmds two connections", first == 200 && second == 200,
	      "answers %d and %d", first, second);
}

void test_mmds(const struct bootinfo *bi)
{
	static char resp[RESP_MAX + 1], req[512], tok[128];
	static struct bench_args ba;
	bool v2 = cmdline_u64_or(bi->cmdline, "v2", 0);
	unsigned reqs = (unsigned)cmdline_u64_or(bi->cmdline, "reqs", 0);

	my_ip = (uint32_t)cmdline_u64_or(bi->cmdline, "ip", 0x0a000002);
	mmds_ip = (uint32_t)cmdline_u64_or(bi->cmdline, "mmds_ip", 0xa9fea9fe);
	if (reqs > REQS_MAX)
		reqs = REQS_MAX;
	calibrate();
	if (!open_nic(bi)) {
		fail("mmds nic", "no virtio-net device or features refused");
		return;
	}
	if (cmdline_u64_or(bi->cmdline, "poll", 0) &&
	    !check("mmds data", wait_for_data(resp), "never a 200"))
		return;
	if (!check("mmds arp", resolve(), "no ARP reply for the address"))
		return;
	kprintf("mmds mac %02x:%02x:%02x:%02x:%02x:%02x\n", mmds_mac[0],
		mmds_mac[1], mmds_mac[2], mmds_mac[3], mmds_mac[4],
		mmds_mac[5]);
	if (!check("mmds connect", connect(), "no SYN-ACK from port 80"))
		return;
	tok[0] = 0;
	if (v2) {
		show("mmds no token", "GET /latest/meta-data/ HTTP/1.1\r\n\r\n",
		     resp);
		if (show("mmds token", "PUT /latest/api/token HTTP/1.1\r\n"
			 "X-metadata-token-ttl-seconds: 60\r\n\r\n", resp) != 200 ||
		    !token_of(resp, tok, sizeof(tok)))
			fail("mmds token", "none");
	}
	ksnprintf(req, sizeof(req), "GET /latest/meta-data/ HTTP/1.1\r\n"
		  "%s%s%s\r\n", tok[0] ? "X-metadata-token: " : "", tok,
		  tok[0] ? "\r\n" : "");
	check("mmds text", show("mmds text", req, resp) == 200, "not 200");
	ksnprintf(req, sizeof(req), "GET /latest/meta-data/ami-id HTTP/1.1\r\n"
		  "Accept: application/json\r\n%s%s%s\r\n",
		  tok[0] ? "X-metadata-token: " : "", tok, tok[0] ? "\r\n" : "");
	check("mmds json", show("mmds json", req, resp) == 200, "not 200");
	show("mmds missing", "GET /nope HTTP/1.1\r\n\r\n", resp);
	if (cmdline_u64_or(bi->cmdline, "second", 0))
		two_at_once(req, resp);
	if (!reqs) {
		send_tcp(TH_RST | TH_ACK, "", 0);
		return;
	}
	ba = (struct bench_args){ reqs, req, resp };
	user_run(bi, bench, &ba); /* does not return */
}
