/*
 * Rate limiters changed on a running VM (API PATCH /drives/{id},
 * /network-interfaces/{id}): the device takes the new buckets on the loop
 * thread, between requests, so no request is charged half under each.
 */
#include <string.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "blk_req.h"
#include "net_dev.h"

static bool blk_id_is(const void *dev, const void *id)
{
	return !strcmp(((const struct blk *)dev)->id, id);
}

static bool net_id_is(const void *dev, const void *id)
{
	return !strcmp(((const struct net *)dev)->id, id);
}

int virtio_blk_rate_limit(struct dev_ctx *ctx, const char *id,
			  const struct token_bucket *bandwidth,
			  const struct token_bucket *ops, struct mvm_err *err)
{
	struct blk *b = virtio_find(ctx, VIRTIO_ID_BLOCK, blk_id_is, id);

	if (!b)
		return mvm_fail(err, -ENOENT, "drive %s: no such disk on the "
				"running VM", id);
	blk_rate_limit(b, bandwidth, ops);
	virtio_count(b->t, VIRTIO_CTR_UPDATES, 1);
	return 0;
}

int virtio_net_rate_limit(struct dev_ctx *ctx, const char *id,
			  const struct token_bucket *rx_bandwidth,
			  const struct token_bucket *rx_ops,
			  const struct token_bucket *tx_bandwidth,
			  const struct token_bucket *tx_ops,
			  struct mvm_err *err)
{
	struct net *n = virtio_find(ctx, VIRTIO_ID_NET, net_id_is, id);

	if (!n)
		return mvm_fail(err, -ENOENT, "network interface %s: no such "
				"NIC on the running VM", id);
	net_rate_limit(n, rx_bandwidth, rx_ops, tx_bandwidth, tx_ops);
	return 0;
}
