/* PCI configuration space through the legacy 0xCF8/0xCFC mechanism. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include "types.h"

/* A function's address: bus << 8 | device << 3 | function. */
typedef uint16_t pci_bdf;
#define PCI_BDF(bus, dev, fn) ((pci_bdf)((bus) << 8 | (dev) << 3 | (fn)))
#define PCI_BUS(bdf) ((bdf) >> 8)
#define PCI_DEV(bdf) (((bdf) >> 3) & 0x1f)
#define PCI_FN(bdf) ((bdf) & 7)

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REV 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_STATUS_CAP_LIST 0x10

uint32_t pci_read32(pci_bdf bdf, uint8_t off);
uint16_t pci_read16(pci_bdf bdf, uint8_t off);
uint8_t pci_read8(pci_bdf bdf, uint8_t off);
void pci_write32(pci_bdf bdf, uint8_t off, uint32_t v);
void pci_write16(pci_bdf bdf, uint8_t off, uint16_t v);
void pci_write8(pci_bdf bdf, uint8_t off, uint8_t v);

/*
 * Calls visit for every function present on bus 0 (the only bus the
 * guests look at); stops early when visit returns false. Returns the
 * number of functions visited.
 */
int pci_scan_bus0(bool (*visit)(pci_bdf bdf, void *arg), void *arg);
/* The nth (from 0) function with this vendor:device on bus 0. */
bool pci_find(uint16_t vendor, uint16_t device, int nth, pci_bdf *out);

/* BAR i decoded: base address, I/O or memory, and size found by probing. */
struct pci_bar {
	uint64_t base;
	uint64_t size;
	bool io;
	bool is64;
};
/* Probing writes all-ones to the BAR; decoding is off meanwhile. */
bool pci_bar(pci_bdf bdf, int i, struct pci_bar *out);
/* Offset of the first capability with this ID, or 0. */
uint8_t pci_find_cap(pci_bdf bdf, uint8_t cap_id, uint8_t start);

#endif
