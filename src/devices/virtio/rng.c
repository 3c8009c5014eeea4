/*
 * virtio-rng (virtio 1.2, 5.4): one request queue whose writable buffers
 * are filled from getrandom(). The kernel's pool never blocks once seeded,
 * so requests complete inline on the event loop.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "devices.h"

#define QUEUE_SIZE 64
/* Enough for any guest's pool, small enough to keep the loop responsive. */
#define MAX_PER_REQUEST (64 * 1024)

struct rng {
	struct virtio_transport *t;
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

static void rng_queue_notify(void *dev, struct virtio_queue *q)
{
	struct rng *r = dev;
	struct virtq_chain c;

	do {
		virtio_queue_notify_disable(q);
		while (virtio_queue_pop(q, &c, r->iov, VIRTQ_MAX_SEGS) > 0) {
			/* The device only writes: a readable buffer is wrong. */
			if (c.nr_out) {
				virtio_log(r->t, "queue 0: request with a "
					   "readable buffer; failed");
				virtio_queue_complete(q, c.head, 0);
				continue;
			}
			virtio_queue_complete(q, c.head, fill(r, &c));
		}
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
}

static void rng_reset(void *dev)
{
	struct rng *r = dev;

	virtio_reset_done(r->t); /* nothing is ever in flight */
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

int rng_create(struct dev_ctx *ctx, struct mvm_err *err)
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
	ret = virtio_pci_create(ctx, &info, &rng_ops, r, &r->t, err);
	if (ret)
		free(r);
	return ret;
}
