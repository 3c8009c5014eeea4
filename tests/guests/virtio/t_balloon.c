/*
 * test=balloon: a virtio-balloon driver at the protocol level (virtio
 * 1.2, 5.5), in step with a host test that drives the API:
 *
 *   1. take every feature offered; the queues are numbered as Linux does,
 *      skipping those of features not taken; put the statistics buffer
 *      on the statsq (its values below), then DRIVER_OK;
 *   2. touch pages=N pages (4096) and print "balloon: touched pages=N";
 *   3. wait for num_pages = N (the host's PATCH /balloon), inflate them
 *      256 PFNs a chain, set actual = N: "balloon: inflated pages=N";
 *   4. wait for num_pages = 0, deflate them, set actual = 0; the pages
 *      must read zero (the host gave them back): "balloon: deflated";
 *   5. with reporting, report 256 touched pages free: they read zero;
 *   6. with hinting, print "balloon: waiting for a hint run", wait for a
 *      command id above 1 (PATCH /balloon/hinting/start), send it, hint
 *      256 touched pages, send STOP, wait for DONE: they read zero.
 *
 * Whenever the device gives the statistics buffer back (each period), it
 * is refilled and put back: "balloon: stats round=R", with
 * total_memory 64 MiB, available_memory 12345678 and minor_faults R.
 * Waits end after wait=S seconds (60) with a failure.
 *
 * test=dynmem (bz_virtio, for virtio-mem's region above 4 GiB): a guest
 * that uses what the host test tells it, for dynamic memory's controller
 * to size. It takes the statistics queue but not DEFLATE_ON_OOM (so, as
 * Linux then does, what the balloon holds leaves total_memory), and
 * virtio-mem when there is one (t_virtio_mem.c's driver). Then, until a
 * 'q' on the console (or wait=S seconds, 300: a failure):
 *   - the balloon follows num_pages, inflating pages of a pool of pool=M
 *     MiB (96) and deflating them: "dynmem: balloon=N MiB";
 *   - virtio-mem follows requested_size: "dynmem: plugged=N MiB";
 *   - the statistics say total_memory = RAM - balloon + plugged and
 *     available_memory (and free_memory) = that less what is used: used=M
 *     MiB (16) at first, high=M (300) after an 'h', low=M (16) after an
 *     'l': "dynmem: used=N MiB".
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/uart.h"
#include "tests.h"

#define F_STATS 1
#define F_DEFLATE 2
#define F_HINT 3
#define F_REPORT 5
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define CFG_HINT_CMD 8
#define HINT_STOP 0
#define HINT_DONE 1
#define PFNS_PER_CHAIN 256
#define FREE_PAGES 256
#define MSIX_BASE 0x70
#define NSTATS 4

struct balloon {
	struct vdev d;
	int inflate, deflate, stats, hint, report; /* queue, or -1 */
	uint32_t *pfns;
	uint8_t *stats_buf;
	uint32_t stats_round;
	uint32_t wait_ms;
	/* What the statistics say: bytes. */
	uint64_t stat_total, stat_avail, stat_free;
};

static struct balloon b;

static bool has(unsigned bit)
{
	return b.d.features & VBIT(bit);
}

/* Linux's numbering: a queue of a feature not taken takes no number. */
static void number_queues(void)
{
	int next = 2;

	b.inflate = 0;
	b.deflate = 1;
	b.stats = has(F_STATS) ? next++ : -1;
	b.hint = has(F_HINT) ? next++ : -1;
	b.report = has(F_REPORT) ? next++ : -1;
}

static void stat_put(unsigned i, uint16_t tag, uint64_t val)
{
	memcpy(b.stats_buf + 10 * i, &tag, 2);
	memcpy(b.stats_buf + 10 * i + 2, &val, 8);
}

