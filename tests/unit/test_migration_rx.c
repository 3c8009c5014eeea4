/*
 * The receiver (mig_rx_feed): a stream cut anywhere, several sections in
 * one buffer, pages applied into guest RAM; every order violation, bad
 * CRC and bad page range refused with the section and its offset named,
 * and nothing taken after it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mvm/err.h"
#include "mvm/migration.h"

#include "mig_fixture.h"

#define PG FIX_MIG_PAGE
#define MiB (1ull << 20)
#define KiB (1ull << 10)

/* 1 MiB of guest RAM: [0, 512 KiB) and [1 MiB, 1.5 MiB). */
static uint8_t *ram;
static struct guest_mem gm;

static void setup(void)
{
	ram = mmap(NULL, MiB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(ram, MAP_FAILED);
	memset(&gm, 0, sizeof(gm));
	cr_assert_eq(gm_add_host(&gm, 0, ram, 512 * KiB), 0);
	cr_assert_eq(gm_add_host(&gm, MiB, ram + 512 * KiB, 512 * KiB), 0);
}

static void teardown(void)
{
	munmap(ram, MiB);
}

TestSuite(mig_rx, .init = setup, .fini = teardown);

/* The events of feeding s in pieces of step bytes (0: whole), gm set on
 * HELLO as the owner does (unless !set_gm); fail = the error, if one
 * came. */
struct run {
	enum mig_rx_event ev[16];
	int n;
	int fail;
	char msg[512];
	size_t consumed;
	uint64_t paused_ns;
	char reason[MIG_REASON_MAX + 1];
};

static struct run feed_gm(struct mig_rx *rx, const uint8_t *b, size_t len,
			  size_t step, bool set_gm)
{
	struct run r = { .n = 0 };
	struct mvm_err err = { .msg = "" };

	while (r.consumed < len) {
		size_t piece = step && len - r.consumed > step ?
				       step : len - r.consumed;
		enum mig_rx_event ev = MIG_RX_NONE;
		ssize_t n = mig_rx_feed(rx, b + r.consumed, piece, &ev, &err);

		if (n < 0) {
			r.fail = (int)n;
			snprintf(r.msg, sizeof(r.msg), "%s", err.msg);
			return r;
		}
		cr_assert_leq((size_t)n, piece);
		r.consumed += (size_t)n;
		if (ev == MIG_RX_NONE) {
			cr_assert_eq((size_t)n, piece, "stopped early with no "
				     "event");
			continue;
		}
		cr_assert_lt(r.n, 16);
		r.ev[r.n++] = ev;
		cr_assert_not_null(rx->payload);
		cr_assert_eq(rx->payload[rx->payload_len], 0);
		if (ev == MIG_RX_HELLO && set_gm)
			rx->gm = &gm;
		if (ev == MIG_RX_STATE)
			r.paused_ns = rx->paused_realtime_ns;
		if (ev == MIG_RX_ABORT)
			snprintf(r.reason, sizeof(r.reason), "%s",
				 (const char *)rx->payload);
	}
	return r;
}

static struct run feed(struct mig_rx *rx, const uint8_t *b, size_t len,
		       size_t step)
{
	return feed_gm(rx, b, len, step, true);
}

static void put_hello(struct fix_stream *s)
{
	cr_assert_eq(fix_stream_hello(s, &gm), 0);
}

static uint8_t page_a[2 * PG], page_b[PG];

/* HELLO, DATA x2 at 8 KiB, ZERO x3 at 1 MiB + 4 KiB, PASS_END 1, DATA at
 * the last page of RAM, PASS_END 2, STATE, COMMIT. */
static void full_stream(struct fix_stream *s)
{
	static const uint8_t state[16] = { 0x88, 0x77, 0x66, 0x55, 0x44,
					   0x33, 0x22, 0x11, 's', 't' };

	fix_mig_fill_page(page_a, 2, 1);
	fix_mig_fill_page(page_a + PG, 3, 1);
	fix_mig_fill_page(page_b, 383, 2);
	put_hello(s);
	cr_assert_eq(fix_stream_pages(s, 8 * KiB, 2, MIG_PAGES_DATA, page_a),
		     0);
	cr_assert_eq(fix_stream_pages(s, MiB + PG, 3, MIG_PAGES_ZERO, NULL),
		     0);
	cr_assert_eq(fix_stream_put_u32(s, MIG_PASS_END, 1), 0);
	cr_assert_eq(fix_stream_pages(s, MiB + 512 * KiB - PG, 1,
				      MIG_PAGES_DATA, page_b), 0);
	cr_assert_eq(fix_stream_put_u32(s, MIG_PASS_END, 2), 0);
	cr_assert_eq(fix_stream_put(s, MIG_STATE, state, sizeof(state)), 0);
	cr_assert_eq(fix_stream_put(s, MIG_COMMIT, NULL, 0), 0);
}

static void assert_full_stream_applied(const struct mig_rx *rx,
				       const struct run *r, size_t len)
{
	static const enum mig_rx_event want[] = {
		MIG_RX_HELLO, MIG_RX_PASS_END, MIG_RX_PASS_END, MIG_RX_STATE,
		MIG_RX_COMMIT,
	};

	cr_assert_eq(r->fail, 0, "%s", r->msg);
	cr_assert_eq(r->consumed, len);
	cr_assert_eq(r->n, 5);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(r->ev[i], want[i], "event %d: %d", i, r->ev[i]);
	cr_assert_eq(memcmp(ram + 8 * KiB, page_a, 2 * PG), 0);
	cr_assert_eq(memcmp(ram + MiB - PG, page_b, PG), 0);
	cr_assert_eq(r->paused_ns, 0x1122334455667788ull);
	cr_assert_eq(rx->bytes, len);
	cr_assert_eq(rx->pages_data, 3);
	cr_assert_eq(rx->pages_zero, 3);
	cr_assert_eq(rx->passes, 2);
}

Test(mig_rx, a_whole_stream_in_one_buffer)
{
	struct fix_stream s = { 0 };
	struct mig_rx rx;
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev;
	struct run r;

	full_stream(&s);
	/* The ZERO range had data: it must be zeroed. */
	memset(ram + 512 * KiB + PG, 0xcc, 3 * PG);
	mig_rx_init(&rx);
	r = feed(&rx, s.b, s.len, 0);
	assert_full_stream_applied(&rx, &r, s.len);
	for (size_t i = 0; i < 3 * PG; i++)
		cr_assert_eq(ram[512 * KiB + PG + i], 0, "byte %zu", i);
	cr_assert_eq(ram[512 * KiB], 0);
	/* Nothing after COMMIT. */
	cr_assert_eq(mig_rx_feed(&rx, s.b, s.len, &ev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "it ended with COMMIT"), "%s", err.msg);
	cr_assert_eq(mig_rx_feed(&rx, NULL, 0, &ev, &err), -EINVAL);
	mig_rx_fini(&rx);
	free(s.b);
}

Test(mig_rx, a_byte_at_a_time_and_in_odd_pieces)
{
	static const size_t steps[] = { 1, 2, 3, 7, 23, 24, 25, 4095, 4097 };
	struct fix_stream s = { 0 };

	full_stream(&s);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct mig_rx rx;
		struct run r;

		memset(ram, 0, MiB);
		mig_rx_init(&rx);
		r = feed(&rx, s.b, s.len, steps[i]);
		assert_full_stream_applied(&rx, &r, s.len);
		mig_rx_fini(&rx);
	}
	free(s.b);
}

