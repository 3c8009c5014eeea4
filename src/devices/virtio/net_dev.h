/* virtio-net internals: device state shared by net.c, net_rx.c, net_tx.c. */
#ifndef MVM_VIRTIO_NET_DEV_H
#define MVM_VIRTIO_NET_DEV_H

#include "mvm/dev_config.h"
#include "mvm/dev_ctx.h"
#include "mvm/mmds_net.h"
#include "mvm/net.h"
#include "mvm/virtio_dev.h"

#include "throttle.h"

#define NET_QUEUE_SIZE 256
#define NET_RXQ 0
#define NET_TXQ 1
#define NET_RX_CHAINS 64   /* chains one receive may span (MRG_RXBUF) */
#define NET_TX_INFLIGHT 64 /* frames handed to the backend at once */

/* Feature bits (5.1.3). */
#define NET_F_CSUM 0
#define NET_F_GUEST_CSUM 1
#define NET_F_MTU 3
#define NET_F_MAC 5
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_HOST_TSO4 11
#define NET_F_HOST_TSO6 12
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16

/* virtio_net_hdr_v1.flags and gso_type. */
#define NET_HDR_F_NEEDS_CSUM 1
#define NET_HDR_F_DATA_VALID 2
#define NET_HDR_GSO_NONE 0

struct net_rx_chain {
	uint16_t head;
	uint32_t len; /* writable bytes */
	unsigned first, niov; /* its part of rx_iov */
};

struct net {
	char id[DEV_CONFIG_ID_MAX];
	struct dev_ctx *ctx;
	struct virtio_transport *t;
	struct net_backend *be;
	uint8_t mac[NET_MAC_LEN];
	bool spoofing;
	uint8_t config[12]; /* mac, status, max_virtqueue_pairs, mtu */
	/*
	 * The largest Ethernet frame (no virtio header) the backend takes or
	 * sends without segmentation: its MTU's, with a VLAN tag.
	 */
	uint32_t frame_max;
	bool stopping; /* reset asked: wait for the backend ops in flight */

	/* Receive: one read at a time, into chains taken in advance. */
	struct loop_op rx_op;
	bool rx_inflight;
	bool rx_is_wait; /* rx_op is a delay or a poll, not a read */
	struct __kernel_timespec rx_delay;
	struct net_rx_chain rx_chain[NET_RX_CHAINS];
	unsigned rx_nchains;
	unsigned rx_niov;
	struct iovec rx_iov[VIRTQ_MAX_SEGS];
	struct iovec rx_scratch[VIRTQ_MAX_SEGS];

	/* Transmit: each frame is one write, completed from its CQE. */
	unsigned tx_inflight;
	uint64_t tx_spoofed; /* frames dropped for a foreign source MAC */
	uint64_t tx_errors;
	struct iovec tx_iov[VIRTQ_MAX_SEGS]; /* scratch for popping */
	uint8_t *tx_frame; /* a backend with no fd: NET_HDR_LEN + frame_max */

	/*
	 * MMDS (include/mvm/mmds_net.h): its frames leave the TX path for
	 * the carrier, whose answers wait here for the guest's buffers; a
	 * pending backend read is cancelled to let them in first.
	 */
	struct mmds_net *mmds;
	struct net_inject *inject_head, *inject_tail;
	unsigned inject_count;
	bool rx_cancel_to_inject;

	/* Rate limiters: frames to the guest, and from it. */
	struct throttle rx_thr;
	struct throttle tx_thr;
};

/* Device state for snapshots (net_state.c). */
size_t net_save(void *dev, void *buf, size_t cap);
int net_load(void *dev, const void *buf, size_t len);

/* A frame for the guest that comes from mvm itself (MMDS's answers). */
struct net_inject {
	struct net_inject *next;
	size_t len;
	uint8_t frame[];
};

void net_rx_kick(struct net *n);
/* Queue a frame from mvm for the guest (MMDS's stack calls this). */
void net_rx_inject(void *opaque, const void *frame, size_t len);
/* A backend's frame for the guest (a backend with no fd; net_rx_fn). */
void net_rx_frame(void *opaque, const void *frame, size_t len);
void net_inject_free(struct net *n);
void net_rx_cancel(struct net *n);
void net_tx_kick(struct net *n);
/* The limiters' timers (net.c registers them): tokens are back. */
void net_rx_throttle_resume(void *dev);
void net_tx_throttle_resume(void *dev);
/* New buckets for the limiters (NULL: kept), at once. */
void net_rate_limit(struct net *n, const struct token_bucket *rx_bw,
		    const struct token_bucket *rx_ops,
		    const struct token_bucket *tx_bw,
		    const struct token_bucket *tx_ops);
/* After a reset request: report done once nothing is in flight. */
void net_maybe_reset_done(struct net *n);

/*
 * A guest frame's partial checksum (NEEDS_CSUM in hdr, its
 * NET_HDR_LEN-byte virtio header) completed in eth[0, len); false when
 * the header's offsets fall outside the frame. No flag: nothing to do.
 */
bool net_csum_complete(const uint8_t *hdr, uint8_t *eth, size_t len);

#endif
