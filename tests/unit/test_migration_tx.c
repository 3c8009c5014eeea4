/*
 * The page batcher (mig_tx_fill) into the receiver (mig_rx_feed): a
 * guest's RAM with data, zero pages and pages never touched goes over in
 * a first pass and a dirty pass and comes out byte-identical, whatever
 * the buffer's size; the buffer is never overrun. And the switchover:
 * when the source stops passing pages for the last one.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mvm/migration.h"

#include "mig_fixture.h"

#define PG FIX_MIG_PAGE
#define MiB (1ull << 20)

/* Region 0: 2 MiB at gpa 0; region 1: 1 MiB at 4 GiB. */
#define R0_PAGES 512u
#define R1_PAGES 256u

struct ram {
	uint8_t *mem;
	struct guest_mem gm;
};

/* Fresh anonymous memory, 4 KiB pages: untouched pages are absent. */
static void ram_new(struct ram *r)
{
	r->mem = mmap(NULL, 3 * MiB, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(r->mem, MAP_FAILED);
	madvise(r->mem, 3 * MiB, MADV_NOHUGEPAGE);
	memset(&r->gm, 0, sizeof(r->gm));
	cr_assert_eq(gm_add_host(&r->gm, 0, r->mem, 2 * MiB), 0);
	cr_assert_eq(gm_add_host(&r->gm, 1ull << 32, r->mem + 2 * MiB, MiB),
		     0);
}

static void ram_free(struct ram *r)
{
	munmap(r->mem, 3 * MiB);
}

static uint8_t *page(struct ram *r, int region, uint64_t p)
{
	return r->gm.r[region].hva + p * PG;
}

/*
 * Data in region 0's pages 0-299 (more than one section's 256) and 511,
 * 300-309 written and zeroed again, region 1's pages 0-2 and 255; the
 * rest never touched. 305 pages of data in all.
 */
static void ram_pattern(struct ram *r)
{
	for (uint64_t p = 0; p < 300; p++)
		fix_mig_fill_page(page(r, 0, p), p, 0);
	for (uint64_t p = 300; p < 310; p++)
		memset(page(r, 0, p), 0, PG);
	fix_mig_fill_page(page(r, 0, 511), 511, 0);
	for (uint64_t p = 0; p < 3; p++)
		fix_mig_fill_page(page(r, 1, p), 1000 + p, 0);
	fix_mig_fill_page(page(r, 1, 255), 1255, 0);
}

/* Sections of buf into rx; none may be an event. */
static void deliver(struct mig_rx *rx, const uint8_t *buf, size_t len)
{
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev;
	ssize_t n = mig_rx_feed(rx, buf, len, &ev, &err);

	cr_assert_eq(n, (ssize_t)len, "%s", err.msg);
	cr_assert_eq(ev, MIG_RX_NONE);
}

/* A stream's start: HELLO in, then the owner sets up gm. */
static void start(struct mig_rx *rx, struct ram *src, struct ram *dst)
{
	struct fix_stream s = { 0 };
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev;

	cr_assert_eq(fix_stream_hello(&s, &src->gm), 0);
	mig_rx_init(rx);
	cr_assert_eq(mig_rx_feed(rx, s.b, s.len, &ev, &err), (ssize_t)s.len,
		     "%s", err.msg);
	cr_assert_eq(ev, MIG_RX_HELLO);
	rx->gm = &dst->gm;
	free(s.b);
}

/* One pass, a buffer of cap bytes at a time, then its PASS_END. */
static struct mig_tx_stats pass(struct mig_rx *rx, struct ram *src,
				unsigned long *const dirty[], size_t cap)
{
	struct mig_tx_cursor c = { 0 };
	struct mig_tx_stats st = { 0 };
	/* Guard bytes after cap: the batcher must never write there. */
	uint8_t *buf = malloc(cap + 64), end[4];
	struct fix_stream s = { 0 };
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev;
	int rounds = 0;

	memset(buf + cap, 0xa5, 64);
	while (!c.done) {
		size_t n = mig_tx_fill(&src->gm, dirty, &c, buf, cap, &st);

		cr_assert_leq(n, cap);
		cr_assert(n || c.done, "no progress with %zu bytes", cap);
		deliver(rx, buf, n);
		cr_assert_lt(++rounds, 100000);
	}
	for (int i = 0; i < 64; i++)
		cr_assert_eq(buf[cap + i], 0xa5, "wrote past cap %zu", cap);
	cr_assert_eq(mig_tx_fill(&src->gm, dirty, &c, buf, cap, &st), 0);
	free(buf);
	memcpy(end, &(uint32_t){ rx->passes + 1 }, 4);
	cr_assert_eq(fix_stream_put(&s, MIG_PASS_END, end, 4), 0);
	cr_assert_eq(mig_rx_feed(rx, s.b, s.len, &ev, &err), (ssize_t)s.len,
		     "%s", err.msg);
	cr_assert_eq(ev, MIG_RX_PASS_END);
	free(s.b);
	return st;
}

static void assert_same_ram(struct ram *a, struct ram *b)
{
	for (uint64_t off = 0; off < 3 * MiB; off += PG)
		cr_assert_eq(memcmp(a->mem + off, b->mem + off, PG), 0,
			     "page at host offset 0x%llx differs",
			     (unsigned long long)off);
}

static void set_bit(unsigned long *bm, uint64_t p)
{
	bm[p / 64] |= 1UL << (p % 64);
}

/* One round trip: the first pass, then a dirty pass; buffers of cap. */
static void round_trip(size_t cap)
{
	struct ram src, dst;
	struct mig_rx rx;
	struct mig_tx_stats st;
	unsigned long bm0[R0_PAGES / 64] = { 0 }, bm1[R1_PAGES / 64] = { 0 };
	unsigned long *const dirty[] = { bm0, bm1 };

	ram_new(&src);
	ram_new(&dst);
	ram_pattern(&src);
	start(&rx, &src, &dst);

	st = pass(&rx, &src, NULL, cap);
	cr_assert_eq(st.pages_data, 305, "cap %zu", cap);
	cr_assert_eq(st.pages_zero, 0);
	cr_assert_eq(st.pages_skipped, R0_PAGES + R1_PAGES - 305);
	cr_assert_eq(rx.pages_data, 305);
	assert_same_ram(&src, &dst);

	/*
	 * The guest runs on: new data in pages 5 and 400 (never touched
	 * before), 10-19 and region 1's page 1 zeroed, page 300 (zero)
	 * marked but unchanged, region 1's 100-120 new data; all marked.
	 */
	fix_mig_fill_page(page(&src, 0, 5), 5, 9);
	fix_mig_fill_page(page(&src, 0, 400), 400, 9);
	set_bit(bm0, 5);
	set_bit(bm0, 400);
	for (uint64_t p = 10; p < 20; p++) {
		memset(page(&src, 0, p), 0, PG);
		set_bit(bm0, p);
	}
	set_bit(bm0, 300);
	memset(page(&src, 1, 1), 0, PG);
	set_bit(bm1, 1);
	for (uint64_t p = 100; p <= 120; p++) {
		fix_mig_fill_page(page(&src, 1, p), p, 9);
		set_bit(bm1, p);
	}
	cr_assert_eq(mig_dirty_count(&src.gm, dirty), 2 + 10 + 1 + 1 + 21);
	st = pass(&rx, &src, dirty, cap);
	cr_assert_eq(st.pages_data, 2 + 21);
	cr_assert_eq(st.pages_zero, 10 + 1 + 1);
	cr_assert_eq(st.pages_skipped, 0);
	cr_assert_eq(rx.pages_zero, 12);
	cr_assert_eq(rx.passes, 2);
	assert_same_ram(&src, &dst);

	mig_rx_fini(&rx);
	ram_free(&src);
	ram_free(&dst);
}

Test(mig_tx, round_trip_in_whole_sections)
{
	round_trip(MIG_PAGES_SECTION_MAX);
}

Test(mig_tx, round_trip_in_buffers_of_many_sizes)
{
	static const size_t caps[] = {
		MIG_HDR_SIZE + MIG_PAGES_HDR + PG,         /* one page */
		MIG_HDR_SIZE + MIG_PAGES_HDR + 3 * PG + 39, /* 3, nearly ZERO */
		MIG_PAGES_SECTION_MAX - 1,
		4 * MIG_PAGES_SECTION_MAX + 77,
		64 * MiB,
	};

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		round_trip(caps[i]);
}

Test(mig_tx, a_buffer_too_small_for_a_page_makes_no_section)
{
	struct ram src;
	struct mig_tx_cursor c = { 0 };
	uint8_t buf[MIG_HDR_SIZE + MIG_PAGES_HDR + PG];

	ram_new(&src);
	ram_pattern(&src);
	cr_assert_eq(mig_tx_fill(&src.gm, NULL, &c, buf, sizeof(buf) - 1,
				 NULL), 0);
	cr_assert_not(c.done);
	cr_assert_eq(c.region, 0);
	cr_assert_eq(c.page, 0);
	cr_assert_eq(mig_tx_fill(&src.gm, NULL, &c, buf, sizeof(buf), NULL),
		     sizeof(buf));
	cr_assert_eq(c.page, 1);
	ram_free(&src);
}

Test(mig_tx, sections_hold_at_most_256_pages_of_one_kind)
{
	struct ram src;
	struct mig_tx_cursor c = { 0 };
	size_t cap = 4 * MIG_PAGES_SECTION_MAX, n, off = 0;
	uint8_t *buf = malloc(cap);
	unsigned long bm0[R0_PAGES / 64], bm1[R1_PAGES / 64] = { 0 };
	unsigned long *const dirty[] = { bm0, bm1 };
	/* npages, kind: data 0-299, zero 300-510 (some never touched), 511 */
	uint32_t want[][2] = { { 256, 0 }, { 44, 0 }, { 211, 1 }, { 1, 0 } };
	int i = 0;

	ram_new(&src);
	ram_pattern(&src);
	memset(bm0, 0xff, sizeof(bm0)); /* all of region 0 */
	n = mig_tx_fill(&src.gm, dirty, &c, buf, cap, NULL);
	cr_assert(c.done);
	while (off < n) {
		struct mig_hdr h;
		uint32_t np, kind;

		cr_assert_eq(mig_hdr_decode(buf + off, &h, NULL), 0);
		cr_assert_eq(h.type, MIG_PAGES);
		cr_assert_eq(mig_payload_check(&h, buf + off + MIG_HDR_SIZE,
					       NULL), 0);
		memcpy(&np, buf + off + MIG_HDR_SIZE + 8, 4);
		memcpy(&kind, buf + off + MIG_HDR_SIZE + 12, 4);
		cr_assert_lt(i, 4);
		cr_assert_eq(np, want[i][0], "section %d: %u pages", i, np);
		cr_assert_eq(kind, want[i][1], "section %d: kind %u", i, kind);
		off += MIG_HDR_SIZE + h.len;
		i++;
	}
	cr_assert_eq(i, 4);
	free(buf);
	ram_free(&src);
}

Test(mig_tx, dirty_count_ignores_bits_past_a_regions_end)
{
	struct guest_mem gm = { .nr = 0 };
	static uint8_t mem[(64 + 70) * PG];
	unsigned long a[1] = { ~0UL }, b[2] = { ~0UL, ~0UL };
	unsigned long *const dirty[] = { a, b };
	unsigned long *const none[] = { NULL, b };

	gm_add_host(&gm, 0, mem, 64 * PG);
	gm_add_host(&gm, 1ull << 32, mem + 64 * PG, 70 * PG);
	cr_assert_eq(mig_dirty_count(&gm, dirty), 64 + 70);
	cr_assert_eq(mig_dirty_count(&gm, none), 70);
	cr_assert_eq(mig_dirty_count(&gm, NULL), 0);
	b[1] = 0x40; /* page 70: past the end */
	cr_assert_eq(mig_dirty_count(&gm, dirty), 64 + 64);
}

/* A pass through mig_tx_fill_iov: the iovecs gathered, then delivered. */
static struct mig_tx_stats pass_iov(struct mig_rx *rx, struct ram *src,
				    unsigned long *const dirty[],
				    unsigned iovcap, size_t max)
{
	struct mig_tx_cursor c = { 0 };
	struct mig_tx_stats st = { 0 };
	struct iovec *iov = calloc(iovcap, sizeof(*iov));
	uint8_t *hbuf = malloc(64 * 1024), *out = malloc(max);
	int rounds = 0;

	while (!c.done) {
		unsigned niov = 0;
		size_t n = mig_tx_fill_iov(&src->gm, dirty, &c, hbuf,
					   64 * 1024, iov, iovcap, &niov, max,
					   &st), got = 0;

		cr_assert_leq(n, max);
		cr_assert_leq(niov, iovcap);
		cr_assert(n || c.done, "no progress: %u iovecs, %zu bytes",
			  iovcap, max);
		for (unsigned i = 0; i < niov; i++) {
			memcpy(out + got, iov[i].iov_base, iov[i].iov_len);
			got += iov[i].iov_len;
		}
		cr_assert_eq(got, n);
		deliver(rx, out, n);
		cr_assert_lt(++rounds, 100000);
	}
	free(iov);
	free(hbuf);
	free(out);
	return st;
}

/* The last pass, from RAM itself: the same bytes as a copied one. */
Test(mig_tx, the_zero_copy_pass_gives_the_same_ram)
{
	static const struct { unsigned iov; size_t max; } shapes[] = {
		{ 2, MIG_PAGES_SECTION_MAX }, { 3, MIG_PAGES_SECTION_MAX + 5 },
		{ 7, 2 * MIG_PAGES_SECTION_MAX }, { 1024, 64 * MiB },
	};

	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		struct ram src, dst;
		struct mig_rx rx;
		struct mig_tx_stats st;
		unsigned long bm0[R0_PAGES / 64] = { 0 };
		unsigned long bm1[R1_PAGES / 64] = { 0 };
		unsigned long *const dirty[] = { bm0, bm1 };

		ram_new(&src);
		ram_new(&dst);
		ram_pattern(&src);
		start(&rx, &src, &dst);
		pass(&rx, &src, NULL, MIG_PAGES_SECTION_MAX);
		for (uint64_t p = 0; p < 300; p += 3) {
			fix_mig_fill_page(page(&src, 0, p), p, 7);
			set_bit(bm0, p);
		}
		for (uint64_t p = 301; p < 305; p++)
			set_bit(bm0, p); /* zero: a ZERO section */
		for (uint64_t p = 0; p < R1_PAGES; p++) {
			fix_mig_fill_page(page(&src, 1, p), p, 7);
			set_bit(bm1, p);
		}
		st = pass_iov(&rx, &src, dirty, shapes[k].iov, shapes[k].max);
		cr_assert_eq(st.pages_data, 100 + R1_PAGES, "shape %zu", k);
		cr_assert_eq(st.pages_zero, 4);
		assert_same_ram(&src, &dst);
		mig_rx_fini(&rx);
		ram_free(&src);
		ram_free(&dst);
	}
}

