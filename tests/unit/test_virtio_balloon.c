/*
 * virtio-balloon on a fake VM, the driver played through the BAR and
 * rings in guest RAM: the config space (the host's target, the driver's
 * actual), inflated pages given back (here: zeroed, the RAM being the
 * test's own) and hostile PFNs skipped, queue roles that follow the
 * negotiated features, the statistics buffer held and given back, free
 * page hinting and reporting, the device's state round trip, and with
 * MUST_TELL_HOST the pages held back until their 2 MiB frame is whole.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/balloon.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/pci.h"
#include "mvm/virtio_dev.h"

#include "fake_vm.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE (1u << 20)
#define RINGS (RAM_GPA + 0x80000) /* queue q's rings: RINGS + q * 0x3000 */
#define QSIZE 16
#define CC 0x0000
#define DEVCFG 0x2000
#define NOTIFY 0x3000

#define F_TELL 0
#define F_STATS 1
#define F_DEFLATE 2
#define F_HINT 3
#define F_REPORT 5
#define VERSION_1 (1ULL << 32)

struct drv_q {
	unsigned index;
	uint64_t base;
	uint16_t next, avail, used_seen;
};

static struct fake_vm fvm;
static struct virtio_transport *t;
static uint64_t bar;
static struct drv_q dq[5];

static const struct balloon_config all = {
	.enabled = true, .amount_mib = 1, .deflate_on_oom = true,
	.stats_interval_s = 1, .free_page_hinting = true,
	.free_page_reporting = true,
};

static void *ram(uint64_t gpa)
{
	return fvm.ram + (gpa - RAM_GPA);
}

static uint64_t page(unsigned n)
{
	return RAM_GPA + (uint64_t)n * 4096;
}

/* RAM of size bytes from RAM_GPA (1 MiB): its whole 2 MiB frames from 2 MiB. */
static void make_sized(const struct balloon_config *c, uint32_t size)
{
	struct virtio_devs_config dc = { .balloon = c };
	struct mvm_err err;

	fake_vm_init(&fvm, RAM_GPA, size);
	cr_assert_eq(virtio_create_devices(&fvm.ctx, &dc, &err), 0, "%s",
		     err.msg);
	t = fvm.ctx.virtio_devs;
	cr_assert_not_null(t);
	bar = t->pci.bar[0].at;
	memset(dq, 0, sizeof(dq));
}

static void make(const struct balloon_config *c)
{
	make_sized(c, RAM_SIZE);
}

static void fini(void)
{
	fake_vm_fini(&fvm);
	alarm(0);
}

static void init(void)
{
	alarm(20); /* a loop that never ends must not hang the suite */
}

TestSuite(virtio_balloon, .init = init, .fini = fini);

static uint32_t rd(uint64_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };

	cr_assert(bus_dispatch(&fvm.mmio, bar + off, d, len, false));
	return len == 1 ? d[0] : len == 2 ? pci_get16(d) : pci_get32(d);
}

static void wr(uint64_t off, uint32_t len, uint32_t v)
{
	uint8_t d[8];

	pci_put32(d, v);
	cr_assert(bus_dispatch(&fvm.mmio, bar + off, d, len, true));
}

static uint64_t offered(void)
{
	wr(CC + 0x00, 4, 0);
	uint64_t f = rd(CC + 0x04, 4);
	wr(CC + 0x00, 4, 1);
	return f | (uint64_t)rd(CC + 0x04, 4) << 32;
}

static void ring_setup(unsigned q)
{
	uint64_t base = RINGS + q * 0x3000ull;

	dq[q] = (struct drv_q){ .index = q, .base = base };
	memset(ram(base), 0, 0x3000);
	wr(CC + 0x16, 2, q);
	wr(CC + 0x18, 2, QSIZE);
	wr(CC + 0x20, 4, (uint32_t)base);
	wr(CC + 0x24, 4, 0);
	wr(CC + 0x28, 4, (uint32_t)(base + 0x1000));
	wr(CC + 0x2c, 4, 0);
	wr(CC + 0x30, 4, (uint32_t)(base + 0x2000));
	wr(CC + 0x34, 4, 0);
	wr(CC + 0x1c, 2, 1);
}