/* (Re)fill the statistics buffer and hand it to the device. */
static void stats_post(void)
{
	struct vbuf v = { (uintptr_t)b.stats_buf, NSTATS * 10, false };
	struct vq *q = &b.d.q[b.stats];

	stat_put(0, 3, b.stats_round);     /* minor_faults */
	stat_put(1, 5, b.stat_total);      /* total_memory */
	stat_put(2, 6, b.stat_avail);      /* available_memory */
	stat_put(3, 4, b.stat_free);       /* free_memory */
	vq_kick(q, vq_add(q, &v, 1));
}

/* The device gave the buffer back: fresh values, back it goes. */
static void stats_service(void)
{
	struct vq *q;
	struct vused u;

	if (b.stats < 0)
		return;
	q = &b.d.q[b.stats];
	if (q->used[1] == q->last_used || !vq_wait(q, &u))
		return;
	b.stats_round++;
	kprintf("balloon: stats round=%u\n", b.stats_round);
	stats_post();
}

static bool setup(uint64_t want)
{
	if (!vdev_open(&b.d, VIRTIO_ID_BALLOON, 0))
		return check("balloon open", false, "no virtio-balloon device");
	if (!vdev_negotiate(&b.d, want))
		return check("balloon features", false, "status 0x%x",
			     vdev_status(&b.d));
	vdev_msix(&b.d, MSIX_BASE);
	number_queues();
	for (unsigned i = 0; i < b.d.nqueues && i < VQ_MAX; i++)
		if (!vdev_queue(&b.d, i, 0, (uint16_t)i))
			return check("balloon queues", false, "queue %u", i);
	b.pfns = palloc_page();
	b.stats_buf = palloc_page();
	if (b.stats >= 0)
		stats_post();
	vdev_driver_ok(&b.d);
	kprintf("balloon: features 0x%llx queues %u\n",
		(unsigned long long)b.d.features, b.d.nqueues);
	return true;
}

/* Wait until the config field at off holds want (the statsq served). */
static bool wait_cfg(const char *what, unsigned off, uint32_t want,
		     bool at_least)
{
	struct deadline dl;
	uint32_t v;

	deadline_start(&dl, b.wait_ms);
	for (;;) {
		v = vdev_cfg32(&b.d, off);
		if (v == want || (at_least && v >= want))
			return true;
		stats_service();
		if (deadline_expired(&dl))
			return check(what, false, "config %u is %u, want %u",
				     off, v, want);
		delay_us(1000);
	}
}

/* PFNs of n pages from p, a chain of at most 256 at a time, on q. */
static bool send_pfns(int q, const uint8_t *p, uint32_t n)
{
	for (uint32_t done = 0; done < n;) {
		uint32_t k = n - done < PFNS_PER_CHAIN ? n - done :
							 PFNS_PER_CHAIN;
		struct vbuf v = { (uintptr_t)b.pfns, k * 4, false };

		for (uint32_t i = 0; i < k; i++)
			b.pfns[i] = (uint32_t)(((uintptr_t)p +
						(uint64_t)(done + i) *
						PAGE_SIZE) >> 12);
		if (vq_call(&b.d.q[q], &v, 1) < 0)
			return check("balloon chain", false, "queue %d: no "
				     "answer", q);
		done += k;
	}
	return true;
}

static bool all_zero(const uint8_t *p, uint32_t pages)
{
	for (uint64_t i = 0; i < (uint64_t)pages * PAGE_SIZE; i += 64)
		if (p[i] || p[i + 63])
			return false;
	return true;
}

static void touch(uint8_t *p, uint32_t pages)
{
	memset(p, 0x5a, (size_t)pages * PAGE_SIZE);
}

static bool inflate_deflate(uint8_t *p, uint32_t n)
{
	if (!wait_cfg("balloon target", CFG_NUM_PAGES, n, false) ||
	    !send_pfns(b.inflate, p, n))
		return false;
	vdev_cfg_write32(&b.d, CFG_ACTUAL, n);
	kprintf("balloon: inflated pages=%u actual=%u\n", n,
		vdev_cfg32(&b.d, CFG_ACTUAL));
	if (!wait_cfg("balloon target 0", CFG_NUM_PAGES, 0, false) ||
	    !send_pfns(b.deflate, p, n))
		return false;
	vdev_cfg_write32(&b.d, CFG_ACTUAL, 0);
	kprintf("balloon: deflated\n");
	return check("balloon deflated pages read zero", all_zero(p, n),
		     "the host kept them");
}

