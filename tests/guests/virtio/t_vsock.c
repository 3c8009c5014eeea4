/*
 * virtio-vsock from the guest, its packets made by hand. The host test
 * (tests/integration/test_virtio_vsock.c) echoes on "<uds>_5000" and
 * plays the host processes at the lines this prints:
 *   - the guest connects to the host's port 5000 and gets its bytes
 *     back; a port nobody listens on (5001) is refused with an RST; an
 *     unknown op on a live connection is answered with an RST;
 *   - "vsock: listening": the host sends CONNECT 52 and 64 KiB, which
 *     must come in at most GUEST_BUF bytes past what the guest said it
 *     consumed (credit), then reads the guest's line and closes: the
 *     device sends SHUTDOWN, and RST when the guest sends to it;
 *   - CONNECT 53 is refused by the guest (RST); CONNECT 54 is not
 *     answered, and the device resets it on its own; CONNECT 55 ends.
 * snap=1 instead waits for the TRANSPORT_RESET event a loaded snapshot
 * sends, and then connects to port 5000 again (the new socket's).
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#include "vsock_drv.h"

#define NRX 32
#define NEV 4
#define MSIX_BASE 0x70
#define GUEST_BUF 8192u
#define HOST_TOTAL 65536u

struct vdev vsk_dev;
static uint64_t cid;
static uint8_t *rx_buf[256]; /* by descriptor index */
static uint32_t *ev_buf[256];
static uint8_t *tx_buf;
uint8_t vsk_payload[4096];

static void post(unsigned q, uint8_t *b, uint32_t len)
{
	struct vbuf v = { (uintptr_t)b, len, true };
	uint16_t head = vq_add(&vsk_dev.q[q], &v, 1);

	if (q == RXQ)
		rx_buf[head] = b;
	else
		ev_buf[head] = (uint32_t *)b;
	vq_kick(&vsk_dev.q[q], head);
}

bool vsk_setup(uint64_t guest_cid)
{
	cid = guest_cid;
	if (!vdev_open(&vsk_dev, VIRTIO_ID_VSOCK, 0))
		return false;
	if (!vdev_negotiate(&vsk_dev, VBIT(VIRTIO_F_VERSION_1)))
		return false;
	vdev_msix(&vsk_dev, MSIX_BASE);
	if (!vdev_queue(&vsk_dev, RXQ, 64, 0) ||
	    !vdev_queue(&vsk_dev, TXQ, 64, 1) ||
	    !vdev_queue(&vsk_dev, EVQ, 8, 2))
		return false;
	vdev_driver_ok(&vsk_dev);
	for (int i = 0; i < NRX; i++)
		post(RXQ, palloc_page(), 4096);
	for (int i = 0; i < NEV; i++)
		post(EVQ, palloc_page(), 8);
	tx_buf = palloc_page();
	return true;
}

/* The next used element of q within ms, or false. */
bool vsk_used(unsigned q, uint32_t ms, struct vused *u)
{
	struct vq *vq = &vsk_dev.q[q];
	struct deadline dl;
	unsigned n = 0;

	/* The PIT's reads are exits (in ring 3 perhaps traps too): none in
	 * a short wait, and only now and then in a long one. */
	while (vq->used[1] == vq->last_used) {
		if (!ms)
			return false; /* a look, no wait */
		if (++n == 4096)
			deadline_start(&dl, ms);
		else if (n > 4096 && n % 4096 == 0 && deadline_expired(&dl))
			return false;
		__asm__ volatile("pause");
	}
	__asm__ volatile("" ::: "memory");
	const volatile struct vused *e =
		(const volatile struct vused *)&vq->used[2] +
		vq->last_used % vq->size;
	u->id = e->id;
	u->len = e->len;
	vq->last_used++;
	return true;
}

/* The next packet (header, vsk_payload into vsk_payload[]) within ms. */
/* Receive buffers given back but not yet notified (one exit a batch). */
static unsigned rx_unkicked;