static bool active(void *ctx)
{
	return virtio_active(ctx);
}

/* Negotiate f, set up nq queues, DRIVER_OK and wait for it. */
static void up(uint64_t f, unsigned nq)
{
	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(CC + 0x08, 4, 0);
	wr(CC + 0x0c, 4, (uint32_t)f);
	wr(CC + 0x08, 4, 1);
	wr(CC + 0x0c, 4, (uint32_t)(f >> 32));
	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK);
	cr_assert(rd(CC + 0x14, 1) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++)
		ring_setup(q);
	wr(CC + 0x14, 1, rd(CC + 0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
	loop_run_until(&fvm.loop, active, t, 2000);
	cr_assert(virtio_active(t));
}

/* A buffer of a chain: written by the device (in) or read (out). */
struct buf {
	uint64_t gpa;
	uint32_t len;
	bool in;
};

static uint16_t *avail(struct drv_q *q)
{
	return ram(q->base + 0x1000);
}

static uint16_t used_idx(struct drv_q *q)
{
	return ((uint16_t *)ram(q->base + 0x2000))[1];
}

/* Put a chain on q and notify; its head. */
static uint16_t post(struct drv_q *q, const struct buf *b, unsigned n)
{
	struct virtq_desc *d = ram(q->base);
	uint16_t head = q->next;

	for (unsigned i = 0; i < n; i++) {
		uint16_t at = (uint16_t)((q->next + i) % QSIZE);

		uint16_t flags = i + 1 < n ? VIRTQ_DESC_F_NEXT : 0;

		if (b[i].in)
			flags |= VIRTQ_DESC_F_WRITE;
		d[at] = (struct virtq_desc){
			.addr = b[i].gpa, .len = b[i].len, .flags = flags,
			.next = (uint16_t)((at + 1) % QSIZE),
		};
	}
	q->next = (uint16_t)((q->next + n) % QSIZE);
	avail(q)[2 + q->avail % QSIZE] = head;
	q->avail++;
	__atomic_store_n(&avail(q)[1], q->avail, __ATOMIC_RELEASE);
	wr(NOTIFY + 4 * q->index, 2, q->index);
	return head;
}

static bool used_moved(void *ctx)
{
	struct drv_q *q = ctx;

	return used_idx(q) != q->used_seen;
}

/* Wait until the device used something on q: true if it did. */
static bool wait_used(struct drv_q *q)
{
	loop_run_until(&fvm.loop, used_moved, q, 500);
	if (!used_moved(q))
		return false;
	q->used_seen = used_idx(q);
	return true;
}

static bool never(void *ctx)
{
	(void)ctx;
	return false;
}

/* Let the loop run what is ready (nothing to wait for). */
static void settle(void)
{
	loop_run_until(&fvm.loop, never, NULL, 50);
}

static uint32_t cfg32(unsigned off)
{
	return rd(DEVCFG + off, 4);
}

static struct balloon_info info(void)
{
	struct balloon_info i;
	struct mvm_err err;

	cr_assert_eq(virtio_balloon_info(&fvm.ctx, &i, &err), 0, "%s",
		     err.msg);
	return i;
}

/* What the device counted since it was made. */
static uint64_t counter(enum virtio_counter c)
{
	return t->counters.total[c];
}

Test(virtio_balloon, config_space_and_features)
{
	uint64_t f;

	make(&all);
	f = offered();
	cr_assert(f & VERSION_1);
	cr_assert_eq(f & 0xffffff, (1u << F_TELL) | (1u << F_STATS) |
		     (1u << F_DEFLATE) | (1u << F_HINT) | (1u << F_REPORT),
		     "%#llx",
		     (unsigned long long)f);
	cr_assert_eq(rd(CC + 0x12, 2), 5, "inflate, deflate, stats, hint, "
		     "report");
	cr_assert_eq(cfg32(0), 256, "1 MiB is 256 pages");
	cr_assert_eq(cfg32(4), 0);
	cr_assert_eq(cfg32(8), BALLOON_HINT_STOP);
	/* actual is the driver's, byte by byte; num_pages is not. */
	wr(DEVCFG + 4, 2, 0x1234);
	wr(DEVCFG + 6, 1, 0x56);
	wr(DEVCFG + 0, 4, 7);
	wr(DEVCFG + 8, 4, 9);
	cr_assert_eq(cfg32(4), 0x561234);
	cr_assert_eq(cfg32(0), 256);
	cr_assert_eq(cfg32(8), 0);
	cr_assert_eq(info().actual_pages, 0x561234);
	cr_assert_eq(rd(DEVCFG + 16, 4), 0, "past the config: zeros");
	/* A new target before the driver is up: read when it starts. */
	cr_assert_eq(virtio_balloon_set_target(&fvm.ctx, 3, NULL), 0);
	cr_assert_eq(cfg32(0), 768);
	cr_assert_eq(virtio_balloon_set_target(&fvm.ctx, BALLOON_MAX_MIB + 1,
					       NULL), -EINVAL);
}

Test(virtio_balloon, no_optional_features_unless_configured)
{
	struct balloon_config c = { .enabled = true, .amount_mib = 0 };
	struct mvm_err err;

	make(&c);
	cr_assert_eq(offered() & 0xffffff, 1u << F_TELL, "MUST_TELL_HOST only");
	cr_assert_eq(rd(CC + 0x12, 2), 2);
	cr_assert_eq(virtio_balloon_hint_start(&fvm.ctx, true, &err), -EINVAL);
	cr_assert(strstr(err.msg, "free_page_hinting"), "%s", err.msg);
	cr_assert_eq(virtio_balloon_set_stats_interval(&fvm.ctx, 5, &err),
		     -EINVAL);
	cr_assert(strstr(err.msg, "not enabled"), "%s", err.msg);
}

Test(virtio_balloon, inflate_gives_pages_back_and_skips_hostile_pfns)
{
	struct buf b = { page(0), 0, false };
	uint32_t *pfns;

	make(&all);
	up(VERSION_1, 2);
	pfns = ram(page(0));
	memset(ram(page(8)), 0xaa, 16 * 4096);
	pfns[0] = (uint32_t)(page(10) >> 12);
	pfns[1] = (uint32_t)(page(11) >> 12);
	pfns[2] = (uint32_t)(page(12) >> 12);
	pfns[3] = 5;            /* below RAM */
	pfns[4] = 0xffffffffu;  /* far beyond it */
	pfns[5] = (uint32_t)(page(256) >> 12); /* just past its end */
	pfns[6] = (uint32_t)(page(20) >> 12);
	b.len = 7 * 4;
	post(&dq[0], &b, 1);
	cr_assert(wait_used(&dq[0]));
	cr_assert_eq(*(uint8_t *)ram(page(9) + 4095), 0xaa);
	cr_assert_eq(*(uint8_t *)ram(page(10)), 0);
	cr_assert_eq(*(uint8_t *)ram(page(12) + 4095), 0);
	cr_assert_eq(*(uint8_t *)ram(page(13)), 0xaa);
	cr_assert_eq(*(uint8_t *)ram(page(20) + 100), 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 4);
	cr_assert_eq(counter(VIRTIO_CTR_FAIL_COUNT), 3);

	/* Not an array of PFNs: completed, nothing done. */
	memset(ram(page(30)), 0xaa, 4096);
	pfns[0] = (uint32_t)(page(30) >> 12);
	b.len = 6;
	post(&dq[0], &b, 1);
	cr_assert(wait_used(&dq[0]));
	b.in = true;
	b.len = 4;
	post(&dq[0], &b, 1);
	cr_assert(wait_used(&dq[0]));
	cr_assert_eq(*(uint8_t *)ram(page(30)), 0xaa);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_COUNT), 3);

	/* Deflate: counted, the pages left to the guest. */
	b.in = false;
	b.len = 3 * 4;
	post(&dq[1], &b, 1);
	cr_assert(wait_used(&dq[1]));
	cr_assert_eq(counter(VIRTIO_CTR_DEFLATE_PAGES), 3);
	cr_assert_eq(*(uint8_t *)ram(page(30)), 0xaa);
}