Test(mig_rx, cut_in_two_at_every_byte)
{
	struct fix_stream s = { 0 };
	static uint8_t one[PG];

	fix_mig_fill_page(one, 5, 3);
	put_hello(&s);
	cr_assert_eq(fix_stream_pages(&s, 5 * PG, 1, MIG_PAGES_DATA, one), 0);
	cr_assert_eq(fix_stream_pages(&s, 6 * PG, 1, MIG_PAGES_ZERO, NULL),
		     0);
	cr_assert_eq(fix_stream_put_u32(&s, MIG_PASS_END, 1), 0);
	cr_assert_eq(fix_stream_put(&s, MIG_ABORT, "gone", 4), 0);
	for (size_t cut = 0; cut <= s.len; cut++) {
		struct mig_rx rx;
		struct run a, b;

		memset(ram + 5 * PG, 0, PG);
		memset(ram + 6 * PG, 0xcc, PG);
		mig_rx_init(&rx);
		/* The first part, then the rest, each fed to its end. */
		a = feed(&rx, s.b, cut, 0);
		cr_assert_eq(a.fail, 0, "cut %zu: %s", cut, a.msg);
		b = feed(&rx, s.b + cut, s.len - cut, 0);
		cr_assert_eq(b.fail, 0, "cut %zu: %s", cut, b.msg);
		cr_assert_eq(a.n + b.n, 3, "cut %zu", cut);
		cr_assert_eq((b.n ? b.ev[b.n - 1] : a.ev[a.n - 1]),
			     MIG_RX_ABORT);
		cr_assert_str_eq(b.n ? b.reason : a.reason, "gone");
		cr_assert_eq(memcmp(ram + 5 * PG, one, PG), 0, "cut %zu", cut);
		cr_assert_eq(ram[6 * PG + 100], 0, "cut %zu", cut);
		mig_rx_fini(&rx);
	}
	free(s.b);
}

