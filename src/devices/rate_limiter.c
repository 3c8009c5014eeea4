/*
 * Token buckets (include/mvm/rate_limiter.h). Refill is computed from the
 * time passed, in 128-bit arithmetic with the remainder carried, so that
 * no fraction of a token is lost however often a device asks: over ten
 * seconds the rate is the configured one to the token.
 */
#include <string.h>

#include "mvm/rate_limiter.h"

#define NS_PER_MS 1000000ull

typedef unsigned __int128 u128;

static bool limits(const struct rl_bucket *b)
{
	return b->cfg.size && b->cfg.refill_time_ms;
}

static uint64_t refill_ns(const struct rl_bucket *b)
{
	return b->cfg.refill_time_ms * NS_PER_MS;
}

static void bucket_init(struct rl_bucket *b, const struct token_bucket *cfg,
			uint64_t now_ns)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	/* The API refuses more; anything else is clamped, not overflowed. */
	if (b->cfg.refill_time_ms > RL_REFILL_MS_MAX)
		b->cfg.refill_time_ms = RL_REFILL_MS_MAX;
	if (b->cfg.size > RL_BUCKET_MAX)
		b->cfg.size = RL_BUCKET_MAX;
	if (b->cfg.one_time_burst > RL_BUCKET_MAX)
		b->cfg.one_time_burst = RL_BUCKET_MAX;
	b->budget = (int64_t)b->cfg.size;
	b->burst = b->cfg.one_time_burst;
	b->last_ns = now_ns;
}

static void refill(struct rl_bucket *b, uint64_t now_ns)
{
	int64_t size = (int64_t)b->cfg.size;
	u128 num, tokens;

	/* A clock that went back (a fake one) refills nothing. */
	if (!limits(b) || now_ns <= b->last_ns)
		return;
	num = (u128)(now_ns - b->last_ns) * b->cfg.size + b->rem;
	b->last_ns = now_ns;
	if (b->budget >= size) {
		b->rem = 0;
		return;
	}
	tokens = num / refill_ns(b);
	b->rem = (uint64_t)(num % refill_ns(b));
	if (tokens >= (u128)(size - b->budget)) {
		b->budget = size;
		b->rem = 0;
	} else {
		b->budget += (int64_t)tokens;
	}
}

/* What a request of n tokens needs the budget to reach (burst aside). */
static int64_t target(const struct rl_bucket *b, uint64_t n)
{
	/* Over-size: the whole bucket, then it goes into debt. */
	if (n > b->cfg.size + b->burst)
		return (int64_t)b->cfg.size;
	return n > b->burst ? (int64_t)(n - b->burst) : 0;
}

static bool fits(struct rl_bucket *b, uint64_t n, uint64_t now_ns)
{
	if (!limits(b))
		return true;
	refill(b, now_ns);
	return b->budget >= target(b, n);
}

static void take(struct rl_bucket *b, uint64_t n)
{
	uint64_t from_burst = n < b->burst ? n : b->burst;

	if (!limits(b))
		return;
	b->burst -= from_burst;
	b->budget -= (int64_t)(n - from_burst);
}

static uint64_t wait_ns(struct rl_bucket *b, uint64_t n, uint64_t now_ns)
{
	int64_t goal;
	u128 need;

	if (fits(b, n, now_ns))
		return 0;
	goal = target(b, n);
	need = (u128)(uint64_t)(goal - b->budget) * refill_ns(b);
	need = need > b->rem ? need - b->rem : 0;
	/* Rounded up: woken a nanosecond early, the request would not fit. */
	return (uint64_t)((need + b->cfg.size - 1) / b->cfg.size);
}

void rl_init(struct rl_state *s, const struct rate_limiter *cfg,
	     uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	bucket_init(&s->bandwidth, &cfg->bandwidth, now_ns);
	bucket_init(&s->ops, &cfg->ops, now_ns);
}

static void bucket_update(struct rl_bucket *b, const struct token_bucket *cfg,
			  uint64_t now_ns)
{
	bool was_limiting = limits(b);
	int64_t budget;

	refill(b, now_ns);
	budget = b->budget;
	bucket_init(b, cfg, now_ns);
	/* A level kept across the change: no free refill from a PATCH. */
	if (was_limiting && budget < b->budget)
		b->budget = budget;
}

void rl_update(struct rl_state *s, const struct token_bucket *bandwidth,
	       const struct token_bucket *ops, uint64_t now_ns)
{
	if (bandwidth)
		bucket_update(&s->bandwidth, bandwidth, now_ns);
	if (ops)
		bucket_update(&s->ops, ops, now_ns);
}

bool rl_unlimited(const struct rl_state *s)
{
	return !limits(&s->bandwidth) && !limits(&s->ops);
}

bool rl_consume(struct rl_state *s, uint64_t bytes, uint64_t now_ns)
{
	if (!fits(&s->bandwidth, bytes, now_ns) || !fits(&s->ops, 1, now_ns)) {
		s->throttled++;
		return false;
	}
	take(&s->bandwidth, bytes);
	take(&s->ops, 1);
	return true;
}

void rl_charge(struct rl_state *s, uint64_t bytes, uint64_t ops,
	       uint64_t now_ns)
{
	refill(&s->bandwidth, now_ns);
	refill(&s->ops, now_ns);
	take(&s->bandwidth, bytes);
	take(&s->ops, ops);
}

bool rl_ready(struct rl_state *s, uint64_t now_ns)
{
	if (fits(&s->bandwidth, 1, now_ns) && fits(&s->ops, 1, now_ns))
		return true;
	s->throttled++;
	return false;
}

uint64_t rl_wait_ns(struct rl_state *s, uint64_t bytes, uint64_t now_ns)
{
	uint64_t a = wait_ns(&s->bandwidth, bytes, now_ns);
	uint64_t b = wait_ns(&s->ops, 1, now_ns);

	return a > b ? a : b;
}
