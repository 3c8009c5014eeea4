/*
 * The test kernel's virtio-vsock driver (t_vsock.c), shared with the
 * benchmark's guest side (t_bench_vsock.c): packets made by hand, polled.
 */
#ifndef GUEST_VSOCK_DRV_H
#define GUEST_VSOCK_DRV_H

#include "../lib/types.h"
#include "vdev.h"

#define RXQ 0
#define TXQ 1
#define EVQ 2
#define HOST_CID 2

enum { OP_REQUEST = 1, OP_RESPONSE, OP_RST, OP_SHUTDOWN, OP_RW,
       OP_CREDIT_UPDATE, OP_CREDIT_REQUEST };

/* struct virtio_vsock_hdr */
struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

extern struct vdev vsk_dev;
/* The last packet's payload (vsk_recv). */
extern uint8_t vsk_payload[4096];

/* Open the device, queues up, 4 KiB receive buffers posted. */
bool vsk_setup(uint64_t guest_cid);
/* The next used element of queue q within ms (0: there now). */
bool vsk_used(unsigned q, uint32_t ms, struct vused *u);
/* The next packet (its payload into vsk_payload) within ms. */
bool vsk_recv(struct hdr *h, uint32_t ms);
/* One chain on the transmit queue, waited for. */
bool vsk_call(const struct vbuf *b, unsigned n);
/* One packet from src_cid's port src to the host's port dst. */
bool vsk_send_raw(uint64_t src_cid, uint32_t src, uint32_t dst,
		  uint16_t op, uint32_t flags, const void *data, uint32_t len,
		  uint32_t buf_alloc, uint32_t fwd);

#endif
