#include "pci.h"

#include "io.h"

#define PORT_ADDR 0xcf8
#define PORT_DATA 0xcfc

static void select_reg(pci_bdf bdf, uint8_t off)
{
	outl(PORT_ADDR, 0x80000000u | (uint32_t)bdf << 8 | (off & 0xfc));
}

uint32_t pci_read32(pci_bdf bdf, uint8_t off)
{
	select_reg(bdf, off);
	return inl(PORT_DATA);
}

uint16_t pci_read16(pci_bdf bdf, uint8_t off)
{
	select_reg(bdf, off);
	return inw(PORT_DATA + (off & 2));
}

uint8_t pci_read8(pci_bdf bdf, uint8_t off)
{
	select_reg(bdf, off);
	return inb(PORT_DATA + (off & 3));
}

void pci_write32(pci_bdf bdf, uint8_t off, uint32_t v)
{
	select_reg(bdf, off);
	outl(PORT_DATA, v);
}

void pci_write16(pci_bdf bdf, uint8_t off, uint16_t v)
{
	select_reg(bdf, off);
	outw(PORT_DATA + (off & 2), v);
}

void pci_write8(pci_bdf bdf, uint8_t off, uint8_t v)
{
	select_reg(bdf, off);
	outb(PORT_DATA + (off & 3), v);
}

int pci_scan_bus0(bool (*visit)(pci_bdf bdf, void *arg), void *arg)
{
	int n = 0;

	for (int dev = 0; dev < 32; dev++) {
		pci_bdf f0 = PCI_BDF(0, dev, 0);
		if (pci_read16(f0, PCI_VENDOR_ID) == 0xffff)
			continue;
		/* Other functions exist only behind a multi-function fn 0. */
		int nfn = (pci_read8(f0, PCI_HEADER_TYPE) & 0x80) ? 8 : 1;
		for (int fn = 0; fn < nfn; fn++) {
			pci_bdf bdf = PCI_BDF(0, dev, fn);
			if (fn && pci_read16(bdf, PCI_VENDOR_ID) == 0xffff)
				continue;
			n++;
			if (!visit(bdf, arg))
				return n;
		}
	}
	return n;
}

struct find_arg {
	uint32_t id;
	int nth;
	pci_bdf found;
	bool ok;
};

static bool find_one(pci_bdf bdf, void *arg)
{
	struct find_arg *f = arg;

	if (pci_read32(bdf, PCI_VENDOR_ID) != f->id)
		return true;
	if (f->nth-- > 0)
		return true;
	f->found = bdf;
	f->ok = true;
	return false;
}

bool pci_find(uint16_t vendor, uint16_t device, int nth, pci_bdf *out)
{
	struct find_arg f = {.id = (uint32_t)device << 16 | vendor, .nth = nth};

	pci_scan_bus0(find_one, &f);
	if (f.ok)
		*out = f.found;
	return f.ok;
}

bool pci_bar(pci_bdf bdf, int i, struct pci_bar *out)
{
	uint8_t off = (uint8_t)(PCI_BAR0 + 4 * i);
	uint16_t cmd = pci_read16(bdf, PCI_COMMAND);
	uint32_t lo = pci_read32(bdf, off), hi = 0, size_lo, size_hi = 0;

	out->io = lo & 1;
	out->is64 = !out->io && ((lo >> 1) & 3) == 2;
	if (out->is64 && i >= 5)
		return false;
	pci_write16(bdf, PCI_COMMAND,
		    cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	pci_write32(bdf, off, 0xffffffffu);
	size_lo = pci_read32(bdf, off);
	pci_write32(bdf, off, lo);
	if (out->is64) {
		hi = pci_read32(bdf, off + 4);
		pci_write32(bdf, off + 4, 0xffffffffu);
		size_hi = pci_read32(bdf, off + 4);
		pci_write32(bdf, off + 4, hi);
	}
	pci_write16(bdf, PCI_COMMAND, cmd);

	uint32_t mask = out->io ? ~3u : ~15u;
	uint64_t sz = (uint64_t)size_hi << 32 | (size_lo & mask);
	if (!out->is64)
		sz |= 0xffffffff00000000ULL;
	out->base = (uint64_t)hi << 32 | (lo & mask);
	out->size = sz ? ~sz + 1 : 0;
	if (out->io)
		out->size &= 0xffff;
	return out->size != 0;
}

uint8_t pci_find_cap(pci_bdf bdf, uint8_t cap_id, uint8_t start)
{
	if (!(pci_read16(bdf, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	uint8_t off = start ? pci_read8(bdf, start + 1)
			    : pci_read8(bdf, PCI_CAP_PTR);
	/* Bounded: a broken list could loop forever. */
	for (int n = 0; n < 48 && off >= 0x40; n++) {
		off &= 0xfc;
		if (pci_read8(bdf, off) == cap_id)
			return off;
		off = pci_read8(bdf, off + 1);
	}
	return 0;
}
