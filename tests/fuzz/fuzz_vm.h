/*
 * A VM without KVM for the device fuzzers (but virtio-pmem, whose memory
 * slot needs a KVM VM, made once): guest RAM in this process, the
 * PCI host bridge and buses, a real event loop, and the virtio devices
 * built by their own create functions. The fuzz input plays the guest: it
 * writes guest RAM (rings, descriptors, buffers) and the device's BAR.
 * Everything the device reads from RAM is the input's, so every address,
 * length and index it acts on is hostile.
 */
#ifndef MVM_FUZZ_VM_H
#define MVM_FUZZ_VM_H

#include <stddef.h>
#include <stdint.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/loop.h"
#include "mvm/mem.h"
#include "mvm/virtio_dev.h"

#define FUZZ_RAM_SIZE 0x10000u /* RAM at guest address 0 */
/*
 * Ring areas for queues of up to FUZZ_QMAX entries, packed low so that
 * short inputs reach them; the driver may still move them (BAR writes).
 */
#define FUZZ_QMAX 64
#define FUZZ_DESC 0x000u
#define FUZZ_AVAIL 0x400u
#define FUZZ_USED 0x600u
#define FUZZ_QUEUE_GAP 0x1000u /* queue i's rings are i gaps further */

/*
 * virtio-mem's region: two 2 MiB blocks, caller-owned RAM (an unplug
 * zeroes them), added when the first such device is made.
 */
#define FUZZ_HOTPLUG_GPA 0x200000u
#define FUZZ_HOTPLUG_MIB 4u

enum fuzz_dev { FUZZ_RNG, FUZZ_BLK, FUZZ_NET, FUZZ_BALLOON, FUZZ_MEM,
		FUZZ_PMEM, FUZZ_VSOCK };

struct fuzz_vm {
	struct dev_ctx ctx; /* what the devices are given */
	struct bus pio, mmio;
	struct guest_mem mem;
	struct loop loop;
	uint8_t *ram;
	uint8_t *hotplug; /* virtio-mem's region, or NULL until one is made */
	struct virtio_transport *t; /* the one device */
	uint64_t bar;         /* its BAR 0 */
	int peer;             /* net: the other end of the backend */
	/* vsock: the host's programs, clients of its socket (op 3) */
	int vsock_clients[4];
};

/* The VM, once per process (aborts on failure: a harness bug). */
struct fuzz_vm *fuzz_vm_get(void);
/*
 * Create one device of kind; 0 or -1. size: blk's image, bytes; mem's
 * requested size (whole blocks of its region are asked).
 */
int fuzz_dev_create(struct fuzz_vm *f, enum fuzz_dev kind, uint64_t size);
/* Quiesce and free the device (waits for its I/O), zero RAM. */
void fuzz_dev_destroy(struct fuzz_vm *f);

/*
 * Where the fake VM holds gpa..gpa+len: in its RAM or in virtio-mem's
 * region (any block, plugged or not: as on a real VM, both are guest
 * memory to a device); NULL if that is not all guest memory.
 */
uint8_t *fuzz_host(struct fuzz_vm *f, uint64_t gpa, uint64_t len);

/* The driver's accesses to BAR 0. */
uint32_t fuzz_bar_read(struct fuzz_vm *f, uint64_t off, uint32_t len);
void fuzz_bar_write(struct fuzz_vm *f, uint64_t off, uint32_t len,
		    uint64_t v);
/*
 * Negotiate want (masked by what is offered, plus VERSION_1), set up nq
 * queues of size qsize at the fixed ring areas and set DRIVER_OK.
 * Returns the negotiated features.
 */
uint64_t fuzz_driver_up(struct fuzz_vm *f, uint64_t want, uint16_t nq,
			uint16_t qsize);
/* Notify queue q through the BAR's notify region. */
void fuzz_kick(struct fuzz_vm *f, unsigned q);
/* Let the loop run what is ready now (a few rounds, never blocking long). */
void fuzz_run(struct fuzz_vm *f);
/* Copy input bytes into RAM at gpa (clipped to RAM). */
void fuzz_ram_write(struct fuzz_vm *f, uint64_t gpa, const uint8_t *p,
		    size_t n);
/*
 * Every element a device writes to a used ring is checked as it writes it
 * (fuzz_used.c): a head the device took and still holds, in the ring in
 * guest RAM (aborts otherwise). Reading the ring afterwards could not
 * tell it from what the guest had the device write there as data.
 * Forget what the last device held (its queues are gone).
 */
void fuzz_used_forget_all(void);

/*
 * One whole fuzz input against a fresh device of kind:
 *   byte 0   queue size (a power of two up to FUZZ_QMAX)
 *   byte 1   features the driver asks for (see want_features())
 *   byte 2   disk size in sectors (blk), blocks requested (mem)
 *   byte 3   bit 0: the driver brings the device up first; otherwise the
 *            ops must (the transport target)
 *   2 bytes  length of a RAM image, then the image (at guest address 0)
 *   ops      until the input ends (see play_op())
 * Returns 0 (libFuzzer's convention).
 */
int fuzz_one(enum fuzz_dev kind, const uint8_t *data, size_t size);

#endif
