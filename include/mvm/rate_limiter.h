/*
 * Firecracker's rate limiters: two token buckets per device queue, one
 * counting bytes (bandwidth) and one counting requests (ops). A bucket of
 * `size` tokens refills completely over refill_time_ms, at an even rate,
 * and has a one-time burst that is spent first; size 0 means no limit.
 *
 * The runtime part is pure: every call takes the monotonic time in ns, so
 * the devices pass the clock and the unit tests a fake one. A request
 * that does not fit is refused whole (the device serves nothing of the
 * queue until rl_wait_ns() has passed); one larger than the bucket is let
 * through when the bucket is full, leaving it in debt, so it never waits
 * forever and the long-run rate still holds.
 */
#ifndef MVM_RATE_LIMITER_H
#define MVM_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

/* A bucket as configured (the API's TokenBucket). */
struct token_bucket {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time_ms;
};

/* Bandwidth (bytes) and operation limits of one device queue. */
struct rate_limiter {
	struct token_bucket bandwidth;
	struct token_bucket ops;
};

/*
 * The largest size or burst, and refill time (about 35 years), accepted:
 * a refill time in ns and the products of the refill stay far from
 * overflowing their 64 and 128 bits.
 */
#define RL_BUCKET_MAX (1ull << 53)
#define RL_REFILL_MS_MAX (1ull << 40)

/* A bucket at run time. */
struct rl_bucket {
	struct token_bucket cfg;
	int64_t budget;   /* tokens now; below 0 after an over-size request */
	uint64_t burst;   /* what is left of the one-time burst */
	uint64_t last_ns; /* when budget was last refilled */
	uint64_t rem;     /* refill carried over: tokens * refill ns, < that */
};

struct rl_state {
	struct rl_bucket bandwidth;
	struct rl_bucket ops;
	uint64_t throttled; /* requests refused (rl_consume, rl_ready) */
};

/* A limiter as configured, its buckets full (Firecracker's start). */
void rl_init(struct rl_state *s, const struct rate_limiter *cfg,
	     uint64_t now_ns);
/*
 * New settings for the buckets given (the others keep theirs): a bucket
 * keeps its level, cut to the new size (one that was unlimited starts
 * full), and gets the new one-time burst.
 */
void rl_update(struct rl_state *s, const struct token_bucket *bandwidth,
	       const struct token_bucket *ops, uint64_t now_ns);
/* Neither bucket limits. */
bool rl_unlimited(const struct rl_state *s);
/*
 * Take one request of bytes: true and the tokens taken, or false and
 * nothing taken (counted in throttled).
 */
bool rl_consume(struct rl_state *s, uint64_t bytes, uint64_t now_ns);
/*
 * Take what was used already (a received frame, whose size is known only
 * once read): always, the budget going below 0 if it must.
 */
void rl_charge(struct rl_state *s, uint64_t bytes, uint64_t ops,
	       uint64_t now_ns);
/*
 * Whether a request could start now without knowing its size: both
 * buckets above 0 (a receive is charged once it is read).
 */
bool rl_ready(struct rl_state *s, uint64_t now_ns);
/*
 * How long until a request of bytes (and one op) would fit, 0 if it fits
 * now; for rl_ready, ask for 1 byte.
 */
uint64_t rl_wait_ns(struct rl_state *s, uint64_t bytes, uint64_t now_ns);

#endif
