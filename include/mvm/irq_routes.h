/*
 * The VM's KVM GSI routing table. KVM_SET_GSI_ROUTING replaces the whole
 * table, so mvm keeps the table it last gave KVM: KVM's default irqchip
 * routes (so the PIC/IOAPIC lines keep working), then one MSI route per
 * MSI-X vector in use. Interrupts are injected by writing an eventfd bound
 * to the route's GSI with KVM_IRQFD.
 */
#ifndef MVM_IRQ_ROUTES_H
#define MVM_IRQ_ROUTES_H

#include <stdint.h>

struct dev_ctx;
struct mvm_err;
struct irq_routes;

/*
 * Sets ctx->irq_routes, and gives KVM the PC's irqchip routes. MSI routes
 * are added as devices program their vectors.
 */
int irq_routes_create(struct dev_ctx *ctx, struct mvm_err *err);
void irq_routes_destroy(struct dev_ctx *ctx);

/* A GSI for a new MSI route (above the irqchip pins), or -ENOSPC. */
int irq_route_alloc(struct irq_routes *r);
/* Point gsi at an MSI message and commit the table to KVM. */
int irq_route_set_msi(struct irq_routes *r, uint32_t gsi, uint32_t addr_lo,
		      uint32_t addr_hi, uint32_t data);

#endif
