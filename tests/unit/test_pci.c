/*
 * PCI without KVM: the host bridge and a function with a 64-bit BAR and
 * MSI-X, reached the way a guest reaches them (0xCF8/0xCFC and ECAM on the
 * VM's buses). BAR sizing, moves and decoding, the capability list, and
 * MSI-X masking with the pending bits.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/msix.h"
#include "mvm/pci.h"

static struct bus pio_bus, mmio_bus;
static struct dev_ctx ctx; /* a VM's buses and no KVM */
static struct pci_dev dev;
static struct msix msix;
static unsigned bar_hits;
static uint64_t last_off;

static void bar_fn(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	(void)ctx;
	bar_hits++;
	last_off = off;
	if (off >= 0x4000 && off < 0x6000)
		msix_table_io(&msix, off - 0x4000, data, len, is_write);
	else if (off >= 0x6000)
		msix_pba_io(&msix, off - 0x6000, data, len, is_write);
	else if (!is_write)
		memset(data, 0x5a, len);
}

static void setup(void)
{
	struct mvm_err err;

	ctx = (struct dev_ctx){
		.pio = &pio_bus, .mmio = &mmio_bus, .vm_fd = -1,
	};
	bus_init(&pio_bus);
	bus_init(&mmio_bus);
	cr_assert_eq(pci_create(&ctx, &err), 0, "%s", err.msg);
	pci_dev_init(&dev, 0x1af4, 0x1042, 0x018000, 1, 0x1af4, 0x1100);
	pci_dev_add_bar64(&dev, 0, 0x8000, bar_fn, NULL);
	cr_assert_eq(msix_init(&msix, &ctx, &dev, 4, 0, 0x4000, 0x6000, &err),
		     0, "%s", err.msg);
	cr_assert_eq(pci_register(ctx.pci, &dev, &err), 0, "%s", err.msg);
	bar_hits = 0;
}

static void teardown(void)
{
	pci_unregister(ctx.pci, &dev);
	msix_fini(&msix);
	pci_destroy(&ctx);
	bus_fini(&pio_bus);
	bus_fini(&mmio_bus);
}

TestSuite(pci, .init = setup, .fini = teardown);

static uint32_t cf8_read(unsigned slot, unsigned off, unsigned len)
{
	uint8_t a[4], d[4] = { 0 };

	pci_put32(a, 0x80000000u | slot << 11 | (off & 0xfc));
	cr_assert(bus_dispatch(&pio_bus, 0xcf8, a, 4, true));
	cr_assert(bus_dispatch(&pio_bus, 0xcfc + (off & 3), d, len, false));
	return len == 1 ? d[0] : len == 2 ? pci_get16(d) : pci_get32(d);
}

static void cf8_write(unsigned slot, unsigned off, unsigned len, uint32_t v)
{
	uint8_t a[4], d[4];

	pci_put32(a, 0x80000000u | slot << 11 | (off & 0xfc));
	pci_put32(d, v);
	cr_assert(bus_dispatch(&pio_bus, 0xcf8, a, 4, true));
	cr_assert(bus_dispatch(&pio_bus, 0xcfc + (off & 3), d, len, true));
}

static uint32_t ecam_read32(unsigned slot, unsigned off)
{
	uint8_t d[4];

	cr_assert(bus_dispatch(&mmio_bus, LAYOUT_PCI_ECAM + (slot << 15) + off,
			       d, 4, false));
	return pci_get32(d);
}

static bool mmio(uint64_t addr, uint8_t *d, uint32_t len, bool w)
{
	return bus_dispatch(&mmio_bus, addr, d, len, w);
}

Test(pci, bridge_and_device_through_both_mechanisms)
{
	cr_assert_eq(cf8_read(0, 0, 4), 0x00081b36);
	cr_assert_eq(ecam_read32(0, 0), 0x00081b36);
	cr_assert_eq(cf8_read(0, 0x0a, 2), 0x0600, "host bridge class");
	cr_assert_eq(cf8_read(1, 0, 4), 0x10421af4);
	cr_assert_eq(ecam_read32(1, 0), 0x10421af4);
	cr_assert_eq(cf8_read(1, 0x08, 4) >> 8, 0x018000);
	cr_assert_eq(cf8_read(1, 0x08, 1), 1, "revision");
	cr_assert_eq(cf8_read(1, 0x2e, 2), 0x1100);
	cr_assert_eq(cf8_read(7, 0, 4), 0xffffffff, "empty slot");
	cr_assert_eq(ecam_read32(7, 0), 0xffffffff);
	cr_assert_eq(ecam_read32(1, 0x100), 0, "no extended capabilities");
	/* Byte accesses to 0xCF9 are the reset port's, not ours. */
	uint8_t b = 6;
	cr_assert_not(bus_dispatch(&pio_bus, 0xcf9, &b, 1, true));
}

Test(pci, config_address_latch_only_takes_dwords)
{
	uint8_t d[4] = { 0x12, 0x34, 0x56, 0x78 };

	cr_assert(bus_dispatch(&pio_bus, 0xcf8, d, 4, true));
	cr_assert(bus_dispatch(&pio_bus, 0xcf8, d, 2, false));
	cr_assert_eq(d[0], 0xff, "word read of 0xcf8 floats");
	cr_assert(bus_dispatch(&pio_bus, 0xcf8, d, 4, false));
	cr_assert_eq(pci_get32(d), 0x00563410, "reserved bits dropped");
}

