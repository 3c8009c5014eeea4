/*
 * KVM GSI routes. The table is set when the VM is built, PC-style: GSIs
 * 0-15 to the PICs, and to the IOAPIC pin of the same number except that
 * the PIT's GSI 0 goes to IOAPIC pin 2, as the MADT's interrupt source
 * override (IRQ0 -> GSI 2) tells the guest. KVM's built-in table wires
 * GSI 0 to pin 0, where Linux never looks for its timer. MSI routes are
 * added to the same table as devices program their vectors.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/irq_routes.h"

#define IOAPIC_PINS 24
#define PIC_PINS 16
#define FIRST_MSI_GSI IOAPIC_PINS
/* KVM_CAP_IRQ_ROUTING reports at most this many (KVM_MAX_IRQ_ROUTES). */
#define MAX_ROUTES 4096

struct irq_routes {
	int vm_fd;
	pthread_mutex_t lock;
	struct kvm_irq_routing *tab; /* header + MAX_ROUTES entries */
	uint32_t next_gsi;
	bool defaults; /* the irqchip entries are in tab */
};

static void add_defaults(struct irq_routes *r);
static int commit(struct irq_routes *r);

int irq_routes_create(struct dev_ctx *ctx, struct mvm_err *err)
{
	struct irq_routes *r = calloc(1, sizeof(*r));

	if (r)
		r->tab = calloc(1, sizeof(*r->tab) +
				MAX_ROUTES * sizeof(r->tab->entries[0]));
	if (!r || !r->tab) {
		free(r);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	r->vm_fd = ctx->vm_fd;
	r->next_gsi = FIRST_MSI_GSI;
	pthread_mutex_init(&r->lock, NULL);
	ctx->irq_routes = r;
	add_defaults(r);
	if (commit(r) < 0)
		return mvm_fail(err, -errno, "kvm: KVM_SET_GSI_ROUTING: %s",
				strerror(errno));
	return 0;
}

void irq_routes_destroy(struct dev_ctx *ctx)
{
	struct irq_routes *r = ctx->irq_routes;

	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->tab);
	free(r);
	ctx->irq_routes = NULL;
}

static void add_irqchip(struct irq_routes *r, uint32_t gsi, uint32_t chip,
			uint32_t pin)
{
	struct kvm_irq_routing_entry *e = &r->tab->entries[r->tab->nr++];

	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

static void add_defaults(struct irq_routes *r)
{
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi < PIC_PINS)
			add_irqchip(r, gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						    : KVM_IRQCHIP_PIC_SLAVE,
				    gsi % 8);
		if (gsi == 0)
			add_irqchip(r, 0, KVM_IRQCHIP_IOAPIC, 2);
		else if (gsi != 2) /* pin 2 belongs to the PIT */
			add_irqchip(r, gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	r->defaults = true;
}


int irq_route_alloc(struct irq_routes *r)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (r->next_gsi < MAX_ROUTES)
		gsi = (int)r->next_gsi++;
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

static struct kvm_irq_routing_entry *find_msi(struct irq_routes *r,
					      uint32_t gsi)
{
	for (uint32_t i = 0; i < r->tab->nr; i++)
		if (r->tab->entries[i].gsi == gsi &&
		    r->tab->entries[i].type == KVM_IRQ_ROUTING_MSI)
			return &r->tab->entries[i];
	return NULL;
}

static int commit(struct irq_routes *r)
{
	return ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, r->tab) < 0 ? -errno : 0;
}

int irq_route_set_msi(struct irq_routes *r, uint32_t gsi, uint32_t addr_lo,
		      uint32_t addr_hi, uint32_t data)
{
	struct kvm_irq_routing_entry *e;
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (!r->defaults)
		add_defaults(r);
	e = find_msi(r, gsi);
	if (!e && r->tab->nr < MAX_ROUTES) {
		e = &r->tab->entries[r->tab->nr++];
		memset(e, 0, sizeof(*e));
		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
	}
	if (e) {
		e->u.msi.address_lo = addr_lo;
		e->u.msi.address_hi = addr_hi;
		e->u.msi.data = data;
		ret = commit(r);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

