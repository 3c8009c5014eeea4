/*
 * virtio-blk (virtio 1.2, 5.2). Requests run on the event loop's io_uring:
 * reads and writes go straight between the backing file and guest memory
 * (the iovecs point into the guest's buffers), FLUSH is an fdatasync, and
 * DISCARD / WRITE_ZEROES are fallocate()s. A request is completed to the
 * guest only from its CQE, so no write is acknowledged before the kernel
 * has taken it. One queue per vCPU.
 */
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "blk.h"
#include "blk_req.h"

#define QUEUE_SIZE 256
#define SEG_MAX (QUEUE_SIZE - 2) /* data segments: header, status aside */
#define MAX_QUEUES BLK_MAX_QUEUES
#define MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB per request */
#define CONFIG_SIZE 60

/* Feature bits (5.2.3). */
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_MQ 12
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14

/* Config offsets (5.2.4). */
enum {
	CFG_CAPACITY = 0,
	CFG_SEG_MAX = 12,
	CFG_BLK_SIZE = 20,
	CFG_WRITEBACK = 32,
	CFG_NUM_QUEUES = 34,
	CFG_MAX_DISCARD_SECTORS = 36,
	CFG_MAX_DISCARD_SEG = 40,
	CFG_DISCARD_ALIGN = 44,
	CFG_MAX_WZ_SECTORS = 48,
	CFG_MAX_WZ_SEG = 52,
	CFG_WZ_MAY_UNMAP = 56,
};

static void put64(uint8_t *p, uint64_t v)
{
	pci_put32(p, (uint32_t)v);
	pci_put32(p + 4, (uint32_t)(v >> 32));
}

static void blk_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct blk *b = dev;

	memcpy(data, b->config + off, len); /* bounds checked by transport */
}