/*
 * Linux hands over its pages in the reverse of the order it took them:
 * neighbours come high to low. Every page goes back whatever the order,
 * and one that is not RAM among them is skipped alone.
 */
Test(virtio_balloon, pfns_in_any_order_are_all_given_back)
{
	struct buf b = { page(0), 0, false };
	uint32_t *pfns;
	unsigned n = 0;

	make(&all);
	up(VERSION_1, 2);
	pfns = ram(page(0));
	memset(ram(page(40)), 0xaa, 40 * 4096);
	for (unsigned p = 71; p >= 50; p--)
		pfns[n++] = (uint32_t)(page(p) >> 12);
	pfns[n++] = 3; /* below RAM, amid the run */
	pfns[n++] = (uint32_t)(page(45) >> 12);
	pfns[n++] = (uint32_t)(page(44) >> 12);
	b.len = n * 4;
	post(&dq[0], &b, 1);
	cr_assert(wait_used(&dq[0]));
	for (unsigned p = 40; p < 80; p++) {
		bool gone = (p >= 50 && p <= 71) || p == 44 || p == 45;
		uint8_t want = gone ? 0 : 0xaa;

		cr_assert_eq(*(uint8_t *)ram(page(p)), want, "page %u", p);
		cr_assert_eq(*(uint8_t *)ram(page(p) + 4095), want, "page %u",
			     p);
	}
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 24);
	cr_assert_eq(counter(VIRTIO_CTR_FAIL_COUNT), 1);
}