/* One chain of writable buffers, each a range of free pages. */
static bool send_ranges(int q, uint8_t *p, uint32_t pages)
{
	uint32_t len = pages / 4 * PAGE_SIZE;
	struct vbuf v[4];

	for (unsigned i = 0; i < 4; i++)
		v[i] = (struct vbuf){ (uintptr_t)p + i * len, len, true };
	return vq_call(&b.d.q[q], v, 4) >= 0;
}

static void report(void)
{
	uint8_t *p = palloc_pages(FREE_PAGES);

	if (b.report < 0 || !p)
		return;
	touch(p, FREE_PAGES);
	check("balloon report", send_ranges(b.report, p, FREE_PAGES),
	      "no answer");
	check("balloon reported pages read zero", all_zero(p, FREE_PAGES),
	      "the host kept them");
}

static bool send_cmd(uint32_t cmd)
{
	static uint32_t *buf;
	struct vbuf v;

	if (!buf)
		buf = palloc_page();
	*buf = cmd;
	v = (struct vbuf){ (uintptr_t)buf, 4, false };
	return vq_call(&b.d.q[b.hint], &v, 1) >= 0;
}

static void hint(void)
{
	uint8_t *p = palloc_pages(FREE_PAGES);
	uint32_t cmd;

	if (b.hint < 0 || !p)
		return;
	touch(p, FREE_PAGES);
	kprintf("balloon: waiting for a hint run\n");
	if (!wait_cfg("balloon hint run", CFG_HINT_CMD, HINT_DONE + 1, true))
		return;
	cmd = vdev_cfg32(&b.d, CFG_HINT_CMD);
	if (!send_cmd(cmd) || !send_ranges(b.hint, p, FREE_PAGES) ||
	    !send_cmd(HINT_STOP)) {
		fail("balloon hint", "no answer");
		return;
	}
	if (!wait_cfg("balloon hint done", CFG_HINT_CMD, HINT_DONE, false))
		return;
	kprintf("balloon: hint run %u done\n", cmd);
	check("balloon hinted pages read zero", all_zero(p, FREE_PAGES),
	      "the host kept them");
}

void test_balloon(const struct bootinfo *bi)
{
	uint32_t n = (uint32_t)cmdline_u64_or(bi->cmdline, "pages", 4096);
	uint64_t want = VBIT(VIRTIO_F_VERSION_1) | VBIT(F_STATS) |
			VBIT(F_DEFLATE) | VBIT(F_HINT) | VBIT(F_REPORT);
	uint8_t *p;

	b.wait_ms = (uint32_t)cmdline_u64_or(bi->cmdline, "wait", 60) * 1000;
	b.stat_total = 64 * MIB;
	b.stat_avail = 12345678;
	b.stat_free = 32 * MIB;
	if (!setup(want))
		return;
	p = palloc_pages(n);
	if (!check("balloon pages", p != NULL, "no %u free pages", n))
		return;
	touch(p, n);
	kprintf("balloon: touched pages=%u\n", n);
	if (!inflate_deflate(p, n))
		return;
	report();
	hint();
}

/* test=dynmem's guest: what it holds, plugs and uses, in pages and MiB. */
struct dyn {
	uint8_t *pool;
	uint32_t pool_pages, inflated;
	uint64_t ram_mib, plugged_mib, used_mib;
	bool vmem;
};

static uint64_t ram_mib(const struct bootinfo *bi)
{
	uint64_t sum = 0;

	for (int i = 0; i < bi->nmmap; i++)
		if (bi->mmap[i].type == E820_RAM)
			sum += bi->mmap[i].size;
	return sum / MIB;
}