/* Feed s whole to a fresh receiver: it must fail, the message holding
 * each of what[] (NULL-terminated), and refuse anything after. */
static void assert_stream_refused(struct fix_stream *s, bool set_gm,
				  const char *const what[])
{
	struct mig_rx rx;
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev = MIG_RX_HELLO;
	struct run r;

	mig_rx_init(&rx);
	r = feed_gm(&rx, s->b, s->len, 0, set_gm);
	cr_assert_eq(r.fail, -EINVAL, "accepted; expected: %s", what[0]);
	for (int i = 0; what[i]; i++)
		cr_assert(strstr(r.msg, what[i]), "message \"%s\" lacks "
			  "\"%s\"", r.msg, what[i]);
	cr_assert_eq(mig_rx_feed(&rx, s->b, s->len, &ev, &err), -EINVAL);
	cr_assert_eq(ev, MIG_RX_NONE);
	cr_assert(strstr(err.msg, "refused after an error at byte"), "%s",
		  err.msg);
	mig_rx_fini(&rx);
	free(s->b);
	memset(s, 0, sizeof(*s));
}

#define REFUSED(s, gm_, ...) \
	assert_stream_refused(s, gm_, (const char *const[]){ __VA_ARGS__, \
							     NULL })

Test(mig_rx, sections_out_of_order_are_refused)
{
	struct fix_stream s = { 0 };
	size_t hello_len;
	char at[160];

	/* Before HELLO: only HELLO (or ABORT). */
	fix_stream_pages(&s, 0, 1, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "migration stream at byte 0: section PAGES out of "
			  "order: HELLO was expected");
	fix_stream_put_u32(&s, MIG_PASS_END, 1);
	REFUSED(&s, true, "section PASS_END out of order: HELLO");
	fix_stream_put(&s, MIG_COMMIT, NULL, 0);
	REFUSED(&s, true, "section COMMIT out of order: HELLO");

	/* The destination's sections on the source's stream. */
	fix_stream_put_u32(&s, MIG_ACCEPT, 0);
	REFUSED(&s, true, "section ACCEPT: the destination's, it does not "
			  "come from the source");
	fix_stream_put(&s, MIG_READY, NULL, 0);
	REFUSED(&s, true, "section READY: the destination's");

	/* HELLO twice. */
	put_hello(&s);
	hello_len = s.len;
	put_hello(&s);
	snprintf(at, sizeof(at), "at byte %zu: section HELLO out of order: "
		 "PAGES, PASS_END or STATE was expected", hello_len);
	REFUSED(&s, true, at);

	/* PAGES and PASS_END before the owner set up guest memory. */
	put_hello(&s);
	fix_stream_pages(&s, 0, 1, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, false, "section PAGES before guest memory was set up");
	put_hello(&s);
	fix_stream_put_u32(&s, MIG_PASS_END, 1);
	REFUSED(&s, false, "section PASS_END before guest memory");

	/* Passes from 1, one by one. */
	put_hello(&s);
	fix_stream_put_u32(&s, MIG_PASS_END, 2);
	REFUSED(&s, true, "section PASS_END: pass 2, 1 was expected");
	put_hello(&s);
	fix_stream_put_u32(&s, MIG_PASS_END, 1);
	fix_stream_put_u32(&s, MIG_PASS_END, 1);
	REFUSED(&s, true, "pass 1, 2 was expected");
	put_hello(&s);
	fix_stream_put_u32(&s, MIG_PASS_END, 0);
	REFUSED(&s, true, "pass 0, 1 was expected");

	/* COMMIT only after STATE; STATE once; no pages after it. */
	put_hello(&s);
	fix_stream_put(&s, MIG_COMMIT, NULL, 0);
	REFUSED(&s, true, "section COMMIT out of order: PAGES, PASS_END or "
			  "STATE was expected");
	put_hello(&s);
	fix_stream_put(&s, MIG_STATE, "12345678", 8);
	fix_stream_put(&s, MIG_STATE, "12345678", 8);
	REFUSED(&s, true, "section STATE out of order: COMMIT was expected");
	put_hello(&s);
	fix_stream_put(&s, MIG_STATE, "12345678", 8);
	fix_stream_pages(&s, 0, 1, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "section PAGES out of order: COMMIT");
	put_hello(&s);
	fix_stream_put(&s, MIG_STATE, "12345678", 8);
	fix_stream_put_u32(&s, MIG_PASS_END, 1);
	REFUSED(&s, true, "section PASS_END out of order: COMMIT");
}

