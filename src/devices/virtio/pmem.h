/*
 * virtio-pmem (virtio 1.2, 5.19), shared by its files: the wire format of
 * its config space and its one request, the pure checks the unit tests
 * drive without a VM (pmem_req.c), the device (pmem.c) and its state
 * (pmem_state.c).
 *
 * The device is a host file mapped into guest physical memory: the guest
 * reads and writes it with loads and stores, and asks the device only to
 * make its writes durable (FLUSH), which mvm answers once an fsync of the
 * file on the event loop has completed.
 */
#ifndef MVM_VIRTIO_PMEM_DEV_H
#define MVM_VIRTIO_PMEM_DEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mvm/dev_config.h"
#include "mvm/loop.h"

#define VIRTIO_PMEM_REQ_TYPE_FLUSH 0
/* The response's ret: 0 done, anything else an error (5.19.6). */
#define VIRTIO_PMEM_RESP_OK 0
#define VIRTIO_PMEM_RESP_EIO 1

/* The region's start and size are multiples of this (Linux needs it). */
#define PMEM_ALIGN (UINT64_C(2) << 20)

/* struct virtio_pmem_config, little-endian like the host. */
struct pmem_config_space {
	uint64_t start;
	uint64_t size;
};

_Static_assert(sizeof(struct pmem_config_space) == 16, "virtio_pmem_config");

/*
 * The guest-physical size of a file of file_len bytes: rounded up to
 * PMEM_ALIGN (the tail past the file is anonymous memory, as Firecracker
 * maps it). 0 for an empty file or one too large to place.
 */
uint64_t pmem_region_size(uint64_t file_len);

/*
 * One chain of the request queue, as virtio_queue_pop() split it: the
 * driver-readable part (nr_out buffers, out_len bytes) holds the le32
 * type, the writable part (in_len bytes) room for the le32 answer.
 * 0 for a FLUSH; -EINVAL, with why set, for anything else.
 */
int pmem_check_request(const struct iovec *out, unsigned nr_out,
		       uint32_t out_len, uint32_t in_len, const char **why);

/* Chains one fsync answers at most: the queue's size. */
#define PMEM_QUEUE_SIZE 256

/* A FLUSH waiting for the fsync: its head and where its answer goes. */
struct pmem_waiting {
	uint16_t head;
	uint8_t nr_in;
	struct iovec in[4];
};

struct virtio_transport;
struct dev_ctx;

struct pmem {
	struct dev_ctx *ctx;
	struct virtio_transport *t;
	char id[DEV_CONFIG_ID_MAX];
	int fd;
	bool readonly;
	uint8_t *map;        /* map_len bytes: the file, then anonymous */
	uint64_t file_len;
	uint32_t slot;       /* its KVM memory slot */
	bool slot_set;
	struct pmem_config_space config; /* start and size, fixed */

	struct iovec iov[16]; /* a chain being looked at */
	/* The fsync in flight and the FLUSHes it answers; loop thread. */
	struct loop_op fsync_op;
	bool fsync_busy;
	bool stopping;        /* reset asked for: drop the answers */
	unsigned nr_waiting;
	struct pmem_waiting waiting[PMEM_QUEUE_SIZE];
};

/* Device state for snapshots (pmem_state.c). */
size_t pmem_save(void *dev, void *buf, size_t cap);
int pmem_load(void *dev, const void *buf, size_t len);

#endif
