/*
 * The vsock benchmark's guest side (bench/vsock), with the test driver
 * (vsock_drv.h): three phases, each between "bench start NAME" and
 * "bench done NAME ..." lines the host timestamps.
 *   h2g  the host's CONNECT 60, then mib=M MiB it sends; the guest takes
 *        each packet at once and gives credit back at half its buffer
 *   g2h  the guest connects to the host's port 61 and sends M MiB in
 *        32 KiB packets, within the host's credit, then SHUTDOWN
 *   rtt  the host's CONNECT 62, then rtt=N messages of 64 bytes, each
 *        sent back as it comes
 * Packets are polled; the phases run in ring 3 where the kernel can (a
 * software KVM emulates ring 0: see user.h).
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/user.h"
#include "tests.h"
#include "vsock_drv.h"

#define BENCH_BUF (1u << 20) /* the guest's buf_alloc */
#define TX_PAGES 8           /* a 32 KiB packet */

static uint64_t cid;

static bool send(uint32_t src, uint32_t dst, uint16_t op, uint32_t flags,
		 uint32_t fwd)
{
	return vsk_send_raw(cid, src, dst, op, flags, NULL, 0, BENCH_BUF, fwd);
}

/* The host's REQUEST for port, answered. Its port, or 0. */
static uint32_t accept(uint32_t port)
{
	struct hdr h;

	/* What is left of the phase before (its credit, its RST) first. */
	while (vsk_recv(&h, 60000)) {
		if (h.op != OP_REQUEST || h.dst_port != port)
			continue;
		send(port, h.src_port, OP_RESPONSE, 0, 0);
		return h.src_port;
	}
	return 0;
}

static void h2g(void)
{
	uint32_t got = 0, fwd = 0, hp;
	struct hdr h;

	kprintf("bench start h2g\n");
	hp = accept(60);
	while (hp && vsk_recv(&h, 10000)) {
		if (h.op == OP_CREDIT_REQUEST) {
			send(60, hp, OP_CREDIT_UPDATE, 0, fwd);
			continue;
		}
		if (h.op != OP_RW)
			break;
		got += h.len;
		if (got - fwd >= BENCH_BUF / 2) {
			fwd = got;
			send(60, hp, OP_CREDIT_UPDATE, 0, fwd);
		}
	}
	kprintf("bench done h2g bytes=%u last_op=%u\n", got, h.op);
	if (hp)
		send(60, hp, OP_RST, 0, got);
}

/* g2h's packet: allocated in ring 0, before the phases. */
static uint8_t *pages[TX_PAGES], *hdr_page;

/* A packet of len payload bytes from pages, header first. */
static bool send_data(uint32_t len, uint32_t fwd)
{
	struct hdr h = { cid, HOST_CID, 61, 61, len, 1, OP_RW, 0, BENCH_BUF,
			 fwd };
	struct vbuf b[1 + TX_PAGES];
	unsigned n = 1;

	memcpy(hdr_page, &h, sizeof(h));
	b[0] = (struct vbuf){ (uintptr_t)hdr_page, sizeof(h), false };
	for (uint32_t off = 0; off < len; off += 4096, n++)
		b[n] = (struct vbuf){ (uintptr_t)pages[n - 1],
				      len - off < 4096 ? len - off : 4096,
				      false };
	return vsk_call(b, n);
}

static void g2h(uint32_t mib)
{
	uint64_t total = (uint64_t)mib << 20, sent = 0;
	uint32_t peer_buf = 0, peer_fwd = 0;
	const uint32_t pkt = TX_PAGES * 4096;
	struct hdr h;
	bool ok;

	kprintf("bench start g2h\n");
	send(61, 61, OP_REQUEST, 0, 0);
	ok = vsk_recv(&h, 10000) && h.op == OP_RESPONSE;
	peer_buf = h.buf_alloc;
	peer_fwd = h.fwd_cnt;
	while (ok && sent < total) {
		/* Within the host's credit, else wait for its update. */
		while (ok && (uint32_t)sent - peer_fwd + pkt > peer_buf) {
			ok = vsk_recv(&h, 10000) && h.op != OP_RST;
			peer_buf = h.buf_alloc;
			peer_fwd = h.fwd_cnt;
		}
		ok = ok && send_data(pkt, 0);
		sent += pkt;
	}
	send(61, 61, OP_SHUTDOWN, 2, 0);
	kprintf("bench done g2h bytes=%llu ok=%d\n", (unsigned long long)sent,
		ok);
	/* The host reads it all, closes: SHUTDOWN to us, then our RST. */
	while (vsk_recv(&h, 10000) && h.op != OP_SHUTDOWN && h.op != OP_RST)
		;
	send(61, 61, OP_RST, 0, 0);
}

static void rtt(uint32_t n)
{
	uint32_t i = 0, hp, got = 0;
	struct hdr h;

	kprintf("bench start rtt\n");
	hp = accept(62);
	while (hp && i < n && vsk_recv(&h, 10000)) {
		if (h.op != OP_RW)
			continue;
		got += h.len;
		vsk_send_raw(cid, 62, hp, OP_RW, 0, vsk_payload, h.len,
			     BENCH_BUF, got);
		i++;
	}
	kprintf("bench done rtt messages=%u\n", i);
	if (hp)
		send(62, hp, OP_RST, 0, got);
}

struct phases {
	uint32_t mib, rtt;
};

/* Runs in ring 3 where the kernel can (see user.h). */
static void run_phases(void *arg)
{
	struct phases *p = arg;

	kprintf("bench_vsock ring=%u\n", user_mode() ? 3 : 0);
	h2g();
	g2h(p->mib);
	rtt(p->rtt);
	pass("bench_vsock");
}

void test_bench_vsock(const struct bootinfo *bi)
{
	struct phases p = {
		.mib = (uint32_t)cmdline_u64_or(bi->cmdline, "mib", 64),
		.rtt = (uint32_t)cmdline_u64_or(bi->cmdline, "rtt", 1000),
	};

	cid = cmdline_u64_or(bi->cmdline, "cid", 3);
	if (!vsk_setup(cid)) {
		fail("bench_vsock", "no virtio-vsock device");
		return;
	}
	hdr_page = palloc_page();
	for (int i = 0; i < TX_PAGES; i++) {
		pages[i] = palloc_page();
		memset(pages[i], 'a' + i, 4096);
	}
	/* The device is live: the phases need nothing from ring 0. */
	user_run(bi, run_phases, &p);
}