#define MS 1000000ull

Test(mig_switchover, nothing_left_stops_at_once)
{
	cr_assert(mig_switchover(0, 100 * MiB, 0, 300 * MS));
	cr_assert(mig_switchover(0, 0, 0, 1));
}

Test(mig_switchover, not_while_the_rest_would_take_longer_than_allowed)
{
	/* Not converging, but over the limit: on, as before. */
	cr_assert_not(mig_switchover(64 * MiB, 64 * MiB, 301 * MS, 300 * MS));
	/* Converged, yet over the limit still: on. */
	cr_assert_not(mig_switchover(MIG_CONVERGED_BYTES, 64 * MiB, 2 * MS,
				     MS));
}

Test(mig_switchover, passes_go_on_while_each_halves_what_is_left)
{
	/* A ring of 32 MiB after a first pass of 256 MiB: on. */
	cr_assert_not(mig_switchover(32 * MiB, 256 * MiB, 20 * MS, 300 * MS));
	/* 2.5 MiB dirtied while those 32 MiB went: on. */
	cr_assert_not(mig_switchover(5 * MiB / 2, 32 * MiB, 2 * MS, 300 * MS));
	/* Exactly half is still a halving. */
	cr_assert_not(mig_switchover(16 * MiB, 32 * MiB, 10 * MS, 300 * MS));
	/* Just over half: the next pass would not cut it enough. */
	cr_assert(mig_switchover(16 * MiB + PG, 32 * MiB, 10 * MS, 300 * MS));
	/* A guest as fast as the link: the first pass that fits. */
	cr_assert(mig_switchover(32 * MiB, 32 * MiB, 20 * MS, 300 * MS));
}

Test(mig_switchover, a_few_pages_left_are_not_worth_a_pass)
{
	cr_assert(mig_switchover(MIG_CONVERGED_BYTES, 256 * MiB, MS / 10,
				 300 * MS));
	cr_assert_not(mig_switchover(MIG_CONVERGED_BYTES + PG, 256 * MiB,
				     MS / 10, 300 * MS));
}
