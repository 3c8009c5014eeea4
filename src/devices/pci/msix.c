/*
 * MSI-X (PCI Local Bus 3.0, 6.8.2). The table lives here, not in guest
 * memory: the guest reaches it through a BAR, so every entry write passes
 * through msix_table_io() and routes can follow it.
 *
 * A route is committed when an entry is unmasked with a valid message (or
 * its message changes while unmasked), not on every interrupt: committing
 * makes KVM wait for a grace period, which is far too slow per interrupt.
 */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/irq_routes.h"
#include "mvm/msix.h"
#include "mvm/pci.h"

#define CTRL_ENABLE 0x8000
#define CTRL_FMASK 0x4000
/* x86 MSI messages target the LAPIC window. */
#define MSI_ADDR_MASK 0xfff00000u
#define MSI_ADDR_BASE 0xfee00000u

int msix_init(struct msix *m, struct dev_ctx *ctx, struct pci_dev *d,
	      uint16_t nr, int bir, uint32_t table_off, uint32_t pba_off,
	      struct mvm_err *err)
{
	uint8_t cap;

	memset(m, 0, sizeof(*m));
	if (nr == 0 || nr > 2048)
		return mvm_fail(err, -EINVAL, "msix: %u vectors", nr);
	m->v = calloc(nr, sizeof(*m->v));
	m->pba = calloc((nr + 63) / 64, sizeof(*m->pba));
	cap = pci_dev_add_cap(d, PCI_CAP_ID_MSIX, 12);
	if (!m->v || !m->pba || !cap) {
		free(m->v);
		free(m->pba);
		m->v = NULL;
		m->pba = NULL;
		return mvm_fail(err, -ENOMEM, "msix: cannot set up %u "
				"vectors", nr);
	}
	m->ctx = ctx;
	m->dev = d;
	m->nr = nr;
	m->cap = cap;
	pthread_mutex_init(&m->lock, NULL);
	for (unsigned i = 0; i < nr; i++) {
		m->v[i].ctrl = MSIX_CTRL_MASKED; /* reset state */
		m->v[i].gsi = -1;
		m->v[i].efd = -1;
	}
	pci_put16(d->cfg + cap + 2, (uint16_t)(nr - 1));
	d->wmask[cap + 3] = (CTRL_ENABLE | CTRL_FMASK) >> 8;
	pci_put32(d->cfg + cap + 4, table_off | (uint32_t)bir);
	pci_put32(d->cfg + cap + 8, pba_off | (uint32_t)bir);
	d->msix = m;
	return 0;
}

void msix_fini(struct msix *m)
{
	if (!m->v)
		return;
	/* Closing an irqfd's eventfd releases it in KVM as well. */
	for (unsigned i = 0; i < m->nr; i++)
		if (m->v[i].efd >= 0)
			close(m->v[i].efd);
	pthread_mutex_destroy(&m->lock);
	free(m->v);
	free(m->pba);
	m->v = NULL;
	m->pba = NULL;
}

static bool msg_valid(const struct msix_vec *v)
{
	return (v->addr_lo & MSI_ADDR_MASK) == MSI_ADDR_BASE;
}

/* Make v's route carry its current message. Lock held. */
static int route(struct msix *m, struct msix_vec *v)
{
	struct irq_routes *r = m->ctx->irq_routes;
	int ret;

	if (v->routed && v->r_addr_lo == v->addr_lo &&
	    v->r_addr_hi == v->addr_hi && v->r_data == v->data)
		return 0;
	if (!r)
		return -ENODEV;
	if (v->gsi < 0) {
		int gsi = irq_route_alloc(r);

		if (gsi < 0)
			return gsi;
		v->gsi = gsi;
	}
	ret = irq_route_set_msi(r, (uint32_t)v->gsi, v->addr_lo, v->addr_hi,
				v->data);
	if (ret)
		return ret;
	atomic_fetch_add_explicit(&m->ctx->irq_counts.config_updates, 1,
				  memory_order_relaxed);
	if (v->efd < 0) {
		struct kvm_irqfd irqfd = { .gsi = (uint32_t)v->gsi };
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0)
			return -errno;
		irqfd.fd = (uint32_t)fd;
		if (ioctl(m->ctx->vm_fd, KVM_IRQFD, &irqfd) < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		v->efd = fd;
	}
	v->routed = true;
	v->r_addr_lo = v->addr_lo;
	v->r_addr_hi = v->addr_hi;
	v->r_data = v->data;
	return 0;
}