/* The statistics of the guest as it is now. */
static void dyn_stats(const struct dyn *g)
{
	uint64_t total = (g->ram_mib + g->plugged_mib) * MIB -
			 (uint64_t)g->inflated * PAGE_SIZE;
	uint64_t used = g->used_mib * MIB;

	b.stat_total = total;
	b.stat_avail = b.stat_free = used < total ? total - used : 0;
}

/* Inflate or deflate the pool's pages to the host's num_pages. */
static bool dyn_balloon(struct dyn *g)
{
	uint32_t want = vdev_cfg32(&b.d, CFG_NUM_PAGES);

	if (want > g->pool_pages)
		want = g->pool_pages; /* what the pool holds, no more */
	if (want == g->inflated)
		return true;
	if (want > g->inflated &&
	    !send_pfns(b.inflate, g->pool + (uint64_t)g->inflated * PAGE_SIZE,
		       want - g->inflated))
		return false;
	if (want < g->inflated &&
	    !send_pfns(b.deflate, g->pool + (uint64_t)want * PAGE_SIZE,
		       g->inflated - want))
		return false;
	g->inflated = want;
	vdev_cfg_write32(&b.d, CFG_ACTUAL, want);
	kprintf("dynmem: balloon=%u MiB\n", want / 256);
	return true;
}

static bool dyn_vmem(struct dyn *g)
{
	uint64_t was = g->plugged_mib;

	if (!g->vmem)
		return true;
	if (!vmem_follow(&g->plugged_mib))
		return false;
	if (g->plugged_mib != was)
		kprintf("dynmem: plugged=%llu MiB\n",
			(unsigned long long)g->plugged_mib);
	return true;
}

/* A command from the console: false on 'q'. */
static bool dyn_command(struct dyn *g, const struct bootinfo *bi)
{
	int c = uart_getc_nowait();

	if (c == 'q')
		return false;
	if (c == 'h' || c == 'l') {
		g->used_mib = cmdline_u64_or(bi->cmdline, c == 'h' ? "high" :
					     "low", c == 'h' ? 300 : 16);
		kprintf("dynmem: used=%llu MiB\n",
			(unsigned long long)g->used_mib);
	}
	return true;
}

static bool dyn_setup(struct dyn *g, const struct bootinfo *bi)
{
	uint64_t want = VBIT(VIRTIO_F_VERSION_1) | VBIT(F_STATS);

	uint32_t pool = (uint32_t)cmdline_u64_or(bi->cmdline, "pool", 96) *
			256;

	g->ram_mib = ram_mib(bi);
	g->used_mib = cmdline_u64_or(bi->cmdline, "used", 16);
	dyn_stats(g);
	if (!setup(want))
		return false;
	g->vmem = vmem_open(bi);
	/* Last, and not zeroed: zeroing it in ring 0 takes long under PVM. */
	g->pool = palloc_run(pool, &g->pool_pages);
	if (!check("dynmem pool", g->pool && g->pool_pages == pool, "%u of "
		   "%u pages", g->pool_pages, pool))
		return false;
	kprintf("dynmem: ready ram=%llu MiB virtio-mem %s\n",
		(unsigned long long)g->ram_mib, g->vmem ? "yes" : "no");
	return true;
}

void test_dynmem(const struct bootinfo *bi)
{
	struct dyn g = { 0 };
	uint32_t ms = 0;

	b.wait_ms = (uint32_t)cmdline_u64_or(bi->cmdline, "wait", 300) * 1000;
	if (!dyn_setup(&g, bi))
		return;
	/* A turn takes 1 ms at least (delay_us, which owns the PIT). */
	while (dyn_command(&g, bi)) {
		if (!dyn_balloon(&g) || !dyn_vmem(&g))
			return;
		dyn_stats(&g);
		stats_service();
		if (++ms >= b.wait_ms) {
			fail("dynmem", "no 'q' within %u turns of 1 ms or more",
			     b.wait_ms);
			return;
		}
		delay_us(1000);
	}
	kprintf("dynmem: done balloon=%u MiB plugged=%llu MiB\n",
		g.inflated / 256, (unsigned long long)g.plugged_mib);
}
