/*
 * virtio-balloon (virtio 1.2, 5.5): the host sets a target in num_pages,
 * the driver inflates (hands over pages, which go back to the host:
 * gm_discard) or deflates toward it and says in actual how many it holds.
 * Optional, as configured: the statistics queue (balloon_stats.c), free
 * page hinting and reporting (balloon_free.c), DEFLATE_ON_OOM (a promise
 * the driver keeps alone). MUST_TELL_HOST is always offered: Linux tells
 * the host before it reuses a page whether or not, and with it the device
 * may hold inflated pages back until their 2 MiB frame is whole
 * (balloon_pend.c). PAGE_POISON is not offered: the host never needs a
 * page's content.
 *
 * Everything runs inline on the loop: madvise and fallocate do not block
 * on I/O, so nothing is ever in flight and a pause or reset is immediate.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"

#include "balloon_dev.h"
#include "devices.h"

static void balloon_config_read(void *dev, uint32_t off, uint8_t *data,
				uint32_t len)
{
	struct balloon *b = dev;
	uint8_t img[BALLOON_CONFIG_SIZE] = { 0 };

	pci_put32(img + BALLOON_CFG_NUM_PAGES, b->num_pages);
	pci_put32(img + BALLOON_CFG_ACTUAL, b->actual);
	pci_put32(img + BALLOON_CFG_HINT_CMD, b->hint_cmd);
	memcpy(data, img + off, len); /* bounds checked by the transport */
}

/* Only actual is the driver's to write; other bytes are dropped. */
static void balloon_config_write(void *dev, uint32_t off, const uint8_t *data,
				 uint32_t len)
{
	struct balloon *b = dev;
	uint8_t img[4];

	pci_put32(img, b->actual);
	for (uint32_t i = 0; i < len; i++)
		if (off + i >= BALLOON_CFG_ACTUAL &&
		    off + i < BALLOON_CFG_ACTUAL + 4)
			img[off + i - BALLOON_CFG_ACTUAL] = data[i];
	b->actual = pci_get32(img);
	/*
	 * The driver writes actual after each chain it was told is used: at
	 * the target, what waits for its frame goes back now, on the loop
	 * (the API's answer also flushes first, balloon_ctl.c).
	 */
	if (b->actual >= b->num_pages &&
	    virtio_has(b->t, BALLOON_F_MUST_TELL_HOST))
		balloon_pend_kick(b);
}

void balloon_roles(struct balloon *b)
{
	static const struct {
		enum balloon_role role;
		int feature; /* -1: always there */
	} order[] = {
		{ BALLOON_Q_INFLATE, -1 },
		{ BALLOON_Q_DEFLATE, -1 },
		{ BALLOON_Q_STATS, BALLOON_F_STATS_VQ },
		{ BALLOON_Q_HINT, BALLOON_F_FREE_PAGE_HINT },
		{ BALLOON_Q_REPORT, BALLOON_F_PAGE_REPORTING },
	};
	unsigned n = 0, nq = virtio_nr_queues(b->t);

	memset(b->role, 0, sizeof(b->role));
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (order[i].feature >= 0 &&
		    !virtio_has(b->t, (unsigned)order[i].feature))
			continue;
		if (n < nq)
			b->role[n++] = order[i].role;
	}
}

struct virtio_queue *balloon_queue(struct balloon *b, enum balloon_role r)
{
	for (unsigned i = 0; i < virtio_nr_queues(b->t); i++)
		if (b->role[i] == r)
			return virtio_queue_at(b->t, i);
	return NULL;
}

static void balloon_activate(void *dev)
{
	struct balloon *b = dev;

	balloon_roles(b);
	balloon_stats_arm(b, true);
	/*
	 * A hinting run a snapshot caught ends here, as Firecracker's does
	 * on restore: the driver may use its hinted pages again.
	 */
	if (b->end_run) {
		b->end_run = false;
		balloon_hint_cmd(b, BALLOON_HINT_DONE);
	}
}