static void repost_rx(uint8_t *b)
{
	struct vq *q = &vsk_dev.q[RXQ];
	struct vbuf v = { (uintptr_t)b, 4096, true };
	uint16_t head = vq_add(q, &v, 1);

	rx_buf[head] = b;
	q->avail[2 + q->avail_idx % q->size] = head;
	__asm__ volatile("" ::: "memory");
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	rx_unkicked++;
}

/* Tell the device of reposted buffers: a batch, or when none is used. */
static void kick_rx(void)
{
	struct vq *q = &vsk_dev.q[RXQ];

	if (!rx_unkicked ||
	    (rx_unkicked < 16 && q->used[1] != q->last_used))
		return;
	__asm__ volatile("mfence" ::: "memory");
	*q->notify = q->index;
	rx_unkicked = 0;
}

bool vsk_recv(struct hdr *h, uint32_t ms)
{
	struct vused u;
	uint8_t *b;

	kick_rx();
	if (!vsk_used(RXQ, ms, &u))
		return false;
	if (u.id >= 256 || !(b = rx_buf[u.id]) || u.len < sizeof(*h) ||
	    u.len > 4096) {
		fail("vsock rx", "used element %u, length %u", u.id, u.len);
		return false;
	}
	memcpy(h, b, sizeof(*h));
	if (h->len > u.len - sizeof(*h)) {
		fail("vsock rx", "len %u past the used length %u", h->len,
		     u.len);
		h->len = 0;
	}
	memcpy(vsk_payload, b + sizeof(*h), h->len);
	repost_rx(b);
	return true;
}

bool vsk_send_raw(uint64_t src_cid, uint32_t src, uint32_t dst,
		  uint16_t op, uint32_t flags, const void *data, uint32_t len,
		  uint32_t buf_alloc, uint32_t fwd)
{
	struct hdr h = { src_cid, HOST_CID, src, dst, len, 1, op, flags,
			 buf_alloc, fwd };
	struct vbuf v = { (uintptr_t)tx_buf, (uint32_t)sizeof(h) + len,
			  false };

	memcpy(tx_buf, &h, sizeof(h));
	if (len)
		memcpy(tx_buf + sizeof(h), data, len);
	return vsk_call(&v, 1);
}

bool vsk_call(const struct vbuf *b, unsigned n)
{
	struct vq *q = &vsk_dev.q[TXQ];
	struct vused u;

	vq_kick(q, vq_add(q, b, n));
	return vsk_used(TXQ, 5000, &u);
}

static bool send(uint32_t src, uint32_t dst, uint16_t op, uint32_t flags,
		 const void *data, uint32_t len, uint32_t fwd)
{
	return vsk_send_raw(cid, src, dst, op, flags, data, len, GUEST_BUF,
			    fwd);
}

/* A packet for ports src -> dst with op, skipping credit packets. */
static bool expect(uint32_t src, uint32_t dst, uint16_t op, uint32_t ms,
		   struct hdr *h)
{
	while (vsk_recv(h, ms)) {
		if (h->op == OP_CREDIT_UPDATE || h->op == OP_CREDIT_REQUEST)
			continue;
		return h->src_port == src && h->dst_port == dst &&
		       h->op == op && h->src_cid == HOST_CID &&
		       h->dst_cid == cid;
	}
	h->op = 0;
	return false;
}

static void guest_connects(uint32_t port)
{
	static const char msg[] = "hello from the guest";
	struct hdr h = { 0 };

	bool ok;

	send(port, 5000, OP_REQUEST, 0, NULL, 0, 0);
	ok = expect(5000, port, OP_RESPONSE, 5000, &h);
	check("vsock guest connect", ok, "op %u", h.op);
	send(port, 5000, OP_RW, 0, msg, sizeof(msg) - 1, 0);
	ok = expect(5000, port, OP_RW, 5000, &h) && h.len == sizeof(msg) - 1 &&
	     !memcmp(vsk_payload, msg, h.len);
	check("vsock guest echo", ok, "op %u len %u", h.op, h.len);
	send(port, 5000, OP_SHUTDOWN, 3, NULL, 0, h.len);
	ok = expect(5000, port, OP_RST, 5000, &h);
	check("vsock guest close", ok, "op %u", h.op);
}

