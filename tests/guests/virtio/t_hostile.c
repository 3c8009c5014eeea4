/*
 * A hostile driver: descriptors that point outside RAM, loop, or are too
 * many; requests short of the buffers they need (no status byte, a short
 * header, nothing but empty descriptors; rng buffers it cannot write);
 * broken rings and bad queue sizes. After each, the device must
 * still serve good requests (or report NEEDS_RESET and work again after a
 * reset), and the other devices must be unaffected.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#define T_IN 0
#define LONG_CHAIN 1100 /* more segments than one readv can take */

static struct vdev d;
static uint64_t feats;
static uint8_t *buf;

static bool good_request(const char *name)
{
	int used, st;

	st = blk_rw(&d, T_IN, 0, buf, 512, &used);
	return check(name, st == 0 && used == 513, "status %d used %d", st,
		     used);
}

/* Submit a raw chain starting at head; expect it failed (used len 0). */
static void expect_failed(const char *name, uint16_t head)
{
	struct vused u;

	vq_kick(&d.q[0], head);
	if (!vq_wait(&d.q[0], &u)) {
		fail(name, "no completion");
		return;
	}
	check(name, u.id == head && u.len == 0, "used id %u len %u", u.id,
	      u.len);
}

static volatile struct vdesc *raw(unsigned i)
{
	return &d.q[0].desc[i];
}

static void out_of_range(void)
{
	struct vq *q = &d.q[0];
	uint16_t h = q->next_desc;

	raw(h)->addr = 0xfffff0000000ULL; /* far beyond RAM */
	raw(h)->len = 16;
	raw(h)->flags = 0;
	q->next_desc = (uint16_t)((h + 1) % q->size);
	expect_failed("hostile out of range", h);
	good_request("hostile out of range: device still works");
}

static void loop(void)
{
	struct vq *q = &d.q[0];
	uint16_t a = q->next_desc, b = (uint16_t)((a + 1) % q->size);

	raw(a)->addr = (uintptr_t)buf;
	raw(a)->len = 16;
	raw(a)->flags = VQ_F_NEXT;
	raw(a)->next = b;
	raw(b)->addr = (uintptr_t)buf;
	raw(b)->len = 16;
	raw(b)->flags = VQ_F_NEXT;
	raw(b)->next = a;
	q->next_desc = (uint16_t)((b + 1) % q->size);
	expect_failed("hostile loop", a);
	good_request("hostile loop: device still works");
}

/* A read whose data buffer the device may not write. */
static void wrong_direction(void)
{
	static uint8_t hdr[16];
	volatile uint8_t *status = buf + 1024;
	struct vbuf b[3] = {
		{ (uintptr_t)hdr, 16, false },
		{ (uintptr_t)buf, 512, false }, /* should be writable */
		{ (uintptr_t)status, 1, true },
	};
	int used;

	memset(hdr, 0, sizeof(hdr)); /* T_IN, sector 0 */
	*status = 0xee;
	used = vq_call(&d.q[0], b, 3);
	check("hostile read into a readable buffer", used == 1 &&
	      *status == 1, "used %d status %u", used, *status);
	good_request("hostile wrong direction: device still works");
}

static void long_chain(void)
{
	struct vq *q = &d.q[0];
	struct vdesc *t = palloc_pages((LONG_CHAIN * 16 + 4095) / 4096);
	uint16_t h = q->next_desc;

	if (!(feats & VBIT(VIRTIO_F_INDIRECT_DESC))) {
		fail("hostile long chain", "INDIRECT_DESC not negotiated");
		return;
	}
	for (unsigned i = 0; i < LONG_CHAIN; i++) {
		t[i].addr = (uintptr_t)buf;
		t[i].len = i ? 512 : 16;
		t[i].flags = (uint16_t)((i + 1 < LONG_CHAIN ? VQ_F_NEXT : 0) |
					(i ? VQ_F_WRITE : 0));
		t[i].next = (uint16_t)(i + 1);
	}
	raw(h)->addr = (uintptr_t)t;
	raw(h)->len = LONG_CHAIN * 16;
	raw(h)->flags = VQ_F_INDIRECT;
	q->next_desc = (uint16_t)((h + 1) % q->size);
	expect_failed("hostile long chain", h);
	good_request("hostile long chain: device still works");
}

/* A raw chain of n buffers; expect it failed, then a good request. */
static void short_chain(const char *name, const struct vbuf *b, unsigned n)
{
	expect_failed(name, vq_add(&d.q[0], b, n));
	good_request(name);
}