/* The driver numbers only the queues of features it took (as Linux). */
Test(virtio_balloon, queue_roles_follow_the_negotiated_features)
{
	struct buf b = { page(40), 2 * 4096, true };

	make(&all);
	up(VERSION_1 | (1ull << F_REPORT), 3);
	memset(ram(page(39)), 0x11, 4 * 4096);
	/* Queue 2 is reporting here, not statistics. */
	post(&dq[2], &b, 1);
	cr_assert(wait_used(&dq[2]));
	cr_assert_eq(*(uint8_t *)ram(page(39) + 4095), 0x11);
	cr_assert_eq(*(uint8_t *)ram(page(40)), 0);
	cr_assert_eq(*(uint8_t *)ram(page(41) + 4095), 0);
	cr_assert_eq(*(uint8_t *)ram(page(42)), 0x11);
	cr_assert_eq(counter(VIRTIO_CTR_REPORT_BYTES), 2 * 4096);
	/* Only the whole pages of a range go. */
	b.gpa = page(42) + 1;
	b.len = 4096;
	post(&dq[2], &b, 1);
	cr_assert(wait_used(&dq[2]));
	cr_assert_eq(*(uint8_t *)ram(page(42) + 4095), 0x11);
}

/* One (tag, value) entry as the driver lays them out, packed. */
static void stat_at(uint8_t *p, unsigned i, uint16_t tag, uint64_t val)
{
	memcpy(p + 10 * i, &tag, 2);
	memcpy(p + 10 * i + 2, &val, 8);
}

