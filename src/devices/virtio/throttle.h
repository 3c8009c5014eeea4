/*
 * A device queue's rate limiter with its one timer (virtio-blk, -net and
 * -rng): a queue whose request does not fit stops being served, and one
 * io_uring timeout, armed for the exact time the tokens need, calls the
 * device back. The timer is the only thing a throttled queue waits on: no
 * polling, no thread.
 *
 * Pause: a timer that fires while the device is paused only disarms; the
 * resume notifies every queue, which asks the limiter again. Reset and
 * teardown cancel it (throttle_cancel) and wait for its completion
 * (throttle_busy) before reporting done, since it points into the device.
 */
#ifndef MVM_VIRTIO_THROTTLE_H
#define MVM_VIRTIO_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/loop.h"
#include "mvm/rate_limiter.h"
#include "mvm/virtio_dev.h"

struct throttle {
	struct loop_op op; /* the timeout's completion */
	struct loop *loop;
	struct rl_state rl;
	struct __kernel_timespec ts;
	bool armed;      /* a timeout is submitted and not completed */
	bool throttled;  /* a request was refused; the timer will retry */
	void (*resume)(void *ctx); /* tokens are back: serve the queue */
	void *ctx;
	struct virtio_transport *vt; /* counts each refusal in counter */
	enum virtio_counter counter;
};

void throttle_init(struct throttle *t, struct loop *loop,
		   const struct rate_limiter *cfg,
		   void (*resume)(void *ctx), void *ctx);
/* Count refusals in the device's metrics (once its transport exists). */
static inline void throttle_count_in(struct throttle *t,
				     struct virtio_transport *vt,
				     enum virtio_counter counter)
{
	t->vt = vt;
	t->counter = counter;
}
/*
 * May a request of bytes (one op) start now? Takes its tokens if so;
 * else arms the timer (once) and the caller stops serving the queue.
 */
bool throttle_take(struct throttle *t, uint64_t bytes);
/*
 * A request of unknown size (a receive): may it start, the buckets being
 * above 0? Else as above. Charge it with throttle_charge once read.
 */
bool throttle_ready(struct throttle *t);
void throttle_charge(struct throttle *t, uint64_t bytes);
/* The queue is waiting for the timer: serve nothing of it meanwhile. */
static inline bool throttle_waiting(const struct throttle *t)
{
	return t->throttled;
}
/* New buckets (NULL: kept), and a throttled queue retries at once. */
void throttle_update(struct throttle *t, const struct token_bucket *bandwidth,
		     const struct token_bucket *ops);
/* Cancel a pending timer (reset, teardown); it completes soon after. */
void throttle_cancel(struct throttle *t);
/* A timer is still in flight: the device must not be freed yet. */
static inline bool throttle_busy(const struct throttle *t)
{
	return t->armed;
}

#endif
