/*
 * A queue's rate limiter and its timer (throttle.h). The timer is one
 * IORING_OP_TIMEOUT whose completion calls the device's resume.
 */
#include <stddef.h>
#include <string.h>

#include "mvm/clock.h"

#include "throttle.h"

/* Woken sooner, a request would not fit; the loop need not be woken
 * more often than this either. */
#define MIN_WAIT_NS 100000u

static void timer_done(struct loop_op *op, int res, unsigned flags)
{
	struct throttle *t = (struct throttle *)((char *)op -
						 offsetof(struct throttle, op));

	(void)res;
	(void)flags;
	t->armed = false;
	t->throttled = false;
	/* Also after a cancel: the device decides (reset done, paused). */
	t->resume(t->ctx);
}

static void arm(struct throttle *t, uint64_t ns)
{
	struct io_uring_sqe *sqe;

	t->throttled = true;
	if (t->vt)
		virtio_count(t->vt, t->counter, 1);
	if (t->armed)
		return;
	sqe = loop_sqe_wait(t->loop);
	if (!sqe) {
		/* io_uring failed: not waiting for a timer that never comes;
		 * the guest's next kick asks again. */
		t->throttled = false;
		return;
	}
	if (ns < MIN_WAIT_NS)
		ns = MIN_WAIT_NS;
	t->ts.tv_sec = (long long)(ns / 1000000000u);
	t->ts.tv_nsec = (long long)(ns % 1000000000u);
	io_uring_prep_timeout(sqe, &t->ts, 0, 0);
	t->op.done = timer_done;
	loop_prep(t->loop, sqe, &t->op);
	t->armed = true;
}

void throttle_init(struct throttle *t, struct loop *loop,
		   const struct rate_limiter *cfg,
		   void (*resume)(void *ctx), void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->resume = resume;
	t->ctx = ctx;
	rl_init(&t->rl, cfg, mvm_mono_ns());
}

bool throttle_take(struct throttle *t, uint64_t bytes)
{
	uint64_t now;

	if (rl_unlimited(&t->rl))
		return true;
	now = mvm_mono_ns();
	if (rl_consume(&t->rl, bytes, now))
		return true;
	arm(t, rl_wait_ns(&t->rl, bytes, now));
	return false;
}

bool throttle_ready(struct throttle *t)
{
	uint64_t now;

	if (rl_unlimited(&t->rl))
		return true;
	now = mvm_mono_ns();
	if (rl_ready(&t->rl, now))
		return true;
	arm(t, rl_wait_ns(&t->rl, 1, now));
	return false;
}

void throttle_charge(struct throttle *t, uint64_t bytes)
{
	if (!rl_unlimited(&t->rl))
		rl_charge(&t->rl, bytes, 1, mvm_mono_ns());
}

void throttle_update(struct throttle *t, const struct token_bucket *bandwidth,
		     const struct token_bucket *ops)
{
	rl_update(&t->rl, bandwidth, ops, mvm_mono_ns());
	/* The pending timer was for the old rates: retry now instead. */
	throttle_cancel(t);
}

void throttle_cancel(struct throttle *t)
{
	struct io_uring_sqe *sqe;

	if (!t->armed)
		return;
	sqe = loop_sqe_wait(t->loop);
	if (!sqe)
		return;
	io_uring_prep_timeout_remove(sqe, (__u64)(uintptr_t)&t->op, 0);
	/* The removal's own completion needs no callback. */
	io_uring_sqe_set_data(sqe, NULL);
}