/*
 * The host's port 5002 takes the connection and never reads: a guest
 * that sends past the host's credit fills the socket, then the device's
 * own buffer (its buf_alloc), and is reset rather than buffered beyond.
 */
static void past_credit(void)
{
	static uint8_t chunk[4000];
	uint32_t sent = 0, host_buf;
	struct hdr h = { 0 };
	bool ok, reset = false;

	send(1003, 5002, OP_REQUEST, 0, NULL, 0, 0);
	ok = expect(5002, 1003, OP_RESPONSE, 5000, &h);
	host_buf = h.buf_alloc;
	while (ok && !reset && sent < 4u * host_buf) {
		send(1003, 5002, OP_RW, 0, chunk, sizeof(chunk), 0);
		sent += sizeof(chunk);
		while (vsk_recv(&h, 0))
			reset |= h.op == OP_RST && h.src_port == 5002;
	}
	while (!reset && vsk_recv(&h, 1000))
		reset |= h.op == OP_RST && h.src_port == 5002;
	check("vsock past the host's credit resets",
	      ok && reset && sent > host_buf && sent <= 4u * host_buf,
	      "response %d, reset %d after %u bytes (its buf_alloc %u)", ok,
	      reset, sent, host_buf);
}

static void hostile(void)
{
	struct hdr h = { 0 };
	bool ok;

	/* Not from the guest's CID, or not to the host's: dropped. */
	vsk_send_raw(cid + 1, 1100, 5000, OP_REQUEST, 0, NULL, 0, GUEST_BUF, 0);
	vsk_send_raw(cid, 1100, 5000, 77, 0, NULL, 0, GUEST_BUF, 0);
	ok = expect(5000, 1100, OP_RST, 5000, &h);
	check("vsock unknown op without a connection", ok, "op %u", h.op);
	send(1001, 5001, OP_REQUEST, 0, NULL, 0, 0);
	ok = expect(5001, 1001, OP_RST, 5000, &h);
	check("vsock refused port", ok, "op %u", h.op);
	send(1002, 5000, OP_REQUEST, 0, NULL, 0, 0);
	expect(5000, 1002, OP_RESPONSE, 5000, &h);
	send(1002, 5000, 99, 0, NULL, 0, 0);
	ok = expect(5000, 1002, OP_RST, 5000, &h);
	check("vsock unknown op resets", ok, "op %u", h.op);
	past_credit();
}

static uint8_t host_pattern(uint32_t i)
{
	return (uint8_t)(i * 13u + (i >> 8) + 5u);
}

/* The host's 64 KiB, never more than GUEST_BUF past what we consumed. */
static void credit(uint32_t me, uint32_t hp)
{
	uint32_t got = 0, fwd = 0, over = 0, stalls = 0, bad = 0;
	struct hdr h = { 0 };

	while (got < HOST_TOTAL) {
		/* Full: nothing more may come until we say so. */
		uint32_t wait = got - fwd >= GUEST_BUF ? 300 : 5000;

		if (!vsk_recv(&h, wait)) {
			if (got - fwd < GUEST_BUF)
				break; /* stuck with credit left */
			stalls++;
			fwd = got;
			send(me, hp, OP_CREDIT_UPDATE, 0, NULL, 0, fwd);
			continue;
		}
		if (h.op == OP_CREDIT_REQUEST) {
			send(me, hp, OP_CREDIT_UPDATE, 0, NULL, 0, fwd);
			continue;
		}
		if (h.op != OP_RW || h.dst_port != me)
			break;
		for (uint32_t i = 0; i < h.len; i++)
			bad += vsk_payload[i] != host_pattern(got + i);
		got += h.len;
		if (got - fwd > GUEST_BUF)
			over++;
	}
	check("vsock credit respected",
	      got == HOST_TOTAL && !over && !bad && stalls >= 1,
	      "%u of %u bytes, %u over credit, %u bad, %u stalls", got,
	      HOST_TOTAL, over, bad, stalls);
	send(me, hp, OP_CREDIT_UPDATE, 0, NULL, 0, got);
}

