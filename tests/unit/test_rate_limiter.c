/*
 * Token buckets (src/devices/rate_limiter.c) on a fake clock: refill,
 * the one-time burst, a request larger than the bucket, the wait a
 * refused request is told, and reconfiguration.
 */
#include <criterion/criterion.h>

#include "mvm/rate_limiter.h"

#define MS 1000000ull
#define S (1000 * MS)

static struct rl_state s;

static void init(uint64_t bw_size, uint64_t bw_burst, uint64_t bw_ms,
		 uint64_t ops_size, uint64_t ops_ms)
{
	struct rate_limiter cfg = {
		.bandwidth = { bw_size, bw_burst, bw_ms },
		.ops = { ops_size, 0, ops_ms },
	};

	rl_init(&s, &cfg, 0);
}

Test(rate_limiter, size_zero_is_unlimited)
{
	init(0, 0, 100, 0, 100);
	cr_assert(rl_unlimited(&s));
	for (int i = 0; i < 1000; i++)
		cr_assert(rl_consume(&s, 1ull << 40, 0));
	cr_assert_eq(rl_wait_ns(&s, 1ull << 40, 0), 0);
	cr_assert_eq(s.throttled, 0);
}

Test(rate_limiter, starts_full_then_refills_evenly)
{
	init(1000, 0, 1000, 0, 0); /* 1000 bytes a second */
	cr_assert_not(rl_unlimited(&s));
	cr_assert(rl_consume(&s, 1000, 0));
	cr_assert_not(rl_consume(&s, 1, 0));
	cr_assert_eq(s.throttled, 1);
	/* 1 token per ms: 250 tokens at 250 ms, not 251. */
	cr_assert_not(rl_consume(&s, 251, 250 * MS));
	cr_assert(rl_consume(&s, 250, 250 * MS));
	cr_assert_not(rl_consume(&s, 1, 250 * MS));
	/* Never above size, however long it waits. */
	cr_assert(rl_consume(&s, 1000, 100 * S));
	cr_assert_not(rl_consume(&s, 1, 100 * S));
}

Test(rate_limiter, fractions_are_carried_not_lost)
{
	uint64_t got = 0, t;

	init(3, 0, 1000, 0, 0); /* a token every 333.33 ms */
	cr_assert(rl_consume(&s, 3, 0));
	/* Asked every 100 ms for 10 s: exactly 30 tokens come back. */
	for (t = 100 * MS; t <= 10 * S; t += 100 * MS)
		while (rl_consume(&s, 1, t))
			got++;
	cr_assert_eq(got, 30, "got %llu", (unsigned long long)got);
}

Test(rate_limiter, one_time_burst_is_spent_first_and_once)
{
	init(100, 500, 1000, 0, 0);
	cr_assert(rl_consume(&s, 500, 0)); /* the burst */
	cr_assert_eq(s.bandwidth.burst, 0);
	cr_assert_eq(s.bandwidth.budget, 100);
	cr_assert(rl_consume(&s, 100, 0));
	cr_assert_not(rl_consume(&s, 1, 0));
	/* A burst partly spent: the rest comes from the bucket. */
	init(100, 50, 1000, 0, 0);
	cr_assert(rl_consume(&s, 120, 0));
	cr_assert_eq(s.bandwidth.burst, 0);
	cr_assert_eq(s.bandwidth.budget, 30);
}

Test(rate_limiter, oversize_request_passes_on_a_full_bucket_only)
{
	init(1000, 0, 1000, 0, 0);
	cr_assert(rl_consume(&s, 10, 0));
	/* Not full: a 5000-byte request waits for the bucket to fill... */
	cr_assert_not(rl_consume(&s, 5000, 0));
	cr_assert_eq(rl_wait_ns(&s, 5000, 0), 10 * MS);
	cr_assert_not(rl_consume(&s, 5000, 9 * MS));
	cr_assert(rl_consume(&s, 5000, 10 * MS));
	/* ...and leaves the bucket 4000 in debt: 5 s until the next byte. */
	cr_assert_eq(s.bandwidth.budget, -4000);
	cr_assert_eq(rl_wait_ns(&s, 1, 10 * MS), 4001 * MS);
	cr_assert_not(rl_consume(&s, 1, 4010 * MS));
	cr_assert(rl_consume(&s, 1, 4011 * MS));
}

Test(rate_limiter, wait_is_exact)
{
	init(1000, 0, 1000, 0, 0);
	cr_assert(rl_consume(&s, 1000, 0));
	cr_assert_eq(rl_wait_ns(&s, 300, 0), 300 * MS);
	cr_assert_eq(rl_wait_ns(&s, 300, 100 * MS + 1), 200 * MS - 1);
	cr_assert_not(rl_consume(&s, 300, 300 * MS - 1));
	cr_assert(rl_consume(&s, 300, 300 * MS));
	/* A rate that is not a whole number of ns per token rounds up. */
	init(3, 0, 1, 0, 0);
	cr_assert(rl_consume(&s, 3, 0));
	cr_assert_eq(rl_wait_ns(&s, 1, 0), 333334);
	cr_assert(rl_consume(&s, 1, 333334));
}

