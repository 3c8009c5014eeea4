/*
 * virtio-net against a hostile (or just stingy) driver, with the host
 * test on the TAP side (tests/integration/test_virtio_hostile.c):
 *
 *  1. Transmit chains that carry no frame (a zero-length buffer, fewer
 *     bytes than the virtio-net header, a writable buffer) are completed
 *     as dropped, and a good frame ("mvm-tx-ok") still goes out.
 *  2. With MRG_RXBUF, receive buffers that add up to less than one frame
 *     needs (offload=1: less than a 64 KiB GSO frame, in fewer than 64
 *     chains). The guest says "net short posted" and waits for a 'g' on
 *     COM1: the host meanwhile sends a frame, checks that mvm still
 *     answers its API and is not spinning, then types the 'g'. The guest
 *     then posts enough buffers, kicking only when the device's
 *     avail_event asks for it (as Linux does with EVENT_IDX), and the
 *     frame must arrive.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/uart.h"
#include "tests.h"

#define NET_F_CSUM 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MAC 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_MRG_RXBUF 15
#define HDR 12
#define ETHERTYPE 0x88b5
#define RXQ 0
#define TXQ 1
#define MSIX_BASE 0x70
#define GO_WAIT_MS 30000 /* the host's checks take a few seconds */

static struct vdev d;
static uint8_t mac[6];

/*
 * Make head available. Unlike vq_kick(), notify only when the device asked
 * for it: with EVENT_IDX, when the new index passes its avail_event.
 */
static void post(struct vq *q, uint16_t head)
{
	uint16_t old = q->avail_idx, ev;
	bool kick;

	q->avail[2 + old % q->size] = head;
	__asm__ volatile("" ::: "memory");
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	__asm__ volatile("lock; addl $0, (%%" SP ")" ::: "memory", "cc");
	if (d.features & VBIT(VIRTIO_F_EVENT_IDX)) {
		ev = q->used[2 + 4 * q->size];
		kick = (uint16_t)(q->avail_idx - ev - 1) <
		       (uint16_t)(q->avail_idx - old);
	} else {
		kick = !(q->used[0] & 1);
	}
	if (kick)
		*q->notify = q->index;
}

/* Chains of the transmit queue that hold no frame: each dropped. */
static void tx_empty(const char *name, const struct vbuf *b, unsigned n)
{
	int used = vq_call(&d.q[TXQ], b, n);

	check(name, used == 0, "used %d", used);
}

static void tx_hostile(uint8_t *page)
{
	struct vbuf zero = { (uintptr_t)page, 0, false };
	struct vbuf tiny = { (uintptr_t)page, HDR - 2, false };
	struct vbuf wr[2] = { { (uintptr_t)page, 64, false },
			      { (uintptr_t)page + 64, 64, true } };
	uint8_t *f = page + HDR;
	struct vbuf good = { (uintptr_t)page, HDR + 60, false };

	tx_empty("net tx zero-length chain dropped", &zero, 1);
	tx_empty("net tx chain shorter than the header dropped", &tiny, 1);
	tx_empty("net tx chain with a writable buffer dropped", wr, 2);
	memset(page, 0, HDR + 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, "mvm-tx-ok", 9);
	check("net tx works after empty chains", vq_call(&d.q[TXQ], &good, 1)
	      == 0, "not completed");
}

static void post_rx(uint8_t *b, uint32_t len)
{
	struct vbuf v = { (uintptr_t)b, len, true };

	post(&d.q[RXQ], vq_add(&d.q[RXQ], &v, 1));
}

static bool wait_go(void)
{
	struct deadline dl;
	unsigned n = 0;

	deadline_start(&dl, GO_WAIT_MS);
	for (;;) {
		if (uart_getc_nowait() == 'g')
			return true;
		if (++n % 16 == 0 && deadline_expired(&dl))
			return false;
	}
}

/* The frame the host sent while the buffers were short. */
static void rx_arrives(uint8_t *first)
{
	struct vused u;
	uint16_t nb;

	if (!vq_wait(&d.q[RXQ], &u)) {
		fail("net frame arrives once buffers suffice", "none");
		return;
	}
	nb = (uint16_t)(first[10] | first[11] << 8);
	check("net frame arrives once buffers suffice",
	      u.len > HDR + 14 + 9 && !memcmp(first + HDR + 14, "mvm-short",
					     9) && nb == 1,
	      "used id %u len %u num_buffers %u", u.id, u.len, nb);
}

static bool setup(const struct bootinfo *bi, bool offload)
{
	uint64_t want = ring_features(bi) | VBIT(NET_F_MAC) |
			VBIT(NET_F_MRG_RXBUF);

	if (offload)
		want |= VBIT(NET_F_CSUM) | VBIT(NET_F_GUEST_CSUM) |
			VBIT(NET_F_GUEST_TSO4) | VBIT(NET_F_GUEST_TSO6);
	if (!vdev_open(&d, VIRTIO_ID_NET, 0) || !vdev_negotiate(&d, want) ||
	    (d.features & want) != want) {
		fail("net open", "no virtio-net device or features refused");
		return false;
	}
	vdev_msix(&d, MSIX_BASE);
	if (!vdev_queue(&d, RXQ, 0, 0) || !vdev_queue(&d, TXQ, 0, 1)) {
		fail("net queues", "cannot set up");
		return false;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = vdev_cfg8(&d, (unsigned)i);
	vdev_driver_ok(&d);
	return true;
}

void test_net_hostile(const struct bootinfo *bi)
{
	bool offload = cmdline_u64_or(bi->cmdline, "offload", 0);
	/* Short of 1,530 bytes, or of a 64 KiB frame, in a few chains. */
	uint32_t size = offload ? 4096 : 512;
	unsigned nshort = offload ? 8 : 2, nmore = offload ? 16 : 2;
	uint8_t *pool = palloc_pages((nshort + nmore) * size / PAGE_SIZE + 1);

	if (!setup(bi, offload))
		return;
	tx_hostile(palloc_page());
	for (unsigned i = 0; i < nshort; i++)
		post_rx(pool + i * size, size);
	kprintf("net short posted: %u bytes in %u chains\n", nshort * size,
		nshort);
	if (!wait_go()) {
		fail("net host go-ahead", "no 'g' on the console");
		return;
	}
	for (unsigned i = nshort; i < nshort + nmore; i++)
		post_rx(pool + i * size, size);
	rx_arrives(pool);
	rng_works("rng after short net buffers");
}
