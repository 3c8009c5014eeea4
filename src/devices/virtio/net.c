/*
 * virtio-net (virtio 1.2, 5.1) over a network backend. One RX and one TX
 * queue; checksum and TSO offloads are offered when the backend can do
 * them and switched on in the backend to match what the driver accepted.
 * A backend with an MTU of its own (the user backend's, up to 64 KiB) has
 * it offered (VIRTIO_NET_F_MTU), and frames that large pass both ways.
 * The MAC is given or derived from the NIC's id; with mac_spoofing off,
 * frames the guest sends from any other source address are dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"

#include "devices.h"
#include "net_dev.h"

#define NET_S_LINK_UP 1

static void net_config_read(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct net *n = dev;

	memcpy(data, n->config + off, len); /* bounds checked by transport */
}

static bool net_features_ok(void *dev, uint64_t f)
{
	(void)dev;
	/* 5.1.3.1: segmentation offloads come with checksum offload. */
	if ((f & (VIRTIO_BIT(NET_F_GUEST_TSO4) | VIRTIO_BIT(NET_F_GUEST_TSO6))) &&
	    !(f & VIRTIO_BIT(NET_F_GUEST_CSUM)))
		return false;
	if ((f & (VIRTIO_BIT(NET_F_HOST_TSO4) | VIRTIO_BIT(NET_F_HOST_TSO6))) &&
	    !(f & VIRTIO_BIT(NET_F_CSUM)))
		return false;
	return true;
}

static void net_activate(void *dev)
{
	struct net *n = dev;
	unsigned off = 0;

	if (!n->be->offloads)
		return;
	if (virtio_has(n->t, NET_F_GUEST_CSUM))
		off |= NET_OFFLOAD_CSUM;
	if (virtio_has(n->t, NET_F_GUEST_TSO4))
		off |= NET_OFFLOAD_TSO4;
	if (virtio_has(n->t, NET_F_GUEST_TSO6))
		off |= NET_OFFLOAD_TSO6;
	if (n->be->ops->set_offload(n->be, off))
		virtio_log(n->t, "backend refused offloads %#x", off);
}

static void net_queue_notify(void *dev, struct virtio_queue *q)
{
	struct net *n = dev;

	if (q->index == NET_RXQ)
		net_rx_kick(n);
	else
		net_tx_kick(n);
}

void net_maybe_reset_done(struct net *n)
{
	if (n->stopping && !n->rx_inflight && n->tx_inflight == 0 &&
	    !throttle_busy(&n->rx_thr) && !throttle_busy(&n->tx_thr)) {
		n->stopping = false;
		n->be->ops->set_offload(n->be, 0);
		virtio_reset_done(n->t);
	}
}

void net_rx_throttle_resume(void *dev)
{
	struct net *n = dev;

	if (n->stopping)
		net_maybe_reset_done(n);
	else
		net_rx_kick(n); /* paused: it does nothing; resume kicks */
}

void net_tx_throttle_resume(void *dev)
{
	struct net *n = dev;

	if (n->stopping)
		net_maybe_reset_done(n);
	else
		net_tx_kick(n);
}

void net_rate_limit(struct net *n, const struct token_bucket *rx_bw,
		    const struct token_bucket *rx_ops,
		    const struct token_bucket *tx_bw,
		    const struct token_bucket *tx_ops)
{
	if (rx_bw || rx_ops)
		throttle_update(&n->rx_thr, rx_bw, rx_ops);
	if (tx_bw || tx_ops)
		throttle_update(&n->tx_thr, tx_bw, tx_ops);
}

static void net_reset(void *dev)
{
	struct net *n = dev;

	n->stopping = true;
	net_rx_cancel(n); /* a pending read would wait for a frame forever */
	net_inject_free(n); /* MMDS's frames were for the old rings */
	/* The limiters' timers point at n: cancelled, and waited for. */
	throttle_cancel(&n->rx_thr);
	throttle_cancel(&n->tx_thr);
	net_maybe_reset_done(n);
}

/* A read on the tap waits for a frame that may never come: cancel it. */
static void net_pause(void *dev)
{
	net_rx_cancel(dev);
}

static unsigned net_inflight(void *dev)
{
	struct net *n = dev;

	return n->tx_inflight + n->rx_inflight;
}

static void net_destroy(void *dev)
{
	struct net *n = dev;

	mmds_net_free(n->mmds);
	net_inject_free(n);
	n->be->ops->close(n->be);
	free(n->tx_frame);
	free(n);
}