/* Requests without the buffers a request needs: each fails, alone. */
static void too_few_buffers(void)
{
	static uint8_t hdr[16];
	uint8_t *st = buf + 2048;
	struct vbuf no_status[1] = { { (uintptr_t)hdr, 16, false } };
	struct vbuf short_hdr[2] = { { (uintptr_t)hdr, 8, false },
				     { (uintptr_t)st, 1, true } };
	struct vbuf only_status[1] = { { (uintptr_t)st, 1, true } };
	struct vbuf empty[2] = { { (uintptr_t)hdr, 0, false },
				 { (uintptr_t)st, 0, true } };
	struct vbuf empty_status[2] = { { (uintptr_t)hdr, 16, false },
					{ (uintptr_t)st, 0, true } };

	memset(hdr, 0, sizeof(hdr)); /* T_IN, sector 0 */
	short_chain("hostile blk request without a status byte", no_status, 1);
	short_chain("hostile blk header shorter than 16 bytes", short_hdr, 2);
	short_chain("hostile blk status byte alone", only_status, 1);
	short_chain("hostile blk zero-length descriptors only", empty, 2);
	short_chain("hostile blk zero-length status", empty_status, 2);
}

/* virtio-rng requests with nothing the device may write. */
static void rng_nothing_to_fill(void)
{
	uint8_t *p = buf + 3072;
	struct vbuf zero = { (uintptr_t)p, 0, true };
	struct vbuf readable = { (uintptr_t)p, 64, false };
	int n;

	n = rng_call(&zero, 1);
	check("hostile rng zero-length buffer", n == 0, "used %d", n);
	rng_works("hostile rng zero-length buffer: device still works");
	n = rng_call(&readable, 1);
	check("hostile rng readable buffer", n == 0, "used %d", n);
	rng_works("hostile rng readable buffer: device still works");
}

static bool wait_needs_reset(const char *name)
{
	struct deadline dl;

	deadline_start(&dl, 2000);
	while (!(vdev_status(&d) & VSTAT_NEEDS_RESET))
		if (deadline_expired(&dl))
			return check(name, false, "status 0x%x",
				     vdev_status(&d));
	pass(name);
	return true;
}

static void recover(const char *name)
{
	if (blk_setup(&d, feats, 0))
		good_request(name);
}

/* Requests still in flight when the driver resets the device. */
static void reset_in_flight(void)
{
	static uint8_t hdr[8][16];
	uint8_t *data = palloc_pages(8), *status = palloc_page();
	struct vq *q = &d.q[0];

	for (unsigned i = 0; i < 8; i++) {
		struct vbuf b[3] = {
			{ (uintptr_t)hdr[i], 16, false },
			{ (uintptr_t)(data + 4096 * i), 4096, true },
			{ (uintptr_t)(status + i), 1, true },
		};

		memset(hdr[i], 0, 16); /* T_IN, sector 0 */
		vq_kick(q, vq_add(q, b, 3));
	}
	vdev_reset(&d);
	check("hostile reset in flight: reset completes", vdev_status(&d) == 0,
	      "status 0x%x", vdev_status(&d));
	recover("hostile reset in flight: works after reset");
}

static void ring_overrun(void)
{
	struct vq *q = &d.q[0];

	/* The driver claims more new buffers than the ring holds. */
	q->avail[1] = (uint16_t)(q->avail_idx + q->size + 5);
	*q->notify = q->index;
	wait_needs_reset("hostile avail overrun: needs reset");
	recover("hostile avail overrun: works after reset");
}

static void bad_head(void)
{
	struct vq *q = &d.q[0];

	q->avail[2 + q->avail_idx % q->size] = (uint16_t)(q->size + 3);
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	*q->notify = q->index;
	wait_needs_reset("hostile head out of range: needs reset");
	recover("hostile head out of range: works after reset");
}

static void bad_qsize(void)
{
	/* 3 is not a power of two: refused when the queue goes live. */
	if (!vdev_open(&d, VIRTIO_ID_BLOCK, 0) || !vdev_negotiate(&d, feats))
		return;
	vdev_queue(&d, 0, 3, 0);
	vdev_driver_ok(&d);
	wait_needs_reset("hostile queue size 3: needs reset");
	recover("hostile queue size 3: works after reset");
}

static void ring_outside_ram(void)
{
	if (!vdev_open(&d, VIRTIO_ID_BLOCK, 0) || !vdev_negotiate(&d, feats))
		return;
	vdev_queue(&d, 0, 0, 0);
	/* Move the descriptor table beyond RAM before going live. */
	*(volatile uint16_t *)(d.common + 0x16) = 0;
	*(volatile uint32_t *)(d.common + 0x20) = 0xf0000000u;
	*(volatile uint32_t *)(d.common + 0x24) = 0;
	/* That queue was already enabled: the device must ignore the move. */
	vdev_driver_ok(&d);
	good_request("hostile ring move after enable: ignored");
}

void test_hostile(const struct bootinfo *bi)
{
	feats = ring_features(bi);
	buf = palloc_page();
	rng_works("rng before");
	if (!blk_setup(&d, feats, 0))
		return;
	good_request("blk works");
	out_of_range();
	loop();
	long_chain();
	wrong_direction();
	too_few_buffers();
	rng_nothing_to_fill();
	reset_in_flight();
	ring_overrun();
	bad_head();
	bad_qsize();
	ring_outside_ram();
	rng_works("rng after");
}