static void host_connects(void)
{
	static const char msg[] = "hello from the guest port 52\n";
	struct hdr h = { 0 };
	uint32_t hp;
	bool ok;

	kprintf("vsock: listening\n");
	ok = vsk_recv(&h, 20000) && h.op == OP_REQUEST && h.dst_port == 52 &&
	     h.src_cid == HOST_CID;
	if (!check("vsock host connect", ok, "op %u port %u", h.op,
		   h.dst_port))
		return;
	hp = h.src_port;
	send(52, hp, OP_RESPONSE, 0, NULL, 0, 0);
	credit(52, hp);
	send(52, hp, OP_RW, 0, msg, sizeof(msg) - 1, HOST_TOTAL);
	/* The host reads it and closes: it sends no more (SHUTDOWN SEND);
	 * what the guest sends then finds the socket closed: RST. */
	ok = expect(hp, 52, OP_SHUTDOWN, 10000, &h) && h.flags == 2;
	check("vsock host close shuts down", ok, "op %u flags %u", h.op,
	      h.flags);
	send(52, hp, OP_RW, 0, msg, sizeof(msg) - 1, HOST_TOTAL);
	ok = expect(hp, 52, OP_RST, 5000, &h);
	check("vsock host close resets", ok, "op %u", h.op);

	ok = vsk_recv(&h, 10000) && h.op == OP_REQUEST && h.dst_port == 53;
	check("vsock host connect 53", ok, "op %u port %u", h.op, h.dst_port);
	send(53, h.src_port, OP_RST, 0, NULL, 0, 0);
	kprintf("vsock: refused 53\n");
	ok = vsk_recv(&h, 10000) && h.op == OP_REQUEST && h.dst_port == 54;
	check("vsock host connect 54", ok, "op %u port %u", h.op, h.dst_port);
	hp = h.src_port;
	ok = expect(hp, 54, OP_RST, 5000, &h);
	check("vsock unanswered connect resets", ok, "op %u", h.op);
	/* The host looks at mvm's metrics, then says it is done. */
	ok = vsk_recv(&h, 20000) && h.op == OP_REQUEST && h.dst_port == 55;
	check("vsock host done", ok, "op %u port %u", h.op, h.dst_port);
}

static void wait_reset(void)
{
	struct hdr h = { 0 };
	struct vused u;
	bool ok;

	kprintf("vsock: waiting for reset\n");
	ok = vsk_used(EVQ, 60000, &u);
	check("vsock transport reset", ok && u.len == 4 && u.id < 256 &&
	      ev_buf[u.id] && *ev_buf[u.id] == 0, "ok %d len %u", ok, u.len);
	guest_connects(2000);
	/* The host may take another snapshot; its CONNECT 55 ends. */
	ok = vsk_recv(&h, 60000) && h.op == OP_REQUEST && h.dst_port == 55;
	check("vsock host done", ok, "op %u port %u", h.op, h.dst_port);
}

void test_vsock(const struct bootinfo *bi)
{
	if (!vsk_setup(cmdline_u64_or(bi->cmdline, "cid", 3))) {
		fail("vsock open", "no virtio-vsock device");
		return;
	}
	check("vsock cid", vdev_cfg64(&vsk_dev, 0) == cid, "config says %llu",
	      (unsigned long long)vdev_cfg64(&vsk_dev, 0));
	if (cmdline_u64_or(bi->cmdline, "snap", 0)) {
		wait_reset();
		return;
	}
	guest_connects(1000);
	hostile();
	host_connects();
}