/* Send v's message now. Lock held. */
static void deliver(struct msix *m, struct msix_vec *v)
{
	uint64_t one = 1;

	if (!msg_valid(v)) {
		atomic_fetch_add(&m->dropped, 1);
		return;
	}
	if (route(m, v) == 0 && write(v->efd, &one, sizeof(one)) == 8)
		return;
	/* No route or irqfd (a KVM without them): inject directly. */
	struct kvm_msi msi = { .address_lo = v->addr_lo,
			       .address_hi = v->addr_hi, .data = v->data };
	if (ioctl(m->ctx->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		atomic_fetch_add(&m->dropped, 1);
}

static bool pending(struct msix *m, unsigned i)
{
	return m->pba[i / 64] & (1ULL << (i % 64));
}

static void set_pending(struct msix *m, unsigned i, bool on)
{
	if (on)
		m->pba[i / 64] |= 1ULL << (i % 64);
	else
		m->pba[i / 64] &= ~(1ULL << (i % 64));
}

static bool can_fire(struct msix *m, unsigned i)
{
	return m->enabled && !m->fmask && !m->held &&
	       !(m->v[i].ctrl & MSIX_CTRL_MASKED);
}

/* Deliver what became deliverable (after an unmask). Lock held. */
static void flush_pending(struct msix *m)
{
	for (unsigned i = 0; i < m->nr; i++) {
		if (pending(m, i) && can_fire(m, i)) {
			set_pending(m, i, false);
			deliver(m, &m->v[i]);
		}
	}
}

void msix_cfg_written(struct msix *m)
{
	uint16_t ctl = pci_get16(m->dev->cfg + m->cap + 2);

	pthread_mutex_lock(&m->lock);
	m->enabled = ctl & CTRL_ENABLE;
	m->fmask = ctl & CTRL_FMASK;
	flush_pending(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_hold(struct msix *m, bool hold)
{
	pthread_mutex_lock(&m->lock);
	m->held = hold;
	flush_pending(m);
	pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
	bool on;

	pthread_mutex_lock(&m->lock);
	on = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return on;
}

void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	uint64_t i = off / MSIX_ENTRY_SIZE, in = off % MSIX_ENTRY_SIZE;
	uint8_t img[MSIX_ENTRY_SIZE];
	struct msix_vec *v;

	/* Entries are accessed as aligned dwords or qwords (6.8.2). */
	if (i >= m->nr || in + len > MSIX_ENTRY_SIZE) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&m->lock);
	v = &m->v[i];
	pci_put32(img, v->addr_lo);
	pci_put32(img + 4, v->addr_hi);
	pci_put32(img + 8, v->data);
	pci_put32(img + 12, v->ctrl);
	if (!is_write) {
		memcpy(data, img + in, len);
		pthread_mutex_unlock(&m->lock);
		return;
	}
	memcpy(img + in, data, len);
	v->addr_lo = pci_get32(img) & ~3u;
	v->addr_hi = pci_get32(img + 4);
	v->data = pci_get32(img + 8);
	v->ctrl = pci_get32(img + 12) & MSIX_CTRL_MASKED;
	/* Route while still quiet, so firing later costs one write. */
	if (!(v->ctrl & MSIX_CTRL_MASKED) && msg_valid(v))
		route(m, v);
	flush_pending(m);
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		 bool is_write)
{
	uint64_t words = (m->nr + 63) / 64;

	if (is_write)
		return; /* read-only */
	pthread_mutex_lock(&m->lock);
	for (uint32_t b = 0; b < len; b++) {
		uint64_t o = off + b;

		data[b] = o / 8 < words ? (uint8_t)(m->pba[o / 8] >> (8 * (o % 8)))
					: 0;
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_notify(struct msix *m, uint16_t vector)
{
	if (vector >= m->nr)
		return;
	pthread_mutex_lock(&m->lock);
	if (!m->enabled) {
		/* No INTx on mvm's functions: without MSI-X, nothing. */
	} else if (can_fire(m, vector)) {
		deliver(m, &m->v[vector]);
	} else {
		set_pending(m, vector, true);
	}
	pthread_mutex_unlock(&m->lock);
}
