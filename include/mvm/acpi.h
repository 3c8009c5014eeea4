/*
 * ACPI tables generated for the guest: RSDP, XSDT, FADT (with the PM1a
 * block and reset register), MADT (one LAPIC per vCPU, the IOAPIC, the ISA
 * overrides) and a DSDT with \_S5. Pure: writes only guest memory.
 */
#ifndef MVM_ACPI_H
#define MVM_ACPI_H

#include <stdint.h>

struct guest_mem;
struct mvm_err;

struct acpi_config {
	unsigned nr_cpus; /* APIC IDs are 0..nr_cpus-1 */
};

/* Write the tables in [LAYOUT_ACPI, LAYOUT_ACPI_END); *rsdp = its address. */
int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg,
	       uint64_t *rsdp, struct mvm_err *err);

/* ACPI's 8-bit checksum over len bytes (the table is valid when it is 0). */
uint8_t acpi_checksum(const void *p, uint32_t len);

#endif