Test(virtio_balloon, statistics_buffer_is_held_and_given_back)
{
	struct buf b = { page(50), 40, false };
	struct mvm_err err;
	struct balloon_info i;
	uint8_t *st;

	make(&all);
	up(VERSION_1 | (1ull << F_STATS), 3);
	st = ram(page(50));
	stat_at(st, 0, 4, 1000);      /* free_memory */
	stat_at(st, 1, 5, 4096000);   /* total_memory */
	stat_at(st, 2, 99, 5);        /* unknown: ignored */
	stat_at(st, 3, 10, 2);        /* oom_kill */
	post(&dq[2], &b, 1);
	settle();
	cr_assert_not(used_moved(&dq[2]), "the buffer is kept");
	i = info();
	cr_assert_eq(i.stats_seen, (1u << 4) | (1u << 5) | (1u << 10));
	cr_assert_eq(i.stats[4], 1000);
	cr_assert_eq(i.stats[5], 4096000);
	cr_assert_eq(i.stats[10], 2);
	/* A new period asks for fresh statistics at once. */
	cr_assert_eq(virtio_balloon_set_stats_interval(&fvm.ctx, 1, &err), 0);
	cr_assert_eq(virtio_balloon_set_stats_interval(&fvm.ctx, 2, &err), 0);
	cr_assert(wait_used(&dq[2]));
	cr_assert_eq(virtio_balloon_set_stats_interval(&fvm.ctx, 0, &err),
		     -EINVAL);
	/* Refilled: a value left out keeps its last one. */
	stat_at(st, 0, 4, 2000);
	b.len = 10;
	post(&dq[2], &b, 1);
	settle();
	i = info();
	cr_assert_eq(i.stats[4], 2000);
	cr_assert_eq(i.stats[5], 4096000);
	/* The period: given back within 2 s. */
	loop_run_until(&fvm.loop, used_moved, &dq[2], 3000);
	cr_assert(used_moved(&dq[2]), "the period did not ask");
	cr_assert_eq(counter(VIRTIO_CTR_STATS_UPDATES), 2);
}

Test(virtio_balloon, hinting_runs)
{
	struct buf id = { page(60), 4, false };
	struct buf range = { page(64), 4 * 4096, true };
	struct balloon_info i;
	uint32_t *cmd;
	uint8_t gen;

	make(&all);
	up(VERSION_1 | (1ull << F_HINT), 3);
	cmd = ram(page(60));
	memset(ram(page(64)), 0x22, 8 * 4096);
	/* A range outside a run: kept. */
	*cmd = 7;
	post(&dq[2], &id, 1);
	post(&dq[2], &range, 1);
	cr_assert(wait_used(&dq[2]));
	settle();
	cr_assert_eq(*(uint8_t *)ram(page(64)), 0x22);

	gen = (uint8_t)rd(CC + 0x15, 1);
	cr_assert_eq(virtio_balloon_hint_start(&fvm.ctx, true, NULL), 0);
	cr_assert_eq(cfg32(8), 2, "runs count from 2");
	cr_assert_neq(rd(CC + 0x15, 1), gen, "config generation moved");
	*cmd = 2;
	post(&dq[2], &id, 1);
	post(&dq[2], &range, 1);
	settle();
	cr_assert_eq(*(uint8_t *)ram(page(64)), 0);
	cr_assert_eq(*(uint8_t *)ram(page(67) + 4095), 0);
	cr_assert_eq(*(uint8_t *)ram(page(68)), 0x22);
	i = info();
	cr_assert_eq(i.hint_host_cmd, 2);
	cr_assert(i.hint_guest_seen);
	cr_assert_eq(i.hint_guest_cmd, 2);
	/* STOP from the driver: acknowledged with DONE. */
	*cmd = BALLOON_HINT_STOP;
	post(&dq[2], &id, 1);
	settle();
	cr_assert_eq(cfg32(8), BALLOON_HINT_DONE);
	/* Without the acknowledgement, DONE waits for hint_stop. */
	cr_assert_eq(virtio_balloon_hint_start(&fvm.ctx, false, NULL), 0);
	cr_assert_eq(cfg32(8), 3);
	post(&dq[2], &id, 1);
	settle();
	cr_assert_eq(cfg32(8), 3);
	cr_assert_eq(virtio_balloon_hint_stop(&fvm.ctx, NULL), 0);
	cr_assert_eq(cfg32(8), BALLOON_HINT_DONE);
}

