/*
 * What a device may use of the VM it belongs to, and nothing else: guest
 * memory, the event loop that runs its I/O, the buses its registers hang
 * on, the KVM VM for interrupt plumbing, a legacy IRQ line and a stop
 * request. The VM (src/vm/vm.c) fills one in and hands it to every device
 * constructor; devices never see struct vm, so a test or a fuzzer builds
 * them on a context of its own.
 */
#ifndef MVM_DEV_CTX_H
#define MVM_DEV_CTX_H

#include <stdatomic.h>

#include "mvm/stop.h"

struct bus;
struct guest_mem;
struct irq_routes;
struct loop;
struct pci_host;
struct virtio_transport;

struct dev_ctx {
	/* Guest RAM, for DMA; any thread: the regions stay put once built. */
	struct guest_mem *mem;
	/* Runs the devices' I/O and watches their fds; the loop thread only. */
	struct loop *loop;
	/* Where register ranges are added; any thread: each bus locks. */
	struct bus *pio, *mmio;
	/* The KVM VM: irqfds, ioeventfds, GSI routes, MSIs; any thread. */
	int vm_fd;
	/* PCI bus 0, set by pci_create(); any thread, under its lock. */
	struct pci_host *pci;
	/* GSI routes for MSI-X, set by irq_routes_create(); any, locked. */
	struct irq_routes *irq_routes;
	/* Every virtio device, added by virtio_pci_create(); loop thread. */
	struct virtio_transport *virtio_devs;
	/* Raise (1) or lower (0) a legacy IRQ line, or -errno; any thread. */
	int (*irq_line)(struct dev_ctx *ctx, unsigned irq, int level);
	/* Ask the VM to stop (the first request wins), msg or NULL; any. */
	void (*request_stop)(struct dev_ctx *ctx, enum vm_stop_kind kind,
			     int status, const char *msg);
	/*
	 * The VM's teardown, loop thread: the devices asked to stop
	 * (virtio_stop_devices) that still have I/O in flight, and what the
	 * last of them calls when it has none (optional).
	 */
	unsigned busy;
	void (*quiesced)(struct dev_ctx *ctx);
	/* Panics the guest reported through pvpanic, for the metrics. */
	atomic_ulong guest_panics;
	/*
	 * Firecracker's interrupts group: interrupts the virtio devices
	 * raised, and MSI routes set in KVM for a vector's new message.
	 */
	struct {
		atomic_ulong triggers;
		atomic_ulong config_updates;
	} irq_counts;
};

#endif
