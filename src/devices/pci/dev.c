/*
 * One PCI function's configuration space: a 256-byte image plus a mask of
 * the bits the guest may write, so read-only fields, BAR sizing (the
 * address bits below the BAR's size are never writable, which makes an
 * all-ones write read back as the size mask) and reserved registers all
 * fall out of one rule. Writes that move decoding (COMMAND, BARs) remap
 * the BARs on the MMIO bus.
 */
#include <string.h>

#include "mvm/msix.h"
#include "mvm/pci.h"

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		  uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	pci_put16(d->cfg + PCI_VENDOR_ID, vendor);
	pci_put16(d->cfg + PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION] = revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	pci_put16(d->cfg + PCI_CLASS_DEVICE, (uint16_t)(class_code >> 8));
	pci_put16(d->cfg + PCI_SUBSYS_VENDOR, subsys_vendor);
	pci_put16(d->cfg + PCI_SUBSYS_ID, subsys_id);
	pci_put16(d->wmask + PCI_COMMAND, PCI_CMD_IO | PCI_CMD_MEM |
		  PCI_CMD_MASTER | PCI_CMD_INTX_DISABLE);
	d->wmask[0x0c] = 0xff; /* cache line size: scratch for the OS */
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->next_cap = 0x40;
}

void pci_dev_add_bar64(struct pci_dev *d, int bar, uint64_t size,
		       bus_io_fn fn, void *ctx)
{
	uint8_t *reg = d->cfg + PCI_BAR0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	d->bar[bar] = (struct pci_bar){ .size = size, .is64 = true,
					.fn = fn, .ctx = ctx };
	pci_put32(reg, PCI_BAR_MEM64);
	/* Low dword: address bits at and above the size; type bits fixed. */
	pci_put32(d->wmask + PCI_BAR0 + 4 * bar, (uint32_t)mask & ~0xfu);
	pci_put32(d->wmask + PCI_BAR0 + 4 * bar + 4, (uint32_t)(mask >> 32));
}

uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, uint8_t len)
{
	uint8_t off = d->next_cap;

	if (!off || (unsigned)off + len > PCI_CFG_SIZE)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	if (d->last_cap)
		d->cfg[d->last_cap + 1] = off;
	else
		d->cfg[PCI_CAP_PTR] = off;
	d->last_cap = off;
	pci_put16(d->cfg + PCI_STATUS,
		  pci_get16(d->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	d->next_cap = (uint8_t)((off + len + 3) & ~3u);
	if (off + len + 3 >= PCI_CFG_SIZE)
		d->next_cap = 0;
	return off;
}

static uint64_t bar_addr(const struct pci_dev *d, int i)
{
	uint64_t lo = pci_get32(d->cfg + PCI_BAR0 + 4 * i) & ~0xfULL;
	uint64_t hi = d->bar[i].is64 ? pci_get32(d->cfg + PCI_BAR0 + 4 * i + 4)
				     : 0;

	return hi << 32 | lo;
}

static void bar_unmap(struct pci_dev *d, int i)
{
	struct pci_bar *b = &d->bar[i];

	if (!b->mapped)
		return;
	bus_del(d->host->mmio, b->at);
	b->mapped = false;
	if (d->ops && d->ops->bar_moved)
		d->ops->bar_moved(d, i, false, 0);
}

/*
 * Make each BAR decode where its register says, when memory decoding is
 * on. A placement that collides with another range stays unmapped: the
 * guest sees an unclaimed region, as with a real conflicting BAR.
 */
static void update_bars(struct pci_dev *d)
{
	bool mem_on = pci_get16(d->cfg + PCI_COMMAND) & PCI_CMD_MEM;

	for (int i = 0; i < 6; i++) {
		struct pci_bar *b = &d->bar[i];
		uint64_t at = bar_addr(d, i);
		bool want = mem_on && b->size && at && at + b->size > at;

		if (!b->size)
			continue;
		if (b->mapped && (!want || b->at != at))
			bar_unmap(d, i);
		if (want && !b->mapped &&
		    bus_add(d->host->mmio, at, b->size, b->fn,
			    b->ctx) == 0) {
			b->mapped = true;
			b->at = at;
			if (d->ops && d->ops->bar_moved)
				d->ops->bar_moved(d, i, true, at);
		}
		if (b->is64)
			i++;
	}
}

static bool touches(uint32_t off, uint32_t len, uint32_t start, uint32_t end)
{
	return off < end && off + len > start;
}

void pci_dev_cfg_access(struct pci_dev *d, uint32_t off, uint8_t *data,
			uint32_t len, bool is_write)
{
	if (d->ops && d->ops->cfg_access &&
	    d->ops->cfg_access(d, off, data, len, is_write))
		return;
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;

		if (o >= PCI_CFG_SIZE) {
			/* No extended capabilities: ECAM's upper space is 0. */
			if (!is_write)
				data[i] = 0;
			continue;
		}
		if (is_write)
			d->cfg[o] = (uint8_t)((d->cfg[o] & ~d->wmask[o]) |
					      (data[i] & d->wmask[o]));
		else
			data[i] = d->cfg[o];
	}
	if (!is_write)
		return;
	if (touches(off, len, PCI_COMMAND, PCI_COMMAND + 2) ||
	    touches(off, len, PCI_BAR0, PCI_BAR0 + 24))
		update_bars(d);
	if (d->msix && touches(off, len, d->msix->cap, d->msix->cap + 4))
		msix_cfg_written(d->msix);
}

void pci_dev_unmap_all(struct pci_dev *d)
{
	for (int i = 0; i < 6; i++)
		bar_unmap(d, i);
}
