/*
 * A VM without KVM for device unit tests: the device context of one, with
 * PIO/MMIO buses, a real event loop, guest RAM in this process and the PCI
 * host bridge, so virtio devices can be created and driven through their
 * BARs. IRQ lines and stop requests are recorded for the tests to check.
 */
#ifndef MVM_TEST_FAKE_VM_H
#define MVM_TEST_FAKE_VM_H

#include <stdint.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/loop.h"
#include "mvm/mem.h"
#include "mvm/vm_config.h"

#define FAKE_VM_IRQS 24 /* the IOAPIC's pins */

struct fake_vm {
	struct dev_ctx ctx; /* what the devices are given */
	struct bus pio, mmio;
	struct guest_mem mem;
	struct loop loop;
	uint8_t *ram;
	/* What the devices asked of the VM. */
	int irq[FAKE_VM_IRQS];       /* each line's level */
	enum vm_stop_kind stop_kind; /* the first stop request's */
	int stop_status;
};

/* RAM of size bytes at gpa; asserts (criterion) on failure. */
void fake_vm_init(struct fake_vm *f, uint64_t gpa, uint32_t size);
/* Stops the virtio devices, runs the loop until they quiesce, frees. */
void fake_vm_fini(struct fake_vm *f);

#endif