Test(mig_rx, abort_anywhere_ends_the_stream)
{
	struct fix_stream s = { 0 };
	struct mig_rx rx;
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev;
	struct run r;

	fix_stream_put(&s, MIG_ABORT, "policy refused: live_migration", 30);
	mig_rx_init(&rx);
	r = feed(&rx, s.b, s.len, 0);
	cr_assert_eq(r.fail, 0, "%s", r.msg);
	cr_assert_eq(r.n, 1);
	cr_assert_eq(r.ev[0], MIG_RX_ABORT);
	cr_assert_str_eq(r.reason, "policy refused: live_migration");
	cr_assert_eq(mig_rx_feed(&rx, s.b, s.len, &ev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "it ended with ABORT"), "%s", err.msg);
	mig_rx_fini(&rx);
	free(s.b);

	/* After STATE, before COMMIT; a reason in UTF-8. */
	memset(&s, 0, sizeof(s));
	put_hello(&s);
	fix_stream_put(&s, MIG_STATE, "12345678", 8);
	fix_stream_put(&s, MIG_ABORT, "d\xc3\xa9j\xc3\xa0 vu \xe2\x82\xac",
		       13);
	mig_rx_init(&rx);
	r = feed(&rx, s.b, s.len, 0);
	cr_assert_eq(r.fail, 0, "%s", r.msg);
	cr_assert_eq(r.ev[r.n - 1], MIG_RX_ABORT);
	cr_assert_str_eq(r.reason, "d\xc3\xa9j\xc3\xa0 vu \xe2\x82\xac");
	mig_rx_fini(&rx);
	free(s.b);
}

