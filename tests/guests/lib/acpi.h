/*
 * Read-only ACPI table access: find the RSDP, walk the XSDT (or RSDT),
 * look tables up by signature, and pull out what the guests act on: the
 * MADT's local APICs, the FADT's PM1a control and reset registers, and the
 * \_S5 sleep type from the DSDT. Tables must sit below 4 GiB.
 */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include "types.h"

struct acpi_sdt {
	char sig[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} PACKED;

struct acpi_rsdp {
	char sig[8]; /* "RSD PTR " */
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision; /* 0: ACPI 1.0 (RSDT only), 2: has XSDT */
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} PACKED;

struct acpi {
	uint64_t rsdp_pa;
	const struct acpi_rsdp *rsdp;
	const struct acpi_sdt *root; /* XSDT, or RSDT when there is none */
	bool xsdt;
	int ntables;
};

/* Sums len bytes; a valid table sums to 0. */
uint8_t acpi_sum(const void *p, size_t len);

/* Scans the EBDA's first KiB and 0xE0000-0xFFFFF for a valid RSDP; 0 if none. */
uint64_t acpi_scan_rsdp(void);

/*
 * Opens the tables from the RSDP at rsdp_pa (0: scan for it) and checks the
 * RSDP and root table. On failure returns false with a reason in why.
 */
bool acpi_open(struct acpi *a, uint64_t rsdp_pa, char *why, size_t whylen);

/* Address of root entry i, or 0. */
uint64_t acpi_entry(const struct acpi *a, int i);

/* The first table with this signature in the root table (not the DSDT). */
const struct acpi_sdt *acpi_find(const struct acpi *a, const char sig[4]);

/* The DSDT the FADT points to (X_DSDT preferred), or NULL. */
const struct acpi_sdt *acpi_dsdt(const struct acpi_sdt *fadt);

/* Local APICs listed in the MADT (types 0 and 9). */
struct acpi_lapic {
	uint32_t apic_id;
	bool enabled;
};
/* Returns the number listed (may exceed max; only max are stored). */
int acpi_madt_lapics(const struct acpi_sdt *madt, struct acpi_lapic *out,
		     int max);
/* First IOAPIC in the MADT; false if none. */
bool acpi_madt_ioapic(const struct acpi_sdt *madt, uint32_t *addr);

/* Generic address structure, as the FADT uses. */
struct acpi_gas {
	uint8_t space; /* 0 memory, 1 system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} PACKED;
#define ACPI_GAS_MEMORY 0
#define ACPI_GAS_IO 1

/* PM1a control block port (X_ field preferred), or 0. */
uint32_t acpi_fadt_pm1a_cnt(const struct acpi_sdt *fadt);
/* RESET_REG and RESET_VALUE; false if the FADT has none or does not flag it. */
bool acpi_fadt_reset(const struct acpi_sdt *fadt, struct acpi_gas *reg,
		     uint8_t *value);

/*
 * SLP_TYPa/SLP_TYPb from the DSDT's \_S5 package. Understands the forms
 * compilers emit: Name(_S5, Package(){...}) with Zero/One/BytePrefix items.
 */
bool acpi_dsdt_s5(const struct acpi_sdt *dsdt, uint8_t *slp_typa,
		  uint8_t *slp_typb);

/* SLP_EN and the SLP_TYP field position in PM1 control. */
#define ACPI_PM1_SLP_EN (1u << 13)
#define ACPI_PM1_SLP_TYP_SHIFT 10

#endif
