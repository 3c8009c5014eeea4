/*
 * test=memcount: guest RAM that must keep what the guest wrote into it,
 * the workload of the snapshot tests and of bench/snapshot. A snapshot
 * that restores a page from the wrong moment (or at the wrong place)
 * shows as a word that does not hold what this kernel last wrote there.
 *
 * Every word of page p holds word_value(c, p) after round c: the round
 * number in the low half, the page number in the high half.
 *
 * Rounds (the default): pages=N (256) pages from lib/palloc, the first
 * free RAM above 1 MiB after this kernel's image, its ring-3 stack and
 * page tables. Round c = 1, 2, ... first checks that every word of every
 * page holds word_value(c - 1, p) (zero before round 1: palloc's), then
 * writes word_value(c, p). A wrong word prints
 *   memcount: STALE page P word W: got X want Y (gpa G)
 * and ends the machine with the failure status. Every report=R rounds a
 * line "memcount: round=C"; rounds=M ends after M rounds with "ALL OK".
 * test=memcount_selftest is the same run on 16 pages that puts round 1's
 * value back into page 8, word 7 after round 2, as a stale page would
 * be: round 3 must report it (and the machine ends failed).
 *
 * touch=all: every free page of RAM below 4 GiB above 1 MiB (all of the
 * guest's RAM but the first MiB, this kernel and its tables) gets
 * word_value(1, p) in every word; then "memcount: touched pages=N" and
 * the guest idles: hlt between ticks of the LAPIC timer (tick=US, 10000),
 * each tick one poll of COM1 for a command byte:
 *   d  dirty dirty=PCT (5) percent of the pages, spread evenly: each of
 *      them gets word_value(g + 1, p) for the g-th 'd'; then
 *      "memcount: dirtied pages=K gen=G"
 *   c  check every page (dirtied ones hold word_value(g + 1, p), the
 *      others word_value(1, p)); "memcount: checked pages=N gen=G" or
 *      STALE as above
 *   q  check, then end with "ALL OK"
 * beat=1 also prints one '.' per tick, so that a host can see when the
 * guest runs again (after a snapshot's restore) to within one tick.
 *
 * touch=all ring=N: the load of a live migration. After the touch, the
 * first N touched pages (page numbers 0 to N-1) are a ring rewritten
 * round after round, as in the rounds mode, for ever: after ring round
 * k they hold word_value(k + 1, p) (the touch was round 0), each round
 * first checks them for round k - 1's value (STALE as above), and every
 * report=R rounds (default 2^20 / N) "memcount: round=K". After each
 * round one poll of COM1: 'c' checks every page, the ring at its round
 * and the rest as touched ("memcount: checked pages=N gen=0"), and the
 * ring goes on; 'q' checks and ends with "ALL OK"; 'd' is not taken.
 * No tick: the ring never idles. beat=1 prints a '.' about every
 * millisecond of the TSC instead (its rate measured against the PIT
 * before ring 3), checked every 16 pages.
 *
 * Everything but the tick's setup runs in ring 3 (lib/user.c), where some
 * hosts run the loops natively; the lines' port I/O traps to ring 0.
 */
#include "../lib/cmdline.h"
#include "../lib/io.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "../lib/uart.h"
#include "../lib/user.h"
#include "tests.h"

#define WORDS (PAGE_SIZE / 8)
#define MAX_RUNS 32
#define SELFTEST_PAGES 16
#define SELFTEST_WORD 7
/* Pages times rounds between two lines: 200-500 ms where ring 3 is native. */
#define REPORT_PAGE_ROUNDS (1u << 20)
/* Pages between two looks at the TSC for ring=N's beat. */
#define BEAT_PAGES 16

struct run {
	uint64_t *w;    /* its first page's words */
	uint32_t pages;
	uint32_t first; /* the number of its first page */
};

struct memcount {
	struct run runs[MAX_RUNS];
	unsigned nruns;
	uint32_t pages;
	uint32_t report, limit;
	uint32_t dirty_pct, gen;
	uint32_t ring, ring_round; /* touch=all ring=N, and its last round */
	uint64_t tsc_per_ms, beat_at; /* ring=N's beat */
	bool beat, selftest;
};

static struct memcount mc;

static bool touch_asked(const char *cl)
{
	char v[8];

	return cmdline_str(cl, "touch", v, sizeof(v)) == 1 && !strcmp(v, "all");
}

static inline uint64_t word_value(uint32_t c, uint32_t p)
{
	return c ? (uint64_t)p << 32 | c : 0;
}