Test(pci, bar_is_placed_sized_and_moved)
{
	uint64_t at = LAYOUT_PCI_MMIO32;
	uint8_t d[4];

	cr_assert_eq(cf8_read(1, 0x10, 4), (uint32_t)at | 4, "64-bit BAR");
	cr_assert_eq(cf8_read(1, 0x14, 4), 0);
	cr_assert(cf8_read(1, 0x04, 2) & 2, "memory decoding on");
	cr_assert(mmio(at + 0x10, d, 4, false));
	cr_assert_eq(bar_hits, 1);
	cr_assert_eq(last_off, 0x10);

	/* Sizing: all ones read back as the size mask, type bits kept. */
	cf8_write(1, 0x04, 2, 0);
	cr_assert_not(mmio(at, d, 4, false), "decoding off");
	cf8_write(1, 0x10, 4, 0xffffffff);
	cf8_write(1, 0x14, 4, 0xffffffff);
	cr_assert_eq(cf8_read(1, 0x10, 4), 0xffff8004);
	cr_assert_eq(cf8_read(1, 0x14, 4), 0xffffffff);

	/* Move it, turn decoding back on: only the new place answers. */
	cf8_write(1, 0x10, 4, 0xd0000000);
	cf8_write(1, 0x14, 4, 0);
	cf8_write(1, 0x04, 2, 2);
	cr_assert_not(mmio(at, d, 4, false));
	cr_assert(mmio(0xd0000000 + 0x7ffc, d, 4, false));
	cr_assert_eq(last_off, 0x7ffc);
	/* A place that collides stays unmapped (ECAM is taken). */
	cf8_write(1, 0x10, 4, (uint32_t)LAYOUT_PCI_ECAM);
	cr_assert_not(mmio(0xd0000000, d, 4, false));
	cr_assert_eq(ecam_read32(0, 0), 0x00081b36, "ECAM still there");
}

Test(pci, read_only_fields_stay)
{
	cf8_write(1, 0x00, 4, 0);
	cf8_write(1, 0x08, 4, 0);
	cf8_write(1, 0x34, 1, 0);
	cr_assert_eq(cf8_read(1, 0, 4), 0x10421af4);
	cr_assert_eq(cf8_read(1, 0x08, 4) >> 8, 0x018000);
	cr_assert_eq(cf8_read(1, 0x34, 1), 0x40);
	cf8_write(1, 0x3c, 1, 11);
	cr_assert_eq(cf8_read(1, 0x3c, 1), 11, "interrupt line is scratch");
	cr_assert_eq(cf8_read(1, 0x3d, 1), 0, "no INTx pin");
}

Test(pci, msix_capability)
{
	cr_assert(cf8_read(1, 0x06, 2) & 0x10, "capability list");
	cr_assert_eq(cf8_read(1, 0x34, 1), 0x40);
	cr_assert_eq(cf8_read(1, 0x40, 1), 0x11);
	cr_assert_eq(cf8_read(1, 0x41, 1), 0, "last capability");
	cr_assert_eq(cf8_read(1, 0x42, 2) & 0x7ff, 3, "4 vectors");
	cr_assert_eq(cf8_read(1, 0x44, 4), 0x4000, "table in BAR 0");
	cr_assert_eq(cf8_read(1, 0x48, 4), 0x6000, "PBA in BAR 0");
	cf8_write(1, 0x42, 2, 0xffff);
	cr_assert_eq(cf8_read(1, 0x42, 2), 0xc003, "only enable and mask");
	cr_assert(msix_enabled(&msix));
	cf8_write(1, 0x42, 2, 0);
	cr_assert_not(msix_enabled(&msix));
}

Test(pci, msix_mask_and_pending_bits)
{
	uint64_t at = LAYOUT_PCI_MMIO32;
	uint8_t d[4];

	/* Entries start masked. */
	cr_assert(mmio(at + 0x4000 + 16 + 12, d, 4, false));
	cr_assert_eq(pci_get32(d), 1);
	pci_put32(d, 0xfee00000);
	mmio(at + 0x4000 + 16, d, 4, true);
	pci_put32(d, 0x41);
	mmio(at + 0x4000 + 16 + 8, d, 4, true);
	cf8_write(1, 0x42, 2, 0x8000); /* enable */

	msix_notify(&msix, 1);
	mmio(at + 0x6000, d, 4, false);
	cr_assert_eq(d[0], 0x02, "masked vector latches its pending bit");

	/* Unmask: the pending message goes out (no KVM here: dropped). */
	pci_put32(d, 0);
	mmio(at + 0x4000 + 16 + 12, d, 4, true);
	mmio(at + 0x6000, d, 4, false);
	cr_assert_eq(d[0], 0, "pending bit cleared on delivery");
	cr_assert_eq(atomic_load(&msix.dropped), 1);

	/* The function mask holds everything back too. */
	cf8_write(1, 0x42, 2, 0xc000);
	msix_notify(&msix, 1);
	mmio(at + 0x6000, d, 4, false);
	cr_assert_eq(d[0], 0x02);
	cf8_write(1, 0x42, 2, 0x8000);
	mmio(at + 0x6000, d, 4, false);
	cr_assert_eq(d[0], 0);
	/* Out of range vectors and table offsets are ignored. */
	msix_notify(&msix, 9);
	msix_notify(&msix, MSIX_NO_VECTOR);
	cr_assert(mmio(at + 0x4000 + 16 * 4, d, 4, false));
	cr_assert_eq(pci_get32(d), 0);
}
