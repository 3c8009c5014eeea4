/*
 * Virtio 1.x split virtqueues, device side. Pure code over struct
 * guest_mem: every guest address goes through gm_ptr(), descriptor chains
 * are walked with hard bounds, and a chain comes back as an iovec array
 * pointing straight into guest memory, so devices never bounce data.
 *
 * Nothing here is thread-safe: a queue is driven by one thread (the event
 * loop) at a time.
 */
#ifndef MVM_VIRTIO_H
#define MVM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct guest_mem;

/* Feature bits common to all devices (virtio 1.2, section 6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_BIT(b) (1ULL << (b))

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Device IDs. */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_MEM 24
#define VIRTIO_ID_VSOCK 19
#define VIRTIO_ID_PMEM 27

/* Ring layout. */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_USED_F_NO_NOTIFY 1
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

#define VIRTQ_MAX_SIZE 32768
/* One chain must fit one readv/writev (IOV_MAX on Linux). */
#define VIRTQ_MAX_SEGS 1024

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq {
	uint16_t size; /* power of two, 1..VIRTQ_MAX_SIZE */
	bool event_idx; /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;  /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	const struct guest_mem *mem;

	/*
	 * Host views of the three areas, checked once by virtq_init: guest
	 * RAM never moves while a VM exists, so they stay valid.
	 */
	struct virtq_desc *desc;
	uint16_t *avail; /* flags, idx, ring[size], used_event */
	uint16_t *used;  /* flags, idx, then elems; avail_event at the end */

	uint16_t last_avail;     /* next avail slot the device consumes */
	uint16_t used_idx;       /* device's copy of used->idx (may run ahead) */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool signalled_valid;
};

/* A popped chain: iov[0..nr_out) are readable, then nr_in writable. */
struct virtq_chain {
	uint16_t head;
	uint16_t nr_out, nr_in;
	uint32_t out_len, in_len;
	const char *error; /* why the chain was refused; NULL when fine */
};

/*
 * Check the ring addresses (alignment, inside RAM) and size, and reset the
 * indices. features is the negotiated set. Returns 0 or -EINVAL with *why.
 */
int virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size,
	       uint64_t desc, uint64_t avail, uint64_t used, uint64_t features,
	       const char **why);

/*
 * Take the next available chain. Returns 1 with c and iov filled, 0 when the
 * ring is empty, or:
 *   -EBADMSG  the chain is malformed (c->head is valid and consumed: the
 *             device completes it as failed; c->error says why);
 *   -EPROTO   the ring itself is broken (an index out of range): the queue
 *             cannot go on and the device needs a reset (c->error says why).
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *c, struct iovec *iov,
	      unsigned iov_cap);
/*
 * Walk the chain skip places after the next available one without taking
 * it: the same returns as virtq_pop (0 also when fewer than skip + 1 are
 * available), and nothing changes in the queue. A device counts with it
 * whether what is available is enough before it takes anything.
 */
int virtq_peek(struct virtq *vq, uint16_t skip, struct virtq_chain *c,
	       struct iovec *iov, unsigned iov_cap);
/* Give back the last n popped chains (taken but not used). */
void virtq_unpop(struct virtq *vq, uint16_t n);
/* Chains the driver has made available and the device not yet taken. */
uint16_t virtq_pending(const struct virtq *vq);

/* Record a used chain; the driver sees it after virtq_publish(). */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
void virtq_publish(struct virtq *vq);
/* After publishing: does the driver want an interrupt (EVENT_IDX rules)? */
bool virtq_need_interrupt(struct virtq *vq);

/*
 * Notification suppression while the device drains the ring. enable asks
 * for a kick on the driver's next new buffer and returns true when any are
 * available not yet taken, so a caller that drains everything drains again.
 */
void virtq_notify_disable(struct virtq *vq);
bool virtq_notify_enable(struct virtq *vq);

/* vring_need_event(): did the index pass event going from old to new? */
static inline bool virtq_need_event(uint16_t event, uint16_t new_idx,
				    uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* Copy between a flat buffer and an iovec array, from byte offset off. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf,
		  size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off,
		    const void *buf, size_t len);
size_t iov_length(const struct iovec *iov, unsigned n);
/*
 * Make dst (capacity cap) describe bytes [off, off+len) of src. Returns the
 * number of entries, or -1 when they do not fit or src is too short.
 */
int iov_slice(const struct iovec *src, unsigned n, size_t off, size_t len,
	      struct iovec *dst, unsigned cap);

#endif
