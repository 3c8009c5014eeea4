/*
 * The balloon as the VM's owner drives it (include/mvm/balloon.h, for the
 * API through the VMM), on the loop thread: what the device and driver
 * hold, a new target or statistics period, free page hinting runs. A
 * config space change reaches a live driver as a config change interrupt
 * (held in the MSI-X pending bits while the VM is paused); a driver not
 * live yet reads the new value when it starts.
 */
#include <string.h>

#include "mvm/err.h"

#include "balloon_dev.h"

static bool any(const void *dev, const void *arg)
{
	(void)dev;
	(void)arg;
	return true;
}

static struct balloon *find(struct dev_ctx *ctx, struct mvm_err *err)
{
	struct balloon *b = virtio_find(ctx, VIRTIO_ID_BALLOON, any, NULL);

	if (!b)
		mvm_fail(err, -ENODEV, "balloon: the VM has no balloon device");
	return b;
}

int virtio_balloon_info(struct dev_ctx *ctx, struct balloon_info *out,
			struct mvm_err *err)
{
	struct balloon *b = find(ctx, err);

	if (!b)
		return -ENODEV;
	/* The target reached means the memory is the host's again. */
	balloon_pend_settle(b);
	memset(out, 0, sizeof(*out));
	out->cfg = b->cfg;
	virtio_config_begin(b->t);
	out->target_pages = b->num_pages;
	out->actual_pages = b->actual;
	out->hint_host_cmd = b->hint_cmd;
	virtio_config_end(b->t, false);
	memcpy(out->stats, b->stats, sizeof(out->stats));
	out->stats_seen = b->stats_seen;
	out->stats_rounds = b->stats_rounds;
	out->hint_guest_cmd = b->hint_guest;
	out->hint_guest_seen = b->hint_guest_seen;
	return 0;
}

/* A config field changed: a live driver is told, others read it later. */
static void config_changed(struct balloon *b)
{
	if (virtio_active(b->t))
		virtio_config_changed(b->t);
}

int virtio_balloon_set_target(struct dev_ctx *ctx, uint32_t amount_mib,
			      struct mvm_err *err)
{
	struct balloon *b = find(ctx, err);

	if (!b)
		return -ENODEV;
	if (amount_mib > BALLOON_MAX_MIB)
		return mvm_fail(err, -EINVAL, "balloon: amount_mib %u is more "
				"than %u", amount_mib, BALLOON_MAX_MIB);
	virtio_config_begin(b->t);
	b->num_pages = amount_mib * BALLOON_PAGES_PER_MIB;
	virtio_config_end(b->t, !virtio_active(b->t));
	b->cfg.amount_mib = amount_mib;
	config_changed(b);
	return 0;
}

void balloon_hint_cmd(struct balloon *b, uint32_t cmd)
{
	virtio_config_begin(b->t);
	b->hint_cmd = cmd;
	virtio_config_end(b->t, !virtio_active(b->t));
	config_changed(b);
}

int virtio_balloon_set_stats_interval(struct dev_ctx *ctx,
				      uint16_t interval_s,
				      struct mvm_err *err)
{
	struct balloon *b = find(ctx, err);

	if (!b)
		return -ENODEV;
	if (interval_s == b->cfg.stats_interval_s)
		return 0;
	if (!b->cfg.stats_interval_s)
		return mvm_fail(err, -EINVAL, "stats_polling_interval_s: "
				"statistics were not enabled when the balloon "
				"was configured; they cannot be turned on "
				"after boot");
	if (!interval_s)
		return mvm_fail(err, -EINVAL, "stats_polling_interval_s: "
				"statistics cannot be turned off after boot "
				"(0); give another period");
	b->cfg.stats_interval_s = interval_s;
	balloon_stats_ask(b);
	balloon_stats_arm(b, virtio_active(b->t));
	return 0;
}

/* The balloon, if hinting was configured: 0, -ENODEV or -EINVAL. */
static int find_hinting(struct dev_ctx *ctx, struct balloon **out,
			struct mvm_err *err)
{
	*out = find(ctx, err);
	if (!*out)
		return -ENODEV;
	if (!(*out)->cfg.free_page_hinting)
		return mvm_fail(err, -EINVAL, "balloon: free page hinting was "
				"not enabled when the balloon was configured "
				"(free_page_hinting)");
	return 0;
}

int virtio_balloon_hint_start(struct dev_ctx *ctx, bool ack_on_stop,
			      struct mvm_err *err)
{
	struct balloon *b;
	uint32_t cmd;
	int ret = find_hinting(ctx, &b, err);

	if (ret)
		return ret;
	/* Ids 0 and 1 are STOP and DONE: runs count on from 2. */
	cmd = b->hint_last + 1;
	if (cmd <= BALLOON_HINT_DONE)
		cmd = BALLOON_HINT_DONE + 1;
	b->hint_last = cmd;
	b->hint_ack_on_stop = ack_on_stop;
	balloon_hint_cmd(b, cmd);
	return 0;
}

int virtio_balloon_hint_stop(struct dev_ctx *ctx, struct mvm_err *err)
{
	struct balloon *b;
	int ret = find_hinting(ctx, &b, err);

	if (!ret)
		balloon_hint_cmd(b, BALLOON_HINT_DONE);
	return ret;
}