Test(virtio_balloon, state_round_trip_and_refusals)
{
	static uint8_t blob[16384], mem[RAM_SIZE];
	struct buf b = { page(50), 10, false };
	struct balloon_config other = all;
	struct balloon_info i;
	uint8_t *st;
	size_t n;

	make(&all);
	up(VERSION_1 | (1ull << F_STATS) | (1ull << F_HINT), 4);
	st = ram(page(50));
	stat_at(st, 0, 6, 777);
	post(&dq[2], &b, 1);
	settle();
	cr_assert_eq(virtio_balloon_set_target(&fvm.ctx, 1, NULL), 0);
	wr(DEVCFG + 4, 4, 100);
	cr_assert_eq(virtio_balloon_hint_start(&fvm.ctx, false, NULL), 0);
	n = virtio_save(t, blob, sizeof(blob));
	cr_assert_gt(n, 0);
	memcpy(mem, fvm.ram, RAM_SIZE); /* as a snapshot's memory file */
	fake_vm_fini(&fvm);

	make(&all);
	memcpy(fvm.ram, mem, RAM_SIZE);
	cr_assert_eq(virtio_load(t, blob, n), 0);
	i = info();
	cr_assert_eq(i.target_pages, 256);
	cr_assert_eq(i.actual_pages, 100);
	cr_assert_eq(i.stats[6], 777);
	/* A run the snapshot caught was ended when the device went live. */
	cr_assert_eq(i.hint_host_cmd, BALLOON_HINT_DONE);
	/* The held buffer came back with it: the next ask gives it back. */
	dq[2] = (struct drv_q){ .index = 2, .base = RINGS + 2 * 0x3000 };
	dq[2].used_seen = used_idx(&dq[2]);
	cr_assert_eq(virtio_balloon_set_stats_interval(&fvm.ctx, 3, NULL), 0);
	cr_assert(wait_used(&dq[2]));
	cr_assert_eq(virtio_load(t, blob, n - 1), -EINVAL, "cut blob");
	fake_vm_fini(&fvm);

	/* Configured otherwise: other queues, or other features. */
	other.free_page_reporting = false;
	make(&other);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	fake_vm_fini(&fvm);
	other = all;
	other.deflate_on_oom = false;
	make(&other);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	fake_vm_fini(&fvm);

	/* A flag that is no flag, in the balloon's part (at its end). */
	make(&all);
	blob[n - 8 * BALLOON_STAT_TAGS - 8] = 2;
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
}

/*
 * With MUST_TELL_HOST: 7 MiB of RAM from 1 MiB, whole 2 MiB frames at 2,
 * 4 and 6 MiB (pages 256, 768 and 1280 here); the driver's PFN arrays and
 * rings below 2 MiB.
 */
#define BIG_RAM (7u << 20)
#define FRAME_A 256u
#define FRAME_B 768u
#define PFN_BUF 0x20000u /* pfns at page(32), up to 8 pages of them */

static uint8_t at(unsigned p, unsigned off)
{
	return *(uint8_t *)ram(page(p) + off);
}

/* Inflate (q 0) or deflate (q 1) pages first..first+n-1, high to low. */
static void pages_to(unsigned q, unsigned first, unsigned n)
{
	struct buf b = { RAM_GPA + PFN_BUF, n * 4, false };
	uint32_t *pfns = ram(RAM_GPA + PFN_BUF);

	cr_assert_leq(n, 2048);
	for (unsigned i = 0; i < n; i++)
		pfns[i] = (uint32_t)(page(first + n - 1 - i) >> 12);
	post(&dq[q], &b, 1);
	cr_assert(wait_used(&dq[q]));
}