Test(rate_limiter, ops_count_requests_whatever_their_size)
{
	init(0, 0, 0, 10, 1000); /* 10 requests a second */
	for (int i = 0; i < 10; i++)
		cr_assert(rl_consume(&s, 1 << 20, 0));
	cr_assert_not(rl_consume(&s, 0, 0));
	cr_assert_eq(rl_wait_ns(&s, 0, 0), 100 * MS);
	cr_assert(rl_consume(&s, 0, 100 * MS));
}

Test(rate_limiter, both_buckets_or_neither)
{
	init(1000, 0, 1000, 2, 1000);
	cr_assert(rl_consume(&s, 100, 0));
	/* bandwidth refuses: ops must not have been taken either. */
	cr_assert_not(rl_consume(&s, 950, 0));
	cr_assert_eq(s.ops.budget, 1);
	cr_assert(rl_consume(&s, 100, 0));
	/* ops refuses: bandwidth is kept. */
	cr_assert_not(rl_consume(&s, 100, 0));
	cr_assert_eq(s.bandwidth.budget, 800);
	cr_assert_eq(rl_wait_ns(&s, 100, 0), 500 * MS);
}

Test(rate_limiter, charge_may_go_into_debt)
{
	init(1000, 0, 1000, 0, 0);
	cr_assert(rl_ready(&s, 0));
	rl_charge(&s, 1500, 1, 0);
	cr_assert_eq(s.bandwidth.budget, -500);
	cr_assert_not(rl_ready(&s, 0));
	cr_assert_eq(s.throttled, 1);
	cr_assert_eq(rl_wait_ns(&s, 1, 0), 501 * MS);
	cr_assert(rl_ready(&s, 501 * MS));
}

Test(rate_limiter, update_keeps_the_level_sane)
{
	struct token_bucket smaller = { 100, 0, 1000 };
	struct token_bucket bigger = { 10000, 0, 1000 };
	struct token_bucket none = { 0, 0, 0 };
	struct token_bucket burst = { 10000, 700, 1000 };

	init(1000, 0, 1000, 5, 1000);
	cr_assert(rl_consume(&s, 400, 0));
	/* Smaller: the level is cut to the new size. */
	rl_update(&s, &smaller, NULL, 0);
	cr_assert_eq(s.bandwidth.budget, 100);
	cr_assert_eq(s.ops.budget, 4); /* ops untouched */
	/* Bigger: no free refill; it refills at the new rate. */
	rl_update(&s, &bigger, NULL, 0);
	cr_assert_eq(s.bandwidth.budget, 100);
	cr_assert(rl_consume(&s, 1100, 100 * MS));
	cr_assert_not(rl_consume(&s, 1, 100 * MS));
	/* Unlimited, then limited again: it starts full. */
	rl_update(&s, &none, NULL, 100 * MS);
	cr_assert(rl_consume(&s, 1ull << 40, 100 * MS));
	rl_update(&s, &burst, NULL, 100 * MS);
	cr_assert_eq(s.bandwidth.budget, 10000);
	cr_assert_eq(s.bandwidth.burst, 700);
	cr_assert(rl_consume(&s, 10700, 100 * MS));
	cr_assert_not(rl_consume(&s, 1, 100 * MS));
}

Test(rate_limiter, a_clock_going_back_refills_nothing)
{
	init(1000, 0, 1000, 0, 0);
	cr_assert(rl_consume(&s, 1000, 5 * S));
	cr_assert_not(rl_consume(&s, 1, 1 * S));
	cr_assert_eq(rl_wait_ns(&s, 1, 1 * S), 1 * MS);
	cr_assert(rl_consume(&s, 1, 5 * S + 1 * MS));
}

Test(rate_limiter, largest_values_do_not_overflow)
{
	uint64_t m = RL_BUCKET_MAX, r = RL_REFILL_MS_MAX;

	init(m, m, r, m, r);
	cr_assert(rl_consume(&s, 2 * m, 0));
	cr_assert_not(rl_consume(&s, m, 0));
	/* 2^53 tokens over 2^40 ms: 8192 tokens a ms. */
	cr_assert_eq(rl_wait_ns(&s, 8192, 0), 1 * MS);
	cr_assert(rl_consume(&s, 8192 * 1000, 1 * S));
	/* Larger than the API takes: clamped, still no overflow. */
	init(UINT64_MAX, 0, UINT64_MAX, 0, 0);
	cr_assert_eq(s.bandwidth.cfg.refill_time_ms, r);
	cr_assert(rl_consume(&s, m, 0));
	cr_assert_eq(rl_wait_ns(&s, 8192, 0), 1 * MS);
}
