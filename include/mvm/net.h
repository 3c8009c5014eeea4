/*
 * Network backends behind virtio-net, and the MAC rules between them.
 *
 * A backend is a file descriptor carrying whole Ethernet frames, each led
 * by a 12-byte virtio_net_hdr_v1, so virtio-net moves frames between it
 * and guest memory with io_uring and no copies: TAP is such a backend.
 * A backend in this process (the user-mode NAT, libslirp, src/net/user.c)
 * has no fd: frames go to it by call (ops->send) and come from it by
 * call (the rx function it was opened with), on the loop thread, with no
 * system call per frame.
 */
#ifndef MVM_NET_H
#define MVM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct mvm_err;
struct net_backend;
struct net_config;

#define NET_HDR_LEN 12 /* struct virtio_net_hdr_v1 */
#define NET_ETH_HLEN 14
#define NET_MAC_LEN 6

/* Offloads the guest can receive (what the backend may hand it). */
#define NET_OFFLOAD_CSUM 0x01
#define NET_OFFLOAD_TSO4 0x02
#define NET_OFFLOAD_TSO6 0x04

struct net_backend_ops {
	int (*set_offload)(struct net_backend *b, unsigned offloads);
	void (*close)(struct net_backend *b);
	/*
	 * Backends with no fd only: one frame from the guest (no virtio
	 * header), taken at once. batch(b, true) and batch(b, false) go
	 * around a burst of sends, so the backend's bookkeeping after a
	 * frame is done once per burst.
	 */
	void (*send)(struct net_backend *b, const void *frame, size_t len);
	void (*batch)(struct net_backend *b, bool begin);
};

/*
 * How a backend with no fd hands a frame (no virtio header) to the guest's
 * NIC: the NIC copies it into its RX ring, or queues it (bounded) while
 * the ring is full, and counts the frames it cannot keep.
 */
typedef void net_rx_fn(void *ctx, const void *frame, size_t len);

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;        /* frames, each after a NET_HDR_LEN header; -1: none,
			* frames go by ops->send and the rx function */
	bool offloads; /* checksum and TSO offloads are available */
	/*
	 * No fd: checksum offload both ways, none of TSO. The NIC completes
	 * a partial sum before send and marks its frames' sums verified
	 * (the backend's frames carry valid ones).
	 */
	bool local_csum;
	/*
	 * Nonzero: the IP MTU the backend takes and sends, offered to the
	 * guest (VIRTIO_NET_F_MTU); 0: Ethernet's 1500 (a tap's frames are
	 * sized by its offloads instead).
	 */
	unsigned mtu;
	char name[16];
};

/*
 * Attach to TAP interface name (created if missing; needs CAP_NET_ADMIN):
 * its fd, or a negative errno with a message naming the tap.
 */
int tap_attach(const char *name, struct mvm_err *err);
/* tap_attach() and a backend on the fd. */
int tap_open(const char *name, struct net_backend **out,
	     struct mvm_err *err);
/*
 * Take a tap that is already attached (fd stays the caller's; the backend
 * works on its own duplicate). A rebooting VM's taps pass to the next VM
 * this way: closing the last fd of a tap mvm created would delete the
 * interface, and with it the host's addresses and routes on it.
 */
int tap_adopt(const char *name, int fd, struct net_backend **out,
	      struct mvm_err *err);

/*
 * The user-mode backend: NAT through libslirp with QEMU's addresses
 * (10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3, DHCP from 10.0.2.15) and
 * cfg's hostfwd rules and MTU (0: NET_USER_MTU_DEFAULT, dev_config.h),
 * on loop. It has no fd: rx(rx_ctx, ...) gets each
 * frame for the guest, and ops->send takes the guest's. Fails naming the
 * hostfwd rule whose host port is taken.
 */
int user_net_open(const struct net_config *cfg, struct loop *loop,
		  net_rx_fn *rx, void *rx_ctx, struct net_backend **out,
		  struct mvm_err *err);

/* "52:54:00:12:34:56" into mac; false when malformed or multicast. */
bool net_mac_parse(const char *s, uint8_t mac[NET_MAC_LEN]);
/*
 * A locally administered unicast MAC derived from the NIC's id, so a NIC
 * keeps its address across runs without being told one.
 */
void net_mac_from_id(const char *id, uint8_t mac[NET_MAC_LEN]);
/* With spoofing off, only frames whose source is the NIC's own MAC leave. */
bool net_tx_allowed(const uint8_t nic_mac[NET_MAC_LEN], bool spoofing,
		    const uint8_t *frame, uint32_t frame_len);

#endif