static void balloon_queue_notify(void *dev, struct virtio_queue *q)
{
	struct balloon *b = dev;

	switch (q->index < BALLOON_MAX_QUEUES ? b->role[q->index] :
						 BALLOON_Q_NONE) {
	case BALLOON_Q_INFLATE:
		balloon_inflate(b, q);
		break;
	case BALLOON_Q_DEFLATE:
		balloon_deflate(b, q);
		break;
	case BALLOON_Q_STATS:
		balloon_stats_queue(b, q);
		break;
	case BALLOON_Q_HINT:
		balloon_hint(b, q);
		break;
	case BALLOON_Q_REPORT:
		balloon_report(b, q);
		break;
	default:
		/* A queue of a feature the driver did not take: unused. */
		break;
	}
}

/*
 * What waits for its frame goes back before a pause: a pause comes before
 * a snapshot or a migration's last pass, which then see (and the dirty
 * log carries, gm_discard) the pages as the host has them, with nothing
 * held by the device to save; and the RSS a paused VM shows is honest.
 * While paused nothing is served, so nothing new waits.
 */
static void balloon_pause(void *dev)
{
	balloon_pend_flush(dev);
}

/* What the driver set up goes; the host's target stays. */
static void balloon_reset(void *dev)
{
	struct balloon *b = dev;

	/* Not given back: the guest may use those pages again unasked. */
	balloon_pend_forget(b);
	virtio_config_begin(b->t);
	b->actual = 0;
	b->hint_cmd = BALLOON_HINT_STOP;
	virtio_config_end(b->t, false);
	balloon_stats_arm(b, false);
	b->stats_held = false;
	memset(b->stats, 0, sizeof(b->stats));
	b->stats_seen = 0;
	b->hint_last = b->hint_guest = 0;
	b->hint_guest_seen = b->hint_ack_on_stop = b->end_run = false;
	memset(b->role, 0, sizeof(b->role));
	virtio_reset_done(b->t); /* nothing is ever in flight */
}

static void balloon_destroy(void *dev)
{
	struct balloon *b = dev;

	balloon_stats_fini(b);
	balloon_pend_fini(b);
	free(b);
}

static const struct virtio_dev_ops balloon_ops = {
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.pause = balloon_pause,
	.save = balloon_save,
	.load = balloon_load,
	.destroy = balloon_destroy,
};

/* What the configuration offers the driver, and the queues that takes. */
static uint64_t offer(const struct balloon_config *c, uint16_t *queues)
{
	uint64_t f = VIRTIO_BIT(BALLOON_F_MUST_TELL_HOST);

	*queues = 2;
	if (c->deflate_on_oom)
		f |= VIRTIO_BIT(BALLOON_F_DEFLATE_ON_OOM);
	if (c->stats_interval_s) {
		f |= VIRTIO_BIT(BALLOON_F_STATS_VQ);
		(*queues)++;
	}
	if (c->free_page_hinting) {
		f |= VIRTIO_BIT(BALLOON_F_FREE_PAGE_HINT);
		(*queues)++;
	}
	if (c->free_page_reporting) {
		f |= VIRTIO_BIT(BALLOON_F_PAGE_REPORTING);
		(*queues)++;
	}
	return f;
}

int balloon_create(struct dev_ctx *ctx, const struct balloon_config *cfg,
		   struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-balloon",
		.id = "balloon0",
		.device_id = VIRTIO_ID_BALLOON,
		.pci_class = 0x050000, /* memory controller, RAM */
		.queue_size = BALLOON_QUEUE_SIZE,
		.config_size = BALLOON_CONFIG_SIZE,
	};
	struct balloon *b;
	int ret;

	if (cfg->amount_mib > BALLOON_MAX_MIB)
		return mvm_fail(err, -EINVAL, "balloon: amount_mib %u is more "
				"than %u", cfg->amount_mib, BALLOON_MAX_MIB);
	b = calloc(1, sizeof(*b));
	if (!b)
		return mvm_fail(err, -ENOMEM, "out of memory");
	b->ctx = ctx;
	b->cfg = *cfg;
	b->num_pages = cfg->amount_mib * BALLOON_PAGES_PER_MIB;
	b->timer_fd = -1;
	b->pend.timer_fd = b->pend.kick_fd = -1;
	info.features = offer(cfg, &info.nr_queues);
	ret = balloon_stats_init(b, err);
	if (!ret)
		ret = balloon_pend_init(b, err);
	if (!ret)
		ret = virtio_pci_create(ctx, &info, &balloon_ops, b, &b->t,
					err);
	if (ret) {
		balloon_stats_fini(b);
		balloon_pend_fini(b);
		free(b);
	}
	return ret;
}