Test(mig_rx, an_abort_reason_must_be_text)
{
	static const char *const bad[] = {
		"a\0b", "\xff", "\xc3", "\xc0\xaf" /* overlong '/' */,
		"\xed\xa0\x80" /* a surrogate */, "\xf4\x90\x80\x80",
		"\x80",
	};
	static const size_t len[] = { 3, 1, 1, 2, 3, 4, 1 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fix_stream s = { 0 };

		fix_stream_put(&s, MIG_ABORT, bad[i], len[i]);
		REFUSED(&s, true, "at byte 0: section ABORT: the reason is not "
				  "UTF-8 text without NUL");
	}
}

Test(mig_rx, bad_crcs_are_refused)
{
	struct fix_stream s = { 0 };
	char at[96];
	size_t off;

	/* A byte of page data changed: found at the section's end. */
	put_hello(&s);
	off = s.len;
	fix_stream_pages(&s, 0, 1, MIG_PAGES_DATA, page_a);
	s.b[s.len - 100] ^= 1;
	snprintf(at, sizeof(at), "at byte %zu: section PAGES: payload CRC",
		 off);
	REFUSED(&s, true, at);

	/* In PAGES' own header: still a valid range (gpa 0x1000). */
	put_hello(&s);
	off = s.len;
	fix_stream_pages(&s, 0, 1, MIG_PAGES_ZERO, NULL);
	s.b[s.len - 15] ^= 0x10;
	snprintf(at, sizeof(at), "at byte %zu: section PAGES: payload CRC",
		 off);
	REFUSED(&s, true, at);

	/* A HELLO's payload. */
	put_hello(&s);
	s.b[40] ^= 0x80;
	REFUSED(&s, true, "at byte 0: section HELLO: payload CRC");

	/* A header: its CRC, with the offset of the section. */
	put_hello(&s);
	off = s.len;
	fix_stream_put(&s, MIG_STATE, "12345678", 8);
	s.b[off + 9] ^= 1;
	snprintf(at, sizeof(at), "at byte %zu: section header: its CRC", off);
	REFUSED(&s, true, at);
}

Test(mig_rx, page_ranges_must_be_in_one_region_of_ram)
{
	struct fix_stream s = { 0 };
	static uint8_t two[2 * PG];

	put_hello(&s);
	fix_stream_pages(&s, 512 * KiB, 1, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "section PAGES: gpa 0x80000 + 1 pages is not inside "
			  "one region of guest RAM");
	put_hello(&s);
	fix_stream_pages(&s, 512 * KiB - PG, 2, MIG_PAGES_DATA, two);
	REFUSED(&s, true, "gpa 0x7f000 + 2 pages is not inside");
	put_hello(&s);
	fix_stream_pages(&s, 0xfffffffffffff000ull, 256, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "gpa 0xfffffffffffff000 + 256 pages");
	put_hello(&s);
	fix_stream_pages(&s, 0x800, 1, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "gpa 0x800 is not 4 KiB-aligned");
	put_hello(&s);
	fix_stream_pages(&s, 0, 0, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "section PAGES: 0 pages (1 to 256 allowed)");
	put_hello(&s);
	fix_stream_pages(&s, 0, 257, MIG_PAGES_ZERO, NULL);
	REFUSED(&s, true, "257 pages");
	put_hello(&s);
	fix_stream_pages(&s, 0, 1, 2, NULL);
	REFUSED(&s, true, "section PAGES: kind 2, neither DATA (0) nor ZERO");
	/* DATA without its data, ZERO with some. */
	put_hello(&s);
	fix_stream_pages(&s, 0, 1, MIG_PAGES_DATA, NULL);
	REFUSED(&s, true, "section PAGES: length 16 bytes, 1 DATA pages make "
			  "4112");
	put_hello(&s);
	fix_stream_pages(&s, 0, 1, MIG_PAGES_ZERO, two);
	REFUSED(&s, true, "length 4112 bytes, 1 ZERO pages make 16");
	put_hello(&s);
	fix_stream_pages(&s, 0, 1, MIG_PAGES_DATA, two);
	s.b[s.len - PG - 8] = 2; /* npages 2, length for 1 */
	REFUSED(&s, true, "length 4112 bytes, 2 DATA pages make 8208");
}

