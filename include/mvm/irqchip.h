/*
 * KVM's in-kernel interrupt controllers and timer as one device of the
 * device interface (include/mvm/device.h): the two 8259 PICs and the
 * IOAPIC (KVM_GET/SET_IRQCHIP) and the 8254 PIT (KVM_GET/SET_PIT2). The
 * VM creates them in KVM (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2); this
 * device only saves, loads and resets their state. Each vCPU's LAPIC is
 * the vCPU's state (include/mvm/vcpu_state.h), not this device's.
 */
#ifndef MVM_IRQCHIP_H
#define MVM_IRQCHIP_H

struct dev_ctx;
struct device_ops;
struct irqchip;
struct mvm_err;

/*
 * On ctx's KVM VM, whose irqchip and PIT exist already: their state now
 * is what a reset goes back to, so create it before any vCPU runs.
 */
int irqchip_create(struct dev_ctx *ctx, struct irqchip **out,
		   struct mvm_err *err);
void irqchip_destroy(struct irqchip *c);

/* The device interface; the opaque is the struct irqchip. */
extern const struct device_ops irqchip_device_ops;

#endif