static const struct virtio_dev_ops net_ops = {
	.config_read = net_config_read,
	.features_ok = net_features_ok,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.pause = net_pause,
	.inflight = net_inflight,
	.save = net_save,
	.load = net_load,
	.destroy = net_destroy,
};

static uint64_t net_features(const struct net *n)
{
	uint64_t f = VIRTIO_BIT(NET_F_MAC) | VIRTIO_BIT(NET_F_MRG_RXBUF) |
		     VIRTIO_BIT(NET_F_STATUS);

	if (n->be->local_csum)
		f |= VIRTIO_BIT(NET_F_CSUM) | VIRTIO_BIT(NET_F_GUEST_CSUM);
	if (n->be->offloads)
		f |= VIRTIO_BIT(NET_F_CSUM) | VIRTIO_BIT(NET_F_GUEST_CSUM) |
		     VIRTIO_BIT(NET_F_GUEST_TSO4) |
		     VIRTIO_BIT(NET_F_GUEST_TSO6) |
		     VIRTIO_BIT(NET_F_HOST_TSO4) | VIRTIO_BIT(NET_F_HOST_TSO6);
	if (n->be->mtu)
		f |= VIRTIO_BIT(NET_F_MTU);
	return f;
}

/* Close what net_create opened, on its failure paths. */
static void net_undo(struct net *n)
{
	mmds_net_free(n->mmds);
	n->be->ops->close(n->be);
	free(n->tx_frame);
	free(n);
}

/*
 * Sizes from the backend's MTU: the largest frame, the copy buffer a
 * backend with no fd needs for the guest's frames, and the MTU the
 * guest's driver reads (5.1.4: mtu, valid with VIRTIO_NET_F_MTU).
 */
static int net_size(struct net *n, struct mvm_err *err)
{
	n->frame_max = (n->be->mtu ? n->be->mtu : 1500) + NET_ETH_HLEN + 4;
	pci_put16(n->config + 10, (uint16_t)n->be->mtu);
	if (n->be->fd >= 0)
		return 0;
	n->tx_frame = malloc(NET_HDR_LEN + n->frame_max);
	if (!n->tx_frame)
		return mvm_fail(err, -ENOMEM, "out of memory");
	return 0;
}

int net_create(struct dev_ctx *ctx, const struct net_config *cfg,
	       struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-net",
		.id = cfg->id,
		.device_id = VIRTIO_ID_NET,
		.pci_class = 0x020000, /* Ethernet controller */
		.nr_queues = 2,
		.queue_size = NET_QUEUE_SIZE,
		.config_size = sizeof(((struct net *)0)->config),
	};
	struct net *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return mvm_fail(err, -ENOMEM, "out of memory");
	n->ctx = ctx;
	snprintf(n->id, sizeof(n->id), "%s", cfg->id);
	throttle_init(&n->rx_thr, ctx->loop, &cfg->rx_rl,
		      net_rx_throttle_resume, n);
	throttle_init(&n->tx_thr, ctx->loop, &cfg->tx_rl,
		      net_tx_throttle_resume, n);
	n->spoofing = cfg->mac_spoofing;
	if (cfg->mac_set)
		memcpy(n->mac, cfg->mac, NET_MAC_LEN);
	else
		net_mac_from_id(cfg->id, n->mac);
	if (cfg->user)
		ret = user_net_open(cfg, ctx->loop, net_rx_frame, n, &n->be,
				    err);
	else if (cfg->tap_given)
		ret = tap_adopt(cfg->tap, cfg->tap_fd, &n->be, err);
	else
		ret = tap_open(cfg->tap, &n->be, err);
	if (ret) {
		free(n);
		return mvm_wrap(err, ret, "net %s: ", cfg->id);
	}
	ret = net_size(n, err);
	if (!ret && cfg->mmds)
		ret = mmds_net_new(&n->mmds, cfg->mmds, cfg->mmds_ipv4,
				   ctx->loop, net_rx_inject, n, err);
	if (ret) {
		net_undo(n);
		return mvm_wrap(err, ret, "net %s: ", cfg->id);
	}
	memcpy(n->config, n->mac, NET_MAC_LEN);
	pci_put16(n->config + 6, NET_S_LINK_UP);
	pci_put16(n->config + 8, 1); /* max_virtqueue_pairs */
	info.features = net_features(n);
	ret = virtio_pci_create(ctx, &info, &net_ops, n, &n->t, err);
	if (ret) {
		net_undo(n);
		return ret;
	}
	throttle_count_in(&n->rx_thr, n->t, VIRTIO_CTR_RX_THROTTLED);
	throttle_count_in(&n->tx_thr, n->t, VIRTIO_CTR_TX_THROTTLED);
	return 0;
}