/* Two regions side by side in guest-physical space: a range across
 * their border is in no one region, and refused. */
Test(mig_rx, a_range_straddling_two_adjacent_regions_is_refused)
{
	struct fix_stream s = { 0 };
	struct guest_mem adj = { .nr = 0 };
	struct mig_rx rx;

	cr_assert_eq(gm_add_host(&adj, 0, ram, 512 * KiB), 0);
	/* The same gpa border, host memory elsewhere. */
	cr_assert_eq(gm_add_host(&adj, 512 * KiB, ram + 512 * KiB + PG,
				 256 * KiB), 0);
	put_hello(&s);
	fix_stream_pages(&s, 512 * KiB - PG, 2, MIG_PAGES_ZERO, NULL);
	mig_rx_init(&rx);
	{
		struct mvm_err err = { .msg = "" };
		enum mig_rx_event ev;
		ssize_t n = mig_rx_feed(&rx, s.b, s.len, &ev, &err);

		cr_assert_eq(ev, MIG_RX_HELLO);
		rx.gm = &adj;
		cr_assert_eq(mig_rx_feed(&rx, s.b + n, s.len - (size_t)n, &ev,
					 &err), -EINVAL);
		cr_assert(strstr(err.msg, "gpa 0x7f000 + 2 pages is not "
				 "inside one region"), "%s", err.msg);
	}
	mig_rx_fini(&rx);
	free(s.b);
}

Test(mig_rx, a_hostile_length_is_refused_before_any_room_is_made)
{
	uint8_t h[MIG_HDR_SIZE];
	struct mig_rx rx;
	struct mvm_err err = { .msg = "" };
	enum mig_rx_event ev;

	mig_hdr_put(h, MIG_HELLO, (uint64_t)MIG_STATE_MAX, 0);
	mig_rx_init(&rx);
	cr_assert_eq(mig_rx_feed(&rx, h, sizeof(h), &ev, &err), -EINVAL);
	cr_assert(strstr(err.msg, "section HELLO: length 67108864 bytes, "
			 "over its maximum 1048576"), "%s", err.msg);
	cr_assert_null(rx.buf);
	cr_assert_eq(rx.buf_cap, 0);
	mig_rx_fini(&rx);
	/* A valid header of a big STATE: room for it, no more. */
	{
		struct fix_stream s = { 0 };
		uint8_t st[MIG_HDR_SIZE];

		put_hello(&s);
		mig_rx_init(&rx);
		rx.gm = &gm;
		cr_assert_eq(mig_rx_feed(&rx, s.b, s.len, &ev, &err),
			     (ssize_t)s.len);
		mig_hdr_put(st, MIG_STATE, 3 * MiB, 0);
		cr_assert_eq(mig_rx_feed(&rx, st, sizeof(st), &ev, &err),
			     (ssize_t)sizeof(st), "%s", err.msg);
		cr_assert_eq(ev, MIG_RX_NONE);
		cr_assert_eq(rx.buf_cap, 3 * MiB + 1);
		mig_rx_fini(&rx);
		free(s.b);
	}
}