/* Pages first..first+n-1 hold v (both ends of each page). */
static void expect(unsigned first, unsigned n, uint8_t v)
{
	for (unsigned p = first; p < first + n; p++) {
		cr_assert_eq(at(p, 0), v, "page %u: %#x, not %#x", p,
			     at(p, 0), v);
		cr_assert_eq(at(p, 4095), v, "page %u", p);
	}
}

static void big_up(uint64_t f)
{
	static const struct balloon_config c = { .enabled = true,
						 .amount_mib = 4 };

	make_sized(&c, BIG_RAM);
	up(VERSION_1 | f, 2);
	memset(ram(page(FRAME_A)), 0xaa, 4u << 20);
}

Test(virtio_balloon, a_whole_frame_goes_back_at_once_never_half)
{
	big_up(1ull << F_TELL);
	/* Half a frame (a chain of Linux's): held, nothing given back. */
	pages_to(0, FRAME_A + 256, 256);
	expect(FRAME_A, 512, 0xaa);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 0);
	/* The other half: the frame goes whole. */
	pages_to(0, FRAME_A, 256);
	expect(FRAME_A, 512, 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 512);
	expect(FRAME_B, 512, 0xaa);
	/* A page in no whole frame (below 2 MiB) goes at once. */
	memset(ram(page(100)), 0xaa, 4096);
	pages_to(0, 100, 1);
	expect(100, 1, 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 513);
}

Test(virtio_balloon, held_pages_go_back_when_actual_reaches_the_target)
{
	big_up(1ull << F_TELL);
	pages_to(0, FRAME_A + 10, 100);
	pages_to(0, FRAME_B, 50);
	/* The driver is on its way (target 4 MiB = 1024 pages): held. */
	wr(DEVCFG + 4, 4, 150);
	settle();
	cr_assert_eq(info().actual_pages, 150);
	expect(FRAME_A + 10, 100, 0xaa);
	expect(FRAME_B, 50, 0xaa);
	/* The target reached: the API's answer comes after the give-back. */
	cr_assert_eq(virtio_balloon_set_target(&fvm.ctx, 1, NULL), 0);
	wr(DEVCFG + 4, 4, 256);
	cr_assert_eq(info().actual_pages, 256);
	expect(FRAME_A + 10, 100, 0);
	expect(FRAME_B, 50, 0);
	expect(FRAME_A, 10, 0xaa);
	expect(FRAME_A + 110, 402, 0xaa);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 150);

	/* Without the API asking: the loop gives them back all the same. */
	cr_assert_eq(virtio_balloon_set_target(&fvm.ctx, 2, NULL), 0);
	pages_to(0, FRAME_A + 200, 20);
	expect(FRAME_A + 200, 20, 0xaa);
	wr(DEVCFG + 4, 4, 512);
	settle();
	expect(FRAME_A + 200, 20, 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 170);
}

Test(virtio_balloon, held_pages_go_back_when_the_inflate_goes_quiet)
{
	big_up(1ull << F_TELL);
	pages_to(0, FRAME_B + 300, 30);
	settle();
	expect(FRAME_B + 300, 30, 0xaa);
	/* The driver stopped short of the target: 0.5 s later they go. */
	loop_run_until(&fvm.loop, never, NULL, 800);
	expect(FRAME_B + 300, 30, 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 30);
}

