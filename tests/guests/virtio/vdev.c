#include "vdev.h"

#include "../lib/io.h"
#include "../lib/lapic.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/string.h"

#define VENDOR_VIRTIO 0x1af4
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* Common configuration layout (virtio 1.2, 4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX_CONFIG 0x10
#define CC_NUM_QUEUES 0x12
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOTIFY_OFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30

#define WAIT_MS 5000

static inline void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

static inline void mb(void)
{
	__asm__ volatile("lock; addl $0,(%%" SP ")" ::: "memory");
}

static uint8_t rd8(volatile uint8_t *b, unsigned off)
{
	return *(volatile uint8_t *)(b + off);
}

static uint16_t rd16(volatile uint8_t *b, unsigned off)
{
	return *(volatile uint16_t *)(b + off);
}

static uint32_t rd32(volatile uint8_t *b, unsigned off)
{
	return *(volatile uint32_t *)(b + off);
}

static void wr8(volatile uint8_t *b, unsigned off, uint8_t v)
{
	*(volatile uint8_t *)(b + off) = v;
}

static void wr16(volatile uint8_t *b, unsigned off, uint16_t v)
{
	*(volatile uint16_t *)(b + off) = v;
}

static void wr32(volatile uint8_t *b, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(b + off) = v;
}

static void wr64(volatile uint8_t *b, unsigned off, uint64_t v)
{
	wr32(b, off, (uint32_t)v);
	wr32(b, off + 4, (uint32_t)(v >> 32));
}

/*
 * Base of memory BAR i, probed once (probing disables decoding), or 0 when
 * it is an I/O BAR or out of 32-bit reach. mvm puts everything in BAR 0;
 * other VMMs (QEMU: BAR 4) use other BARs, which the benchmarks need.
 */
static uint64_t mem_bar(struct vdev *d, unsigned i, uint64_t *cache)
{
	struct pci_bar bar;

	if (i > 5)
		return 0;
	if (cache[i] == 0 && pci_bar(d->bdf, (int)i, &bar) && !bar.io &&
	    bar.base && phys_reachable(bar.base, bar.size))
		cache[i] = bar.base;
	return cache[i];
}

bool vdev_open(struct vdev *d, uint16_t type, int nth)
{
	uint64_t bars[6] = { 0 };
	uint8_t c = 0;

	memset(d, 0, sizeof(*d));
	if (!pci_find(VENDOR_VIRTIO, (uint16_t)(0x1040 + type), nth, &d->bdf))
		return false;
	/* Probe the BARs the capabilities name while decoding is off. */
	while ((c = pci_find_cap(d->bdf, 0x09, c)) != 0)
		mem_bar(d, pci_read8(d->bdf, c + 4), bars);
	d->bar0 = mem_bar(d, 0, bars);
	pci_write16(d->bdf, PCI_COMMAND, pci_read16(d->bdf, PCI_COMMAND) |
		    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	while ((c = pci_find_cap(d->bdf, 0x09, c)) != 0) {
		uint8_t type_ = pci_read8(d->bdf, c + 3);
		uint8_t bir = pci_read8(d->bdf, c + 4);
		uint64_t at;

		if (bir > 5 || !bars[bir])
			continue; /* a BAR this driver cannot reach */
		at = bars[bir] + pci_read32(d->bdf, c + 8);
		if (type_ == CAP_COMMON && !d->common)
			d->common = phys_ptr(at);
		else if (type_ == CAP_ISR && !d->isr)
			d->isr = phys_ptr(at);
		else if (type_ == CAP_DEVICE && !d->cfg)
			d->cfg = phys_ptr(at);
		else if (type_ == CAP_NOTIFY && !d->notify_base) {
			d->notify_base = at;
			d->notify_mult = pci_read32(d->bdf, c + 16);
		}
	}
	d->msix_cap = pci_find_cap(d->bdf, 0x11, 0);
	if (d->msix_cap) {
		uint32_t t = pci_read32(d->bdf, d->msix_cap + 4);

		d->msix_n = (pci_read16(d->bdf, d->msix_cap + 2) & 0x7ff) + 1;
		d->msix_table = (t & 7) == 0 ? d->bar0 + (t & ~7u) : 0;
	}
	if (!d->common || !d->isr || !d->notify_base)
		return false;
	d->nqueues = rd16(d->common, CC_NUM_QUEUES);
	return true;
}

uint8_t vdev_status(struct vdev *d)
{
	return rd8(d->common, CC_STATUS);
}

void vdev_set_status(struct vdev *d, uint8_t s)
{
	wr8(d->common, CC_STATUS, s);
}

void vdev_reset(struct vdev *d)
{
	struct deadline dl;

	vdev_set_status(d, 0);
	/* The device may take a while to finish in-flight work (4.1.4.3.2). */
	deadline_start(&dl, WAIT_MS);
	while (vdev_status(d) != 0 && !deadline_expired(&dl))
		cpu_pause();
	memset(d->q, 0, sizeof(d->q));
}

uint64_t vdev_device_features(struct vdev *d)
{
	uint64_t f;

	wr32(d->common, CC_DFSELECT, 0);
	f = rd32(d->common, CC_DF);
	wr32(d->common, CC_DFSELECT, 1);
	return f | (uint64_t)rd32(d->common, CC_DF) << 32;
}

bool vdev_negotiate(struct vdev *d, uint64_t want)
{
	vdev_reset(d);
	vdev_set_status(d, VSTAT_ACK);
	vdev_set_status(d, VSTAT_ACK | VSTAT_DRIVER);
	d->features = vdev_device_features(d) & want;
	wr32(d->common, CC_GFSELECT, 0);
	wr32(d->common, CC_GF, (uint32_t)d->features);
	wr32(d->common, CC_GFSELECT, 1);
	wr32(d->common, CC_GF, (uint32_t)(d->features >> 32));
	vdev_set_status(d, VSTAT_ACK | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	return vdev_status(d) & VSTAT_FEATURES_OK;
}

bool vdev_queue(struct vdev *d, unsigned idx, uint16_t size, uint16_t vector)
{
	struct vq *q = &d->q[idx];
	uint16_t max;
	uint8_t *mem;

	if (idx >= VQ_MAX || idx >= d->nqueues)
		return false;
	wr16(d->common, CC_Q_SELECT, (uint16_t)idx);
	max = rd16(d->common, CC_Q_SIZE);
	if (!size)
		size = max > 256 ? 256 : max;
	/* Three pages: descriptors (up to 256), avail, used. */
	mem = palloc_pages(3);
	if (!mem || !max)
		return false;
	memset(q, 0, sizeof(*q));
	q->index = (uint16_t)idx;
	q->size = size;
	q->desc = (volatile struct vdesc *)mem;
	q->avail = (volatile uint16_t *)(mem + PAGE_SIZE);
	q->used = (volatile uint16_t *)(mem + 2 * PAGE_SIZE);
	q->vector = vector;
	q->notify = phys_ptr(d->notify_base + (uint64_t)d->notify_mult *
			     rd16(d->common, CC_Q_NOTIFY_OFF));
	wr16(d->common, CC_Q_SIZE, size);
	wr16(d->common, CC_Q_MSIX, vector);
	wr64(d->common, CC_Q_DESC, (uintptr_t)q->desc);
	wr64(d->common, CC_Q_DRIVER, (uintptr_t)q->avail);
	wr64(d->common, CC_Q_DEVICE, (uintptr_t)q->used);
	wr16(d->common, CC_Q_ENABLE, 1);
	return true;
}

void vdev_driver_ok(struct vdev *d)
{
	vdev_set_status(d, vdev_status(d) | VSTAT_DRIVER_OK);
}

uint8_t vdev_cfg8(struct vdev *d, unsigned off)
{
	return rd8(d->cfg, off);
}

uint16_t vdev_cfg16(struct vdev *d, unsigned off)
{
	return rd16(d->cfg, off);
}

uint32_t vdev_cfg32(struct vdev *d, unsigned off)
{
	return rd32(d->cfg, off);
}

uint64_t vdev_cfg64(struct vdev *d, unsigned off)
{
	return rd32(d->cfg, off) | (uint64_t)rd32(d->cfg, off + 4) << 32;
}

void vdev_cfg_write32(struct vdev *d, unsigned off, uint32_t v)
{
	wr32(d->cfg, off, v);
}

bool vdev_msix(struct vdev *d, uint8_t base)
{
	uint32_t apic = lapic_id();

	if (!d->msix_cap || !d->msix_table)
		return false;
	for (unsigned i = 0; i < d->msix_n; i++) {
		volatile uint8_t *e = phys_ptr(d->msix_table + 16 * i);

		wr32(e, 0, 0xfee00000u | apic << 12);
		wr32(e, 4, 0);
		wr32(e, 8, (uint32_t)(base + i)); /* fixed, edge */
		wr32(e, 12, 0);                   /* unmasked */
	}
	pci_write16(d->bdf, d->msix_cap + 2,
		    pci_read16(d->bdf, d->msix_cap + 2) | 0x8000);
	wr16(d->common, CC_MSIX_CONFIG, (uint16_t)(d->msix_n - 1));
	return true;
}

bool lapic_irr(uint8_t vector)
{
	uint32_t reg = 0x200 + 0x10 * (vector / 32), v;

	if (lapic_x2apic_mode())
		v = (uint32_t)rdmsr(0x800 + reg / 16);
	else
		v = mmio_read32(lapic_base() + reg);
	return v & (1u << (vector % 32));
}

uint16_t vq_add(struct vq *q, const struct vbuf *b, unsigned n)
{
	uint16_t head = q->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t at = (uint16_t)((q->next_desc + i) % q->size);
		uint16_t nx = (uint16_t)((at + 1) % q->size);

		q->desc[at].addr = b[i].addr;
		q->desc[at].len = b[i].len;
		q->desc[at].flags = (uint16_t)((b[i].write ? VQ_F_WRITE : 0) |
					       (i + 1 < n ? VQ_F_NEXT : 0));
		q->desc[at].next = nx;
	}
	q->next_desc = (uint16_t)((q->next_desc + n) % q->size);
	return head;
}

void vq_kick(struct vq *q, uint16_t head)
{
	q->avail[2 + q->avail_idx % q->size] = head;
	barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	mb();
	*q->notify = q->index;
}

bool vq_wait(struct vq *q, struct vused *out)
{
	struct deadline dl;
	unsigned n = 0;

	deadline_start(&dl, WAIT_MS);
	while (q->used[1] == q->last_used) {
		/* The PIT read is an exit: look at it only now and then. */
		if (++n % 64 == 0 && deadline_expired(&dl))
			return false;
		cpu_pause();
	}
	barrier();
	const volatile struct vused *e =
		(const volatile struct vused *)&q->used[2] +
		q->last_used % q->size;
	out->id = e->id;
	out->len = e->len;
	q->last_used++;
	return true;
}

int vq_call(struct vq *q, const struct vbuf *b, unsigned n)
{
	struct vused u;

	vq_kick(q, vq_add(q, b, n));
	if (!vq_wait(q, &u))
		return -1;
	return (int)u.len;
}