Test(mig_rx, the_sources_receiver_takes_the_answers_in_order)
{
	struct fix_stream s = { 0 };
	uint8_t dt[8] = { 0x40, 0x42, 0x0f, 0 }; /* 1000000 ns */
	struct mig_rx rx;
	struct run r;

	fix_stream_put_u32(&s, MIG_ACCEPT, MIG_ACCEPT_NESTED_STATE);
	fix_stream_put(&s, MIG_READY, NULL, 0);
	fix_stream_put(&s, MIG_DONE, dt, 8);
	mig_rx_init_replies(&rx);
	r = feed(&rx, s.b, s.len, 1);
	cr_assert_eq(r.fail, 0, "%s", r.msg);
	cr_assert_eq(r.n, 3);
	cr_assert_eq(r.ev[0], MIG_RX_ACCEPT);
	cr_assert_eq(r.ev[1], MIG_RX_READY);
	cr_assert_eq(r.ev[2], MIG_RX_DONE);
	cr_assert_eq(rx.accept_flags, MIG_ACCEPT_NESTED_STATE);
	cr_assert_eq(rx.downtime_ns, 1000000);
	mig_rx_fini(&rx);
	free(s.b);

	memset(&s, 0, sizeof(s));
	fix_stream_put_u32(&s, MIG_ACCEPT, 0);
	fix_stream_put(&s, MIG_ABORT, "no room", 7);
	mig_rx_init_replies(&rx);
	r = feed(&rx, s.b, s.len, 0);
	cr_assert_eq(r.n, 2);
	cr_assert_eq(r.ev[1], MIG_RX_ABORT);
	cr_assert_str_eq(r.reason, "no room");
	mig_rx_fini(&rx);
	free(s.b);
}

static void assert_replies_refused(struct fix_stream *s, const char *what)
{
	struct mig_rx rx;
	struct run r;

	mig_rx_init_replies(&rx);
	r = feed(&rx, s->b, s->len, 0);
	cr_assert_eq(r.fail, -EINVAL, "accepted; expected: %s", what);
	cr_assert(strstr(r.msg, what), "message \"%s\" lacks \"%s\"", r.msg,
		  what);
	mig_rx_fini(&rx);
	free(s->b);
	memset(s, 0, sizeof(*s));
}

Test(mig_rx, the_answers_out_of_order_are_refused)
{
	struct fix_stream s = { 0 };

	fix_stream_put(&s, MIG_READY, NULL, 0);
	assert_replies_refused(&s, "section READY out of order: ACCEPT was "
				   "expected");
	fix_stream_put_u32(&s, MIG_ACCEPT, 0);
	fix_stream_put_u32(&s, MIG_ACCEPT, 0);
	assert_replies_refused(&s, "section ACCEPT out of order: READY");
	fix_stream_put_u32(&s, MIG_ACCEPT, 0);
	fix_stream_put(&s, MIG_DONE, "12345678", 8);
	assert_replies_refused(&s, "section DONE out of order: READY");
	put_hello(&s);
	assert_replies_refused(&s, "section HELLO: the source's, it does not "
				   "come from the destination");
	fix_stream_put_u32(&s, MIG_ACCEPT, 2);
	assert_replies_refused(&s, "section ACCEPT: unknown flags 0x2");
}

/*
 * The owner's way with a socket: where mig_rx_direct gives a place in
 * guest RAM, the bytes are "received" (copied from s) right there and
 * fed from it; anything else through a buffer, never past *room. Pieces
 * of at most step bytes. Returns what mig_rx_feed last said; *places
 * counts the pieces received in place.
 */
static ssize_t feed_direct(struct mig_rx *rx, const struct fix_stream *s,
			   size_t step, int *places, struct mvm_err *err)
{
	static uint8_t buf[64 * KiB];
	size_t off = 0;
	ssize_t n = 0;

	*places = 0;
	while (off < s->len) {
		enum mig_rx_event ev = MIG_RX_NONE;
		size_t room, piece;
		uint8_t *to = mig_rx_direct(rx, &room);

		cr_assert_gt(room, 0, "nothing more wanted at byte %zu", off);
		piece = room < step ? room : step;
		if (piece > s->len - off)
			piece = s->len - off;
		if (to) {
			cr_assert(to >= ram && to + piece <= ram + MiB);
			(*places)++;
		} else {
			to = buf;
			cr_assert_leq(piece, sizeof(buf));
		}
		memcpy(to, s->b + off, piece);
		n = mig_rx_feed(rx, to, piece, &ev, err);
		if (n < 0)
			return n;
		cr_assert_eq((size_t)n, piece, "a piece is never cut");
		off += piece;
		if (ev == MIG_RX_HELLO)
			rx->gm = &gm;
	}
	return n;
}

