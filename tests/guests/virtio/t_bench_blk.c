/*
 * The virtio-blk benchmark's guest side (bench/blk). Ring-0 code is slow
 * on some hosts (a software KVM emulates it), so the guest does as little
 * as it can per request and the figure is the VMM's device path:
 * `depth` requests, each one indirect descriptor whose table is built once,
 * so the avail ring holds 0..depth-1 for ever; a round rewrites the
 * headers' sectors, publishes all of them with one index store and one
 * notification, and polls the used index (no interrupts) until all are
 * back. "bench start" and "bench done" lines bracket the timed rounds; the
 * host times them, so guest and host clocks need not agree. The timed
 * rounds run in ring 3 (user.h), which such a host runs natively in a
 * 64-bit kernel; the 32-bit build keeps them in ring 0.
 *
 * Command line: mode=randread|read|write bs=BYTES depth=N n=REQUESTS.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/user.h"
#include "tests.h"

#define T_IN 0
#define T_OUT 1
#define AVAIL_NO_INTERRUPT 1
#define USED_NO_NOTIFY 1
#define MAX_DEPTH 64

struct hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct slot {
	struct hdr h;       /* first: 16 bytes */
	uint8_t status;
	uint8_t pad[15];
	struct vdesc tab[3]; /* the indirect table */
};

struct bench {
	struct vdev d;
	struct slot *slots;
	unsigned depth;
	uint32_t type;
	bool random;
	uint32_t blocks;    /* capacity in bs units */
	uint32_t sect_per;  /* sectors per block */
	uint32_t next;      /* sequential position, in blocks */
	uint32_t rng;
	uint32_t rounds, bs;
	const char *mode;
};

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static bool setup(struct bench *b, const struct bootinfo *bi, uint32_t bs)
{
	struct vq *q;
	uint8_t *data;

	if (!vdev_open(&b->d, VIRTIO_ID_BLOCK, 0)) {
		fail("bench", "no virtio-blk device");
		return false;
	}
	/* Indirect descriptors and nothing else the hot path would pay for. */
	if (!vdev_negotiate(&b->d, VBIT(VIRTIO_F_VERSION_1) |
				   VBIT(VIRTIO_F_INDIRECT_DESC)) ||
	    !(b->d.features & VBIT(VIRTIO_F_INDIRECT_DESC))) {
		fail("bench", "indirect descriptors refused");
		return false;
	}
	if (!vdev_queue(&b->d, 0, (uint16_t)b->depth, 0xffff)) {
		fail("bench", "cannot set up a %u-entry queue", b->depth);
		return false;
	}
	vdev_driver_ok(&b->d);
	b->slots = palloc_pages((b->depth * sizeof(struct slot) + 4095) / 4096);
	data = palloc_pages(b->depth * (bs / 4096));
	if (!b->slots || !data) {
		fail("bench", "out of guest memory for %u x %u bytes", b->depth,
		     bs);
		return false;
	}
	q = &b->d.q[0];
	for (unsigned k = 0; k < b->depth; k++) {
		struct slot *s = &b->slots[k];

		s->h.type = b->type;
		s->tab[0] = (struct vdesc){ (uintptr_t)&s->h, 16, VQ_F_NEXT, 1 };
		s->tab[1] = (struct vdesc){ (uintptr_t)(data + k * bs), bs,
			(uint16_t)(VQ_F_NEXT | (b->type == T_IN ? VQ_F_WRITE
								: 0)), 2 };
		s->tab[2] = (struct vdesc){ (uintptr_t)&s->status, 1,
					    VQ_F_WRITE, 0 };
		q->desc[k] = (struct vdesc){ (uintptr_t)s->tab,
					     sizeof(s->tab), VQ_F_INDIRECT, 0 };
		q->avail[2 + k] = (uint16_t)k;
	}
	q->avail[0] = AVAIL_NO_INTERRUPT;
	(void)bi;
	return true;
}