static NORETURN void stale(const uint64_t *page, uint32_t p, unsigned w,
			   uint64_t want)
{
	kprintf("%smemcount: STALE page %u word %u: got 0x%llx want 0x%llx "
		"(gpa 0x%llx)\n", mc.beat ? "\n" : "", p, w,
		(unsigned long long)page[w], (unsigned long long)want,
		(unsigned long long)(uintptr_t)&page[w]);
	fail("memcount", "page %u word %u is stale", p, w);
	report_finish();
}

/* Checks that page p holds old everywhere, then writes now. */
static void page_round(uint64_t *page, uint32_t p, uint64_t old, uint64_t now)
{
	for (unsigned i = 0; i < WORDS; i++) {
		if (page[i] != old)
			stale(page, p, i, old);
		page[i] = now;
	}
}

static void rounds(void)
{
	uint64_t *w0 = mc.runs[0].w;
	uint32_t c;

	for (c = 1; !mc.limit || c <= mc.limit; c++) {
		uint64_t *page = w0;

		for (uint32_t p = 0; p < mc.pages; p++, page += WORDS)
			page_round(page, p, word_value(c - 1, p),
				   word_value(c, p));
		if (mc.selftest && c == 2)
			w0[mc.pages / 2 * WORDS + SELFTEST_WORD] =
				word_value(1, mc.pages / 2);
		if (c % mc.report == 0)
			kprintf("memcount: round=%u\n", c);
	}
	kprintf("memcount: done rounds=%u\n", c - 1);
	pass("memcount");
}

/* The g-th dirtying touches page p: pct percent of them, evenly spread. */
static bool dirtied(uint32_t p)
{
	return (p * mc.dirty_pct) / 100 != ((p + 1) * mc.dirty_pct) / 100;
}

static uint64_t touch_value(uint32_t p)
{
	if (p < mc.ring)
		return word_value(mc.ring_round + 1, p);
	return word_value(mc.gen && dirtied(p) ? mc.gen + 1 : 1, p);
}

/* Page number p of the touched RAM. */
static uint64_t *touched_page(const struct run *r, uint32_t p)
{
	return r->w + (size_t)(p - r->first) * WORDS;
}

static void fill(uint64_t *page, uint64_t v)
{
	for (unsigned i = 0; i < WORDS; i++)
		page[i] = v;
}

static void check_all(void)
{
	for (unsigned i = 0; i < mc.nruns; i++) {
		const struct run *r = &mc.runs[i];

		for (uint32_t p = r->first; p < r->first + r->pages; p++) {
			const uint64_t *page = touched_page(r, p);
			uint64_t want = touch_value(p);

			for (unsigned w = 0; w < WORDS; w++)
				if (page[w] != want)
					stale(page, p, w, want);
		}
	}
}

/* Takes every free page left, writes it. */
static bool touch_all(void)
{
	uint32_t got;
	uint64_t *w;

	while ((w = palloc_run(UINT32_MAX, &got))) {
		struct run *r = &mc.runs[mc.nruns];

		if (mc.nruns == MAX_RUNS) {
			kprintf("memcount: more than %u runs of RAM: the "
				"rest stays untouched\n", MAX_RUNS);
			break;
		}
		r->w = w;
		r->pages = got;
		r->first = mc.pages;
		for (uint32_t p = r->first; p < r->first + got; p++)
			fill(touched_page(r, p), word_value(1, p));
		mc.pages += got;
		mc.nruns++;
	}
	if (!mc.pages) {
		fail("memcount", "no free RAM to touch");
		return false;
	}
	kprintf("memcount: touched pages=%u\n", mc.pages);
	return true;
}

static void dirty(void)
{
	uint32_t n = 0;

	mc.gen++;
	for (unsigned i = 0; i < mc.nruns; i++) {
		const struct run *r = &mc.runs[i];

		for (uint32_t p = r->first; p < r->first + r->pages; p++)
			if (dirtied(p)) {
				fill(touched_page(r, p), touch_value(p));
				n++;
			}
	}
	kprintf("%smemcount: dirtied pages=%u gen=%u\n", mc.beat ? "\n" : "",
		n, mc.gen);
}

/* Checks every page, prints the line: 'c' and 'q'. */
static void check_command(void)
{
	check_all();
	kprintf("%smemcount: checked pages=%u gen=%u\n", mc.beat ? "\n" : "",
		mc.pages, mc.gen);
}

static void idle(void)
{
	for (;;) {
		int c;

		user_idle();
		if (mc.beat)
			uart_putc('.');
		c = uart_getc_nowait();
		if (c == 'd') {
			dirty();
		} else if (c == 'c' || c == 'q') {
			check_command();
			if (c == 'q') {
				pass("memcount");
				return;
			}
		}
	}
}

