/*
 * virtio-mem (virtio 1.2, 5.15), shared by its files: the wire format of
 * its config space and requests, the region's blocks and the request
 * engine (virtio_mem_blocks.c, pure, so the unit tests drive it without
 * a VM), the device (virtio_mem.c) and its state (virtio_mem_state.c).
 */
#ifndef MVM_VIRTIO_MEM_DEV_H
#define MVM_VIRTIO_MEM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mvm/dev_ctx.h"

#define VIRTIO_MEM_F_ACPI_PXM 0
#define VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE 1

#define VIRTIO_MEM_REQ_PLUG 0
#define VIRTIO_MEM_REQ_UNPLUG 1
#define VIRTIO_MEM_REQ_UNPLUG_ALL 2
#define VIRTIO_MEM_REQ_STATE 3

#define VIRTIO_MEM_RESP_ACK 0
#define VIRTIO_MEM_RESP_NACK 1
#define VIRTIO_MEM_RESP_BUSY 2
#define VIRTIO_MEM_RESP_ERROR 3

#define VIRTIO_MEM_STATE_PLUGGED 0
#define VIRTIO_MEM_STATE_UNPLUGGED 1
#define VIRTIO_MEM_STATE_MIXED 2

/* struct virtio_mem_config, little-endian like the host. */
struct vmem_config {
	uint64_t block_size;
	uint16_t node_id;
	uint8_t padding[6];
	uint64_t addr;
	uint64_t region_size;
	uint64_t usable_region_size;
	uint64_t plugged_size;
	uint64_t requested_size;
};

/* Every request is 24 bytes, every response 10 (5.15.6). */
struct vmem_req {
	uint16_t type;
	uint16_t padding[3];
	uint64_t addr;      /* PLUG, UNPLUG, STATE */
	uint16_t nb_blocks;
	uint16_t padding2[3];
};

struct vmem_resp {
	uint16_t type;
	uint16_t padding[3];
	uint16_t state; /* STATE's answer */
} __attribute__((packed));

_Static_assert(sizeof(struct vmem_config) == 56, "virtio_mem_config");
_Static_assert(sizeof(struct vmem_req) == 24, "virtio_mem_req");
_Static_assert(sizeof(struct vmem_resp) == 10, "virtio_mem_resp");

/*
 * The region in blocks. The driver may plug blocks of the usable part,
 * which mvm makes the whole region from the start: the region is
 * reserved and in KVM's memory slots already, so there is nothing to
 * grow (the spec lets usable_region_size exceed requested_size).
 */
struct vmem_blocks {
	uint64_t addr;       /* guest physical, a multiple of block_size */
	uint64_t block_size; /* bytes, a power of two */
	uint64_t nr;         /* blocks in the region */
	uint64_t usable;     /* blocks of the usable part, from the start */
	uint64_t plugged;    /* blocks plugged */
	uint64_t requested;  /* blocks asked of the driver */
	unsigned long *bm;   /* a bit per block, set while plugged */
};

/* Gives back the host memory under [gpa, gpa+len); 0 or -errno. */
typedef int (*vmem_discard_fn)(void *arg, uint64_t gpa, uint64_t len);

/* nr blocks of block_size at addr, all unplugged; 0 or -ENOMEM. */
int vmem_blocks_init(struct vmem_blocks *b, uint64_t addr, uint64_t size,
		     uint64_t block_size);
void vmem_blocks_fini(struct vmem_blocks *b);
/* Words of the bitmap of nr blocks. */
size_t vmem_bitmap_words(uint64_t nr);
bool vmem_plugged(const struct vmem_blocks *b, uint64_t i);

/*
 * Act on one request from the driver (hostile: every address and count
 * is checked against the usable region, its alignment and overflow) and
 * return the response type; STATE's answer goes to *state. Unplugged
 * blocks are given back through discard (a failure: BUSY, nothing
 * changes). why, when not NULL, says what an ERROR refused.
 */
uint16_t vmem_request(struct vmem_blocks *b, const struct vmem_req *rq,
		      uint16_t *state, vmem_discard_fn discard, void *arg,
		      const char **why);

/* The device: its blocks, and its config space as the driver reads it. */
struct vmem {
	struct dev_ctx *ctx;
	struct virtio_transport *t;
	struct vmem_blocks b;
	struct vmem_config config; /* under the transport's lock */
	struct iovec iov[8];       /* a request and its response */
};

/* config from b, inside virtio_config_begin/end. */
void vmem_config_update(struct vmem *m);

/* Device state for snapshots (virtio_mem_state.c). */
size_t vmem_save(void *dev, void *buf, size_t cap);
int vmem_load(void *dev, const void *buf, size_t len);

#endif
