/*
 * test=soak (bench/soak): disk and network I/O until the host stops the
 * VM, so that a long run shows whether mvm's memory, fds or latency grow.
 *
 * Each round writes 4 KiB to the disk with a pattern that changes every
 * round, reads it back and compares (a wrong byte ends the run: a soak
 * that silently corrupts data is no pass), flushes now and then, and
 * sends one frame to the tap, alternately 60 and 1514 bytes long. The
 * written window walks over span= sectors of the disk. Every report=N
 * rounds (64) a "soak rounds=... frames=..." line tells the host that I/O
 * still moves; the host times the lines and compares the rates (a count,
 * not a guest clock: the PIT cannot time a second between rare polls).
 * rounds=N ends the run after N rounds (0: never), for a quick check of
 * this mode itself.
 *
 * Frames go to 02:00:00:00:00:02, a MAC nobody has, with the test
 * ethertype; the host's side is a tap in a namespace of its own.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#define BLK_F_FLUSH 9
#define NET_F_MAC 5
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define NSECT 8
#define BYTES (NSECT * 512)
#define FLUSH_EVERY 64
#define HDR 12 /* virtio_net_hdr_v1 */
#define ETHERTYPE 0x88b5
#define SMALL_FRAME 60
#define BIG_FRAME 1514
#define RXQ 0
#define TXQ 1
#define NET_MSIX_BASE 0x50

/*
 * Word i of a round's 4 KiB: cheap to make and to check (ring 0 is
 * emulated on some hosts, where each instruction counts), and different
 * in every round and window, so a stale or misplaced block shows.
 */
static uint32_t pattern_seed(uint32_t round, uint32_t sector)
{
	return round * 0x85ebca6bu ^ sector * 0x27d4eb2fu;
}

static bool net_setup(struct vdev *n, const struct bootinfo *bi)
{
	if (!vdev_open(n, VIRTIO_ID_NET, 0) ||
	    !vdev_negotiate(n, ring_features(bi) | VBIT(NET_F_MAC))) {
		fail("soak net", "no virtio-net device or features refused");
		return false;
	}
	vdev_msix(n, NET_MSIX_BASE);
	if (!vdev_queue(n, RXQ, 0, 0) || !vdev_queue(n, TXQ, 0, 1)) {
		fail("soak net", "cannot set up the queues");
		return false;
	}
	vdev_driver_ok(n);
	return true;
}

/* The frame's header, addresses and tag; the payload is filled per send. */
static void frame_init(uint8_t *buf, const uint8_t mac[6])
{
	static const uint8_t nobody[6] = { 2, 0, 0, 0, 0, 2 };
	uint8_t *f = buf + HDR;

	memset(buf, 0, HDR + BIG_FRAME);
	memcpy(f, nobody, 6);
	memcpy(f + 6, mac, 6);
	f[12] = ETHERTYPE >> 8;
	f[13] = ETHERTYPE & 0xff;
	memcpy(f + 14, "mvm-soak", 8);
}

static bool send_frame(struct vdev *n, uint8_t *buf, uint32_t round)
{
	uint32_t len = round & 1 ? BIG_FRAME : SMALL_FRAME;
	struct vbuf v = { (uintptr_t)buf, HDR + len, false };

	memcpy(buf + HDR + 22, &round, sizeof(round));
	return vq_call(&n->q[TXQ], &v, 1) >= 0;
}

/* One disk round: write, read back, compare. */
static bool disk_round(struct vdev *d, uint32_t *wbuf, uint32_t *rbuf,
		       uint32_t round, uint32_t sector)
{
	uint32_t v = pattern_seed(round, sector);
	int st;

	for (unsigned i = 0; i < BYTES / 4; i++, v += 0x9e3779b9u)
		wbuf[i] = v;
	st = blk_rw(d, T_OUT, sector, wbuf, BYTES, NULL);
	if (st != 0) {
		fail("soak write", "round %u sector %u: status %d", round,
		     sector, st);
		return false;
	}
	rbuf[0] = ~wbuf[0]; /* a read that writes nothing must not pass */
	st = blk_rw(d, T_IN, sector, rbuf, BYTES, NULL);
	if (st != 0) {
		fail("soak read back", "round %u sector %u: status %d", round,
		     sector, st);
		return false;
	}
	v = pattern_seed(round, sector);
	for (unsigned i = 0; i < BYTES / 4; i++, v += 0x9e3779b9u)
		if (rbuf[i] != v) {
			fail("soak read back", "round %u sector %u: word %u "
			     "is 0x%x, not 0x%x", round, sector, i, rbuf[i],
			     v);
			return false;
		}
	if (round % FLUSH_EVERY == 0 &&
	    (d->features & VBIT(BLK_F_FLUSH)) &&
	    (st = blk_rw(d, T_FLUSH, 0, NULL, 0, NULL)) != 0) {
		fail("soak flush", "round %u: status %d", round, st);
		return false;
	}
	return true;
}

void test_soak(const struct bootinfo *bi)
{
	uint32_t limit = (uint32_t)cmdline_u64_or(bi->cmdline, "rounds", 0);
	uint32_t span = (uint32_t)cmdline_u64_or(bi->cmdline, "span", 2048);
	uint32_t report = (uint32_t)cmdline_u64_or(bi->cmdline, "report", 64);
	uint32_t *wbuf = palloc_pages(BYTES / PAGE_SIZE);
	uint32_t *rbuf = palloc_pages(BYTES / PAGE_SIZE);
	uint8_t *tx = palloc_pages(1);
	struct vdev d, n;
	uint32_t round, frames = 0, windows, cap;
	uint8_t mac[6];

	if (!wbuf || !rbuf || !tx) {
		fail("soak", "out of guest memory");
		return;
	}
	if (!blk_setup(&d, ring_features(bi) | VBIT(BLK_F_FLUSH), 0) ||
	    !net_setup(&n, bi))
		return;
	cap = (uint32_t)vdev_cfg64(&d, 0); /* sectors; small disks only */
	if (span > cap)
		span = cap;
	windows = span / NSECT;
	if (!windows) {
		fail("soak", "disk smaller than %u sectors", NSECT);
		return;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = vdev_cfg8(&n, (unsigned)i);
	frame_init(tx, mac);
	kprintf("soak start span=%u sectors\n", windows * NSECT);
	for (round = 1; !limit || round <= limit; round++) {
		if (!disk_round(&d, wbuf, rbuf, round,
				(round % windows) * NSECT))
			return;
		if (!send_frame(&n, tx, round)) {
			fail("soak send", "round %u: frame not completed",
			     round);
			return;
		}
		frames++;
		/* The host times these lines as they arrive. */
		if (report && round % report == 0)
			kprintf("soak rounds=%u frames=%u\n", round, frames);
	}
	kprintf("soak rounds=%u frames=%u\n", round - 1, frames);
	pass("soak");
}
