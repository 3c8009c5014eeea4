/*
 * MMDS's carriage on a NIC: the frames a guest sends to the MMDS address
 * (ARP for it, IPv4 to it) are taken off the NIC's transmit path into a
 * restricted user-mode TCP/IP stack (libslirp, through slirp_net) whose
 * one guest service, the address's port 80, is MMDS's HTTP server
 * (mmds_conn); the stack's answers are frames for the NIC to put in the
 * guest's receive queue. Whatever the NIC's backend, nothing of this
 * reaches it. Runs on the loop's thread, as the store and slirp do.
 */
#ifndef MVM_MMDS_NET_H
#define MVM_MMDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct mmds;
struct mvm_err;
struct mmds_net;

/* Ethernet frames for the guest, as the stack makes them. */
typedef void mmds_net_out_fn(void *opaque, const void *frame, size_t len);

/* A carrier for store m at ipv4 (host order); m outlives it. */
int mmds_net_new(struct mmds_net **out, struct mmds *m, uint32_t ipv4,
		 struct loop *loop, mmds_net_out_fn *out_fn, void *opaque,
		 struct mvm_err *err);
void mmds_net_free(struct mmds_net *mn);

/*
 * Whether the guest's frame (Ethernet, no virtio header; len bytes, at
 * least the first MMDS_NET_PEEK of them) is for MMDS: an ARP request
 * for its address, or IPv4 to it.
 */
#define MMDS_NET_PEEK 42
bool mmds_net_wants(const struct mmds_net *mn, const void *frame,
		    size_t len);

/*
 * A frame for MMDS, led by its virtio_net_hdr_v1 (hdr_len bytes): a
 * partial checksum the guest left to the device is completed first;
 * segmentation offload frames are dropped (no request needs one).
 * frame is changed in place.
 */
void mmds_net_input(struct mmds_net *mn, void *frame, size_t len,
		    size_t hdr_len);

/*
 * The guest's connections to the service open now, each with a socket
 * of its own; 0 also where the service fell back to libslirp's callback
 * forward (one connection at a time, not counted).
 */
unsigned mmds_net_connections(const struct mmds_net *mn);

/*
 * The TCP connections a guest may hold on MMDS at once, on each NIC that
 * serves it, whatever their state: one more is refused with an RST
 * before the stack sees its SYN. Each holds at most one fd in the stack
 * and one in the server, so a guest holds at most twice this many of
 * mvm's fds per NIC, however it opens, half-closes or abandons them.
 */
#define MMDS_NET_CONNS_MAX 64

#endif