Test(virtio_balloon, deflated_pages_are_never_given_back_later)
{
	big_up(1ull << F_TELL);
	pages_to(0, FRAME_A, 300);
	/* 100 come back to the guest, which writes to them at once. */
	pages_to(1, FRAME_A + 100, 100);
	cr_assert_eq(counter(VIRTIO_CTR_DEFLATE_PAGES), 100);
	memset(ram(page(FRAME_A + 100)), 0x55, 100 * 4096);
	/* The rest of the frame: 412 pages held, the frame not whole. */
	pages_to(0, FRAME_A + 300, 212);
	expect(FRAME_A, 100, 0xaa);
	/* At the target all that is held goes, and only that. */
	wr(DEVCFG + 4, 4, 1024);
	cr_assert_eq(info().actual_pages, 1024);
	expect(FRAME_A, 100, 0);
	expect(FRAME_A + 100, 100, 0x55);
	expect(FRAME_A + 200, 312, 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 412);
	/* And nothing later either (the quiet flush). */
	loop_run_until(&fvm.loop, never, NULL, 700);
	expect(FRAME_A + 100, 100, 0x55);
}

Test(virtio_balloon, held_pages_survive_hostile_pfns)
{
	struct buf b = { RAM_GPA + PFN_BUF, 0, false };
	unsigned n = 0;
	uint32_t *pfns;

	big_up(1ull << F_TELL);
	pfns = ram(RAM_GPA + PFN_BUF);
	/* 511 pages of the frame, one of them twice: still not whole. */
	for (unsigned p = 0; p < 511; p++)
		pfns[n++] = (uint32_t)(page(FRAME_A + p) >> 12);
	pfns[n++] = (uint32_t)(page(FRAME_A + 7) >> 12);
	pfns[n++] = 5;                                   /* below RAM */
	pfns[n++] = 0xffffffffu;                         /* far beyond */
	pfns[n++] = (uint32_t)((RAM_GPA + BIG_RAM) >> 12); /* just past */
	b.len = n * 4;
	post(&dq[0], &b, 1);
	cr_assert(wait_used(&dq[0]));
	cr_assert_eq(counter(VIRTIO_CTR_FAIL_COUNT), 3);
	expect(FRAME_A, 512, 0xaa);
	/* Deflates of what was never inflated, or is no RAM: nothing. */
	n = 0;
	pfns[n++] = (uint32_t)(page(FRAME_B) >> 12);
	pfns[n++] = 0xffffffffu;
	pfns[n++] = 0;
	pfns[n++] = (uint32_t)(page(FRAME_A + 511) >> 12);
	b.len = n * 4;
	post(&dq[1], &b, 1);
	cr_assert(wait_used(&dq[1]));
	/* The last page makes it whole: 512 distinct pages go at once. */
	pages_to(0, FRAME_A + 511, 1);
	expect(FRAME_A, 512, 0);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 512);
	expect(FRAME_B, 512, 0xaa);
}

Test(virtio_balloon, without_must_tell_host_pages_go_at_once)
{
	big_up(0);
	cr_assert_not(virtio_has(t, F_TELL));
	pages_to(0, FRAME_A + 256, 256);
	expect(FRAME_A + 256, 256, 0);
	expect(FRAME_A, 256, 0xaa);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 256);
}

Test(virtio_balloon, a_pause_gives_held_pages_back_a_reset_forgets_them)
{
	struct device d = { .ops = &virtio_device_ops, .opaque = NULL };
	struct mvm_err err = { .msg = "" };

	big_up(1ull << F_TELL);
	d.opaque = t;
	pages_to(0, FRAME_A, 40);
	cr_assert_eq(d.ops->pause(&d, &err), 0, "%s", err.msg);
	expect(FRAME_A, 40, 0);
	cr_assert_eq(d.ops->resume(&d, &err), 0, "%s", err.msg);
	/* After a reset the driver holds nothing: none may go back. */
	pages_to(0, FRAME_B, 40);
	wr(CC + 0x14, 1, 0);
	settle();
	wr(DEVCFG + 4, 4, 1024);
	info();
	loop_run_until(&fvm.loop, never, NULL, 700);
	expect(FRAME_B, 40, 0xaa);
	cr_assert_eq(counter(VIRTIO_CTR_INFLATE_PAGES), 40);
}
