/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers
 * are filled from getrandom(). The kernel's pool never blocks once seeded,
 * so requests complete inline on the event loop; a rate limiter charges
 * each request the bytes it asks for (up to what one request gets).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "devices.h"
#include "throttle.h"

#define QUEUE_SIZE 64
/* Enough for any guest's pool, small enough to keep the loop responsive. */
#define MAX_PER_REQUEST (64 * 1024)

struct rng {
	struct virtio_transport *t;
	struct throttle thr;
	bool stopping; /* reset asked: waiting for the limiter's timer */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

static void rng_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	(void)dev;
	(void)off;
	memset(data, 0, len); /* no config space */
}

static uint32_t fill(struct rng *r, const struct virtq_chain *c)
{
	struct iovec *in = r->iov + c->nr_out;
	uint32_t done = 0;

	for (unsigned i = 0; i < c->nr_in && done < MAX_PER_REQUEST; i++) {
		size_t want = in[i].iov_len;
		ssize_t n;

		if (want > MAX_PER_REQUEST - done)
			want = MAX_PER_REQUEST - done;
		n = getrandom(in[i].iov_base, want, GRND_NONBLOCK);
		if (n <= 0)
			break;
		done += (uint32_t)n;
		if ((size_t)n < want)
			break;
	}
	return done;
}

/* The next request, if the limiter lets it through (else it waits). */
static bool next_request(struct rng *r, struct virtio_queue *q,
			 struct virtq_chain *c)
{
	if (virtio_queue_pop(q, c, r->iov, VIRTQ_MAX_SEGS) <= 0)
		return false;
	if (throttle_take(&r->thr, c->in_len < MAX_PER_REQUEST ?
				   c->in_len : MAX_PER_REQUEST))
		return true;
	virtio_queue_unpop(q, 1);
	return false;
}

static void rng_queue_notify(void *dev, struct virtio_queue *q)
{
	struct rng *r = dev;
	struct virtq_chain c;
	uint32_t n;

	if (r->stopping || !virtio_serving(r->t) || throttle_waiting(&r->thr))
		return;
	do {
		virtio_queue_notify_disable(q);
		while (next_request(r, q, &c)) {
			/* The device only writes: a readable buffer is wrong. */
			if (c.nr_out) {
				virtio_log(r->t, "queue 0: request with a "
					   "readable buffer; failed");
				virtio_queue_complete(q, c.head, 0);
				continue;
			}
			n = fill(r, &c);
			virtio_count(r->t, VIRTIO_CTR_ENTROPY_BYTES, n);
			virtio_queue_complete(q, c.head, n);
		}
		if (throttle_waiting(&r->thr))
			break; /* the timer calls back */
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
}

static void rng_maybe_reset_done(struct rng *r)
{
	if (r->stopping && !throttle_busy(&r->thr)) {
		r->stopping = false;
		virtio_reset_done(r->t);
	}
}

/* The limiter's timer: tokens are back, or it was cancelled. */
static void rng_throttle_resume(void *dev)
{
	struct rng *r = dev;
	struct virtio_queue *q = virtio_queue_at(r->t, 0);

	if (r->stopping)
		rng_maybe_reset_done(r);
	else if (virtio_serving(r->t) && q->ready && !q->broken)
		rng_queue_notify(r, q);
}

static void rng_reset(void *dev)
{
	struct rng *r = dev;

	/* Requests complete inline; only the limiter's timer may wait. */
	r->stopping = true;
	throttle_cancel(&r->thr);
	rng_maybe_reset_done(r);
}

static void rng_destroy(void *dev)
{
	free(dev);
}

static const struct virtio_dev_ops rng_ops = {
	.config_read = rng_config_read,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.destroy = rng_destroy,
};

int rng_create(struct dev_ctx *ctx, const struct rate_limiter *rl,
	       struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-rng",
		.id = "rng0",
		.device_id = VIRTIO_ID_RNG,
		.pci_class = 0xff0000, /* unclassified device */
		.nr_queues = 1,
		.queue_size = QUEUE_SIZE,
	};
	struct rng *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return mvm_fail(err, -ENOMEM, "out of memory");
	throttle_init(&r->thr, ctx->loop, rl, rng_throttle_resume, r);
	ret = virtio_pci_create(ctx, &info, &rng_ops, r, &r->t, err);
	if (ret)
		free(r);
	else
		throttle_count_in(&r->thr, r->t, VIRTIO_CTR_THROTTLED);
	return ret;
}