/* ring=N's beat: a '.' once a millisecond of the TSC has gone by. */
static void ring_beat(void)
{
	uint64_t now = rdtsc();

	/* Unsigned: a TSC that went back (a new host) beats at once too. */
	if (now - mc.beat_at >= mc.tsc_per_ms) {
		mc.beat_at = now;
		uart_putc('.');
	}
}

/* One ring round: round k - 1's value checked, round k's written. */
static void ring_round(uint32_t k)
{
	uint32_t p = 0;

	for (unsigned i = 0; i < mc.nruns && p < mc.ring; i++) {
		const struct run *r = &mc.runs[i];

		for (; p < r->first + r->pages && p < mc.ring; p++) {
			page_round(touched_page(r, p), p, word_value(k, p),
				   word_value(k + 1, p));
			if (mc.beat && p % BEAT_PAGES == 0)
				ring_beat();
		}
	}
	mc.ring_round = k;
}

static void ring(void)
{
	if (mc.ring > mc.pages)
		mc.ring = mc.pages;
	kprintf("memcount: ring pages=%u report=%u\n", mc.ring, mc.report);
	mc.beat_at = rdtsc();
	for (uint32_t k = 1;; k++) {
		int c;

		ring_round(k);
		if (k % mc.report == 0)
			kprintf("%smemcount: round=%u\n", mc.beat ? "\n" : "",
				k);
		c = uart_getc_nowait();
		if (c == 'c' || c == 'q') {
			check_command();
			if (c == 'q') {
				pass("memcount");
				return;
			}
		}
	}
}

static void memcount_ring3(void *arg)
{
	const struct bootinfo *bi = arg;
	uint64_t *w;

	if (touch_asked(bi->cmdline)) {
		if (touch_all()) {
			if (mc.ring)
				ring();
			else
				idle();
		}
		return;
	}
	w = palloc_pages(mc.pages);
	if (!w) {
		fail("memcount", "pages=%u: not that much free RAM", mc.pages);
		return;
	}
	mc.runs[0].w = w;
	mc.runs[0].pages = mc.pages;
	mc.nruns = 1;
	kprintf("memcount: pages=%u at 0x%llx report=%u\n", mc.pages,
		(unsigned long long)(uintptr_t)w, mc.report);
	rounds();
}

/*
 * TSC ticks in a millisecond, measured over 16 ms of the PIT (a shift:
 * the 32-bit builds have no 64-bit division); ring 0.
 */
static uint64_t tsc_per_ms(void)
{
	uint64_t t0 = rdtsc();
	uint64_t per_ms;

	delay_us(16000);
	per_ms = (rdtsc() - t0) >> 4;
	return per_ms ? per_ms : 1;
}

void test_memcount(const struct bootinfo *bi, bool selftest)
{
	const char *cl = bi->cmdline;
	uint64_t pages = cmdline_u64_or(cl, "pages",
					selftest ? SELFTEST_PAGES : 256);
	uint64_t tick = cmdline_u64_or(cl, "tick", 10000);
	uint64_t ring = cmdline_u64_or(cl, "ring", 0);

	if (!pages || pages > UINT32_MAX / PAGE_SIZE) {
		fail("memcount", "pages=%llu: out of range",
		     (unsigned long long)pages);
		return;
	}
	mc.selftest = selftest;
	mc.pages = (uint32_t)pages;
	mc.report = (uint32_t)cmdline_u64_or(cl, "report",
		selftest ? 1 : (REPORT_PAGE_ROUNDS + mc.pages - 1) / mc.pages);
	if (!mc.report)
		mc.report = 1;
	mc.limit = (uint32_t)cmdline_u64_or(cl, "rounds", selftest ? 5 : 0);
	mc.dirty_pct = (uint32_t)cmdline_u64_or(cl, "dirty", 5);
	if (mc.dirty_pct > 100)
		mc.dirty_pct = 100;
	mc.beat = cmdline_u64_or(cl, "beat", 0) != 0;
	if (touch_asked(cl) && ring) {
		/* Below 4 GiB anyway; ring() cuts it to the pages touched. */
		mc.ring = ring > UINT32_MAX / PAGE_SIZE ? UINT32_MAX / PAGE_SIZE
							: (uint32_t)ring;
		mc.report = (uint32_t)cmdline_u64_or(cl, "report",
			(REPORT_PAGE_ROUNDS + mc.ring - 1) / mc.ring);
		if (!mc.report)
			mc.report = 1;
		mc.pages = 0;
		mc.tsc_per_ms = tsc_per_ms();
	} else if (touch_asked(cl)) {
		mc.pages = 0;
		if (!tick || tick > 1000000 || !user_tick_start((uint32_t)tick))
			kprintf("memcount: no tick (tick=%llu): idling "
				"busy\n", (unsigned long long)tick);
	}
	user_run(bi, memcount_ring3, (void *)bi);
}