/* One round: depth requests out, all of them back. */
static bool round_trip(struct bench *b)
{
	struct vq *q = &b->d.q[0];
	uint16_t want;

	for (unsigned k = 0; k < b->depth; k++) {
		uint32_t blk;

		if (b->random) {
			blk = xorshift(&b->rng) % b->blocks;
		} else {
			blk = b->next;
			b->next = b->next + 1 == b->blocks ? 0 : b->next + 1;
		}
		b->slots[k].h.sector = (uint64_t)blk * b->sect_per;
	}
	q->avail_idx = (uint16_t)(q->avail_idx + b->depth);
	__asm__ volatile("" ::: "memory");
	q->avail[1] = q->avail_idx;
	__asm__ volatile("lock; addl $0,(%%" SP ")" ::: "memory");
	if (!(q->used[0] & USED_NO_NOTIFY))
		*q->notify = q->index;
	want = q->avail_idx;
	/* No deadline here: a PIT read per poll would be the ring-0 cost. */
	while (q->used[1] != want)
		__asm__ volatile("pause" ::: "memory");
	q->last_used = want;
	for (unsigned k = 0; k < b->depth; k++)
		if (b->slots[k].status != 0)
			return false;
	return true;
}

/* Runs in ring 3 where the kernel can (see user.h). */
static void timed_rounds(void *arg)
{
	struct bench *b = arg;

	/*
	 * The host's clock starts when "bench start" arrives: anything printed
	 * after it is timed too, and each character costs port I/O traps in
	 * ring 3, so the details go first.
	 */
	kprintf("bench_blk mode=%s bs=%u depth=%u ring=%u\n", b->mode, b->bs,
		b->depth, user_mode() ? 3 : 0);
	kprintf("bench start\n");
	for (uint32_t r = 0; r < b->rounds; r++)
		if (!round_trip(b)) {
			fail("bench", "a request failed in round %u", r);
			return;
		}
	kprintf("bench done requests=%llu bytes=%llu\n",
		(unsigned long long)b->rounds * b->depth,
		(unsigned long long)b->rounds * b->depth * b->bs);
	pass("bench");
}

void test_bench_blk(const struct bootinfo *bi)
{
	struct bench b = { .rng = 2463534242u };
	char mode[16] = "randread";
	uint32_t bs = (uint32_t)cmdline_u64_or(bi->cmdline, "bs", 4096);
	/* 32-bit arithmetic: the kernel has no 64-bit division. */
	uint32_t n = (uint32_t)cmdline_u64_or(bi->cmdline, "n", 100000);
	uint32_t cap;

	cmdline_str(bi->cmdline, "mode", mode, sizeof(mode));
	b.depth = (unsigned)cmdline_u64_or(bi->cmdline, "depth", 32);
	b.random = !strcmp(mode, "randread");
	b.type = !strcmp(mode, "write") ? T_OUT : T_IN;
	if (bs < 4096 || bs % 4096 || !b.depth || b.depth > MAX_DEPTH ||
	    (b.depth & (b.depth - 1))) {
		fail("bench", "bs must be a multiple of 4096, depth a power "
		     "of two up to %u", MAX_DEPTH);
		return;
	}
	if (!setup(&b, bi, bs))
		return;
	cap = (uint32_t)vdev_cfg64(&b.d, 0); /* sectors: up to 2 TiB */
	b.sect_per = bs / 512;
	b.blocks = (uint32_t)(cap / b.sect_per);
	if (!b.blocks) {
		fail("bench", "disk smaller than one block");
		return;
	}
	b.rounds = (n + b.depth - 1) / b.depth;
	/* One untimed round: first-touch costs stay out of the figure. */
	if (!round_trip(&b)) {
		fail("bench", "a request failed");
		return;
	}
	b.mode = mode;
	b.bs = bs;
	/* The device is live: the timed rounds need nothing from ring 0. */
	user_run(bi, timed_rounds, &b);
}
