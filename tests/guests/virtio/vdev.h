/*
 * A minimal virtio 1.x driver over the modern PCI transport, for the test
 * kernels: find a device, negotiate, set up split queues and MSI-X, and
 * submit descriptor chains by hand (so tests can also submit bad ones).
 * Completions are polled; interrupts stay off (EFLAGS.IF = 0) and MSI-X
 * delivery is observed in the local APIC's IRR instead.
 */
#ifndef GUEST_VDEV_H
#define GUEST_VDEV_H

#include "../lib/pci.h"
#include "../lib/types.h"

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VBIT(b) (1ULL << (b))

/* The stack pointer's name in barrier asm: the kernel is built 32 and 64-bit. */
#ifdef __x86_64__
#define SP "rsp"
#else
#define SP "esp"
#endif

#define VSTAT_ACK 1
#define VSTAT_DRIVER 2
#define VSTAT_DRIVER_OK 4
#define VSTAT_FEATURES_OK 8
#define VSTAT_NEEDS_RESET 64

#define VQ_F_NEXT 1
#define VQ_F_WRITE 2
#define VQ_F_INDIRECT 4
#define VQ_MAX 5

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vused {
	uint32_t id;
	uint32_t len;
};

struct vq {
	uint16_t index, size;
	volatile struct vdesc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;  /* flags, idx, elems, avail_event */
	uint16_t next_desc;       /* descriptors are handed out round-robin */
	uint16_t avail_idx, last_used;
	volatile uint16_t *notify;
	uint16_t vector;
};

struct vdev {
	pci_bdf bdf;
	uint64_t bar0;
	volatile uint8_t *common, *isr, *cfg;
	uint64_t notify_base;
	uint32_t notify_mult;
	uint64_t features; /* negotiated */
	uint16_t nqueues;
	uint8_t msix_cap;
	uint16_t msix_n;
	uint64_t msix_table;
	struct vq q[VQ_MAX];
};

/* A buffer of a chain: device-writable or not. */
struct vbuf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* The nth virtio device of this type (VIRTIO_ID_*) on bus 0. */
bool vdev_open(struct vdev *d, uint16_t type, int nth);
void vdev_reset(struct vdev *d);
uint8_t vdev_status(struct vdev *d);
void vdev_set_status(struct vdev *d, uint8_t s);
uint64_t vdev_device_features(struct vdev *d);
/* Reset, ACK, DRIVER, features (want & offered), FEATURES_OK. */
bool vdev_negotiate(struct vdev *d, uint64_t want);
/* Queue idx with size entries (0: the device maximum) and MSI-X vector. */
bool vdev_queue(struct vdev *d, unsigned idx, uint16_t size, uint16_t vector);
void vdev_driver_ok(struct vdev *d);
uint8_t vdev_cfg8(struct vdev *d, unsigned off);
uint16_t vdev_cfg16(struct vdev *d, unsigned off);
uint32_t vdev_cfg32(struct vdev *d, unsigned off);
uint64_t vdev_cfg64(struct vdev *d, unsigned off);
void vdev_cfg_write32(struct vdev *d, unsigned off, uint32_t v);

/*
 * MSI-X: entry i sends vector base+i to this CPU. Returns false without
 * the capability.
 */
bool vdev_msix(struct vdev *d, uint8_t base);
/* Is vector pending in this CPU's IRR? (Never delivered: IF = 0.) */
bool lapic_irr(uint8_t vector);

/* Put a chain on the ring (not yet notified); returns its head. */
uint16_t vq_add(struct vq *q, const struct vbuf *b, unsigned n);
/* Make head available and notify the device. */
void vq_kick(struct vq *q, uint16_t head);
/* Wait for the next used element; false on timeout. */
bool vq_wait(struct vq *q, struct vused *out);
/* One request: add, kick, wait; returns the used length or -1. */
int vq_call(struct vq *q, const struct vbuf *b, unsigned n);

#endif