static void build_config(struct blk *b, uint16_t queues)
{
	uint8_t *c = b->config;

	put64(c + CFG_CAPACITY, b->file.size / BLK_SECTOR);
	pci_put32(c + CFG_SEG_MAX, SEG_MAX);
	pci_put32(c + CFG_BLK_SIZE, BLK_SECTOR);
	c[CFG_WRITEBACK] = 1; /* a volatile cache: the guest must FLUSH */
	pci_put16(c + CFG_NUM_QUEUES, queues);
	pci_put32(c + CFG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
	pci_put32(c + CFG_MAX_DISCARD_SEG, 1);
	pci_put32(c + CFG_DISCARD_ALIGN, 1);
	pci_put32(c + CFG_MAX_WZ_SECTORS, MAX_DISCARD_SECTORS);
	pci_put32(c + CFG_MAX_WZ_SEG, 1);
	c[CFG_WZ_MAY_UNMAP] = b->file.can_punch;
}

void blk_config_media(struct blk *b)
{
	virtio_config_begin(b->t);
	put64(b->config + CFG_CAPACITY, b->file.size / BLK_SECTOR);
	b->config[CFG_WZ_MAY_UNMAP] = b->file.can_punch;
	virtio_config_end(b->t, true);
}

static uint64_t features(const struct blk *b, uint16_t queues)
{
	uint64_t f = VIRTIO_BIT(BLK_F_SEG_MAX) | VIRTIO_BIT(BLK_F_BLK_SIZE) |
		     VIRTIO_BIT(BLK_F_FLUSH);

	if (queues > 1)
		f |= VIRTIO_BIT(BLK_F_MQ);
	if (b->file.readonly)
		return f | VIRTIO_BIT(BLK_F_RO);
	if (b->file.can_punch)
		f |= VIRTIO_BIT(BLK_F_DISCARD);
	if (b->file.can_punch || b->file.can_zero)
		f |= VIRTIO_BIT(BLK_F_WRITE_ZEROES);
	return f;
}

/*
 * The next request of q, if the rate limiter lets it start: false when
 * the queue is empty or the request must wait (it goes back to the ring,
 * and the limiter's timer calls blk_throttle_resume).
 */
static bool next_request(struct blk *b, struct virtio_queue *q,
			 struct virtq_chain *c, struct blk_req_hdr *hdr)
{
	if (virtio_queue_pop(q, c, b->iov, VIRTQ_MAX_SEGS) <= 0)
		return false;
	if (throttle_take(&b->thr, blk_req_read_hdr(c, b->iov, hdr)))
		return true;
	virtio_queue_unpop(q, 1);
	return false;
}

void blk_queue_notify(void *dev, struct virtio_queue *q)
{
	struct blk *b = dev;
	unsigned *busy = &b->q_inflight[q->index];
	struct blk_req_hdr hdr;
	struct virtq_chain c;

	/*
	 * Held back until the old medium's requests are done, or resume, or
	 * the limiter's timer: kicks meanwhile change nothing.
	 */
	if (b->swap_pending || !virtio_serving(b->t) ||
	    throttle_waiting(&b->thr))
		return;
	do {
		virtio_queue_notify_disable(q);
		while (!b->stopping && *busy < q->vq.size &&
		       next_request(b, q, &c, &hdr))
			blk_req_start(b, q, &c, b->iov, &hdr);
		/*
		 * At the cap, completions call back here; throttled, the
		 * timer does: no kick needed.
		 */
		if (*busy >= q->vq.size || throttle_waiting(&b->thr))
			break;
	} while (!b->stopping && virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
}

/* The limiter's timer: tokens are back, or it was cancelled. */
static void blk_throttle_resume(void *dev)
{
	struct blk *b = dev;

	if (b->stopping) {
		blk_maybe_reset_done(b);
		return;
	}
	/* Paused: the resume notifies every queue itself. */
	if (!virtio_serving(b->t))
		return;
	for (unsigned i = 0; i < virtio_nr_queues(b->t); i++) {
		struct virtio_queue *q = virtio_queue_at(b->t, i);

		if (q->ready && !q->broken)
			blk_queue_notify(b, q);
	}
}

void blk_rate_limit(struct blk *b, const struct token_bucket *bandwidth,
		    const struct token_bucket *ops)
{
	throttle_update(&b->thr, bandwidth, ops);
}

static void blk_reset(void *dev)
{
	struct blk *b = dev;

	/* Requests in flight finish first: their buffers are the guest's. */
	b->stopping = true;
	throttle_cancel(&b->thr); /* its completion points at b */
	blk_maybe_reset_done(b);
}

/* A pause waits for these; reads and writes on a file always end. */
static unsigned blk_inflight(void *dev)
{
	return ((struct blk *)dev)->inflight;
}

static void blk_destroy(void *dev)
{
	struct blk *b = dev;

	blk_file_close(&b->file);
	if (b->swap_pending)
		blk_file_close(&b->next);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
	.config_read = blk_config_read,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.inflight = blk_inflight,
	.save = blk_save,
	.load = blk_load,
	.destroy = blk_destroy,
};

void blk_maybe_reset_done(struct blk *b)
{
	if (b->stopping && b->inflight == 0 && !throttle_busy(&b->thr)) {
		b->stopping = false;
		memset(b->q_inflight, 0, sizeof(b->q_inflight));
		virtio_reset_done(b->t);
	}
}

int blk_create(struct dev_ctx *ctx, const struct disk_config *cfg,
	       unsigned cpus, struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-blk",
		.id = cfg->id,
		.device_id = VIRTIO_ID_BLOCK,
		.pci_class = 0x018000, /* mass storage, other */
		.queue_size = QUEUE_SIZE,
		.config_size = CONFIG_SIZE,
	};
	uint16_t queues = (uint16_t)(cpus < MAX_QUEUES ? cpus : MAX_QUEUES);
	struct blk *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return mvm_fail(err, -ENOMEM, "out of memory");
	if (!queues)
		queues = 1;
	b->ctx = ctx;
	b->cache = cfg->cache;
	throttle_init(&b->thr, ctx->loop, &cfg->rl, blk_throttle_resume, b);
	snprintf(b->id, sizeof(b->id), "%s", cfg->id);
	ret = blk_file_open(&b->file, cfg, err);
	if (ret) {
		free(b);
		return ret;
	}
	build_config(b, queues);
	info.features = features(b, queues);
	info.nr_queues = queues;
	ret = virtio_pci_create(ctx, &info, &blk_ops, b, &b->t, err);
	if (!ret)
		throttle_count_in(&b->thr, b->t, VIRTIO_CTR_THROTTLED);
	if (ret) {
		blk_file_close(&b->file);
		free(b);
	}
	return ret;
}
