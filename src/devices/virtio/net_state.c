/*
 * virtio-net's part of a device snapshot: the MAC and link state the
 * guest's driver knows, and the drop counters. The restored NIC keeps the
 * saved MAC whatever its new configuration would generate, because the
 * guest's stack has it in its ARP caches and its neighbours' too. MAC
 * spoofing stays the new host's policy. Offloads the driver negotiated
 * must exist on the new backend, or the blob is refused; so must the
 * MTU the guest took (VIRTIO_NET_F_MTU): its interface sends frames that
 * large, and the backend's TCP sizes its segments to its own.
 */
#include <errno.h>
#include <string.h>

#include "net_dev.h"

#define NET_STATE_MAGIC 0x3154454eu /* "NET1" */

struct net_saved {
	uint32_t magic;
	uint32_t config_len;
	uint8_t config[12]; /* mac[6], status, max_virtqueue_pairs */
	uint64_t tx_spoofed;
	uint64_t tx_errors;
};

size_t net_save(void *dev, void *buf, size_t cap)
{
	struct net *n = dev;
	struct net_saved s;

	if (cap < sizeof(s))
		return 0;
	/* Zeroed whole: an initializer leaves the padding before
	 * tx_spoofed as the stack had it, and that would be saved. */
	memset(&s, 0, sizeof(s));
	s.magic = NET_STATE_MAGIC;
	s.config_len = sizeof(s.config);
	s.tx_spoofed = n->tx_spoofed;
	s.tx_errors = n->tx_errors;
	virtio_config_begin(n->t);
	memcpy(s.config, n->config, sizeof(s.config));
	virtio_config_end(n->t, false);
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

/* Whether the backend can do the offloads the features restored ask. */
static bool offloads_ok(const struct net *n)
{
	bool tso = virtio_has(n->t, NET_F_GUEST_TSO4) ||
		   virtio_has(n->t, NET_F_GUEST_TSO6) ||
		   virtio_has(n->t, NET_F_HOST_TSO4) ||
		   virtio_has(n->t, NET_F_HOST_TSO6);
	bool csum = virtio_has(n->t, NET_F_GUEST_CSUM) ||
		    virtio_has(n->t, NET_F_CSUM);

	if (n->be->offloads)
		return true;
	return !tso && (!csum || n->be->local_csum);
}

/* With VIRTIO_NET_F_MTU taken, the saved MTU must be the backend's. */
static bool mtu_ok(const struct net *n, const struct net_saved *s)
{
	unsigned mtu = (unsigned)(s->config[10] | s->config[11] << 8);

	return !virtio_has(n->t, NET_F_MTU) || mtu == n->be->mtu;
}

int net_load(void *dev, const void *buf, size_t len)
{
	struct net *n = dev;
	struct net_saved s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.magic != NET_STATE_MAGIC || s.config_len != sizeof(s.config))
		return -EINVAL;
	/* The transport restored the features first: can this tap do them? */
	if (!offloads_ok(n) || !mtu_ok(n, &s))
		return -EOPNOTSUPP;
	virtio_config_begin(n->t);
	memcpy(n->config, s.config, sizeof(n->config));
	memcpy(n->mac, s.config, NET_MAC_LEN);
	virtio_config_end(n->t, false);
	n->tx_spoofed = s.tx_spoofed;
	n->tx_errors = s.tx_errors;
	return 0;
}