Test(mig_rx, pages_received_in_place_give_the_same_ram)
{
	static const size_t steps[] = { 1, 5, PG - 1, PG, 3 * PG, 64 * KiB };
	struct fix_stream s = { 0 };
	struct mvm_err err = { .msg = "" };

	full_stream(&s);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct mig_rx rx;
		size_t room;
		int places;

		memset(ram, 0, MiB);
		memset(ram + 512 * KiB + PG, 0xcc, 3 * PG);
		mig_rx_init(&rx);
		cr_assert_null(mig_rx_direct(&rx, &room));
		cr_assert_eq(room, MIG_HDR_SIZE);
		cr_assert_geq(feed_direct(&rx, &s, steps[i], &places, &err), 0,
			      "%s", err.msg);
		/* Both DATA sections' pages came in place, nothing else. */
		cr_assert_geq(places, 2, "step %zu", steps[i]);
		cr_assert_eq(memcmp(ram + 8 * KiB, page_a, 2 * PG), 0);
		cr_assert_eq(memcmp(ram + MiB - PG, page_b, PG), 0);
		for (size_t b = 0; b < 3 * PG; b++)
			cr_assert_eq(ram[512 * KiB + PG + b], 0);
		cr_assert_eq(rx.pages_data, 3);
		cr_assert_eq(rx.pages_zero, 3);
		cr_assert_eq(rx.bytes, s.len);
		/* Over: no place, nothing wanted. */
		cr_assert_null(mig_rx_direct(&rx, &room));
		cr_assert_eq(room, 0);
		mig_rx_fini(&rx);
	}
	free(s.b);
}

Test(mig_rx, no_place_before_a_pages_range_is_checked)
{
	struct fix_stream s = { 0 };
	struct mvm_err err = { .msg = "" };
	struct mig_rx rx;
	size_t room;
	int places;

	/* Past RAM's end: refused at PAGES' own header, nothing in place. */
	put_hello(&s);
	fix_stream_pages(&s, 2 * MiB, 1, MIG_PAGES_DATA, page_a);
	mig_rx_init(&rx);
	cr_assert_eq(feed_direct(&rx, &s, 64 * KiB, &places, &err), -EINVAL);
	cr_assert(strstr(err.msg, "not inside one region"), "%s", err.msg);
	cr_assert_eq(places, 0);
	cr_assert_null(mig_rx_direct(&rx, &room));
	cr_assert_eq(room, 0);
	mig_rx_fini(&rx);
	free(s.b);
}

Test(mig_rx, a_bad_crc_on_pages_received_in_place_fails_the_stream)
{
	struct fix_stream s = { 0 };
	struct mvm_err err = { .msg = "" };
	struct mig_rx rx;
	size_t room;
	int places;

	put_hello(&s);
	fix_stream_pages(&s, 0, 1, MIG_PAGES_DATA, page_a);
	s.b[s.len - 100] ^= 1;
	fix_stream_put_u32(&s, MIG_PASS_END, 1);
	mig_rx_init(&rx);
	cr_assert_eq(feed_direct(&rx, &s, 64 * KiB, &places, &err), -EINVAL);
	cr_assert(strstr(err.msg, "section PAGES: payload CRC"), "%s",
		  err.msg);
	cr_assert_eq(places, 1);
	cr_assert_null(mig_rx_direct(&rx, &room));
	mig_rx_fini(&rx);
	free(s.b);
}
