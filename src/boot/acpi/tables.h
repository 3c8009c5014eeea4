/*
 * ACPI table layouts (ACPI 6.x, chapter 5) and the helpers shared by the
 * files that build them. Internal to src/boot/acpi.
 */
#ifndef MVM_ACPI_TABLES_H
#define MVM_ACPI_TABLES_H

#include <stdint.h>

struct guest_mem;
struct mvm_err;
struct acpi_config;

#define ACPI_OEM_ID "MVM   "
#define ACPI_OEM_TABLE_ID "MVMGUEST"
#define ACPI_CREATOR_ID "MVM "

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_UNDEFINED 0
#define ACPI_GAS_ACCESS_BYTE 1

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");
_Static_assert(sizeof(struct acpi_gas) == 12, "ACPI GAS");

/* Where the next table goes; tables are appended in the ACPI window. */
struct acpi_ctx {
	struct guest_mem *gm;
	uint64_t next;
};

/* Fill a table header; the checksum is set by acpi_emit_table. */
void acpi_header_init(struct acpi_header *h, const char sig[4], uint32_t len,
		      uint8_t revision);

/*
 * Place len bytes at the next align-aligned address of the ACPI window and
 * copy them there. -ENOSPC when the window is full, -EFAULT when it is not
 * RAM.
 */
int acpi_emit(struct acpi_ctx *c, const void *data, uint32_t len,
	      uint64_t align, uint64_t *addr, struct mvm_err *err);

/* Set the header's checksum, then acpi_emit it 16-byte aligned. */
int acpi_emit_table(struct acpi_ctx *c, void *table, uint64_t *addr,
		    struct mvm_err *err);

int acpi_build_fadt(struct acpi_ctx *c, uint64_t dsdt, uint64_t facs,
		    uint64_t *addr, struct mvm_err *err);
int acpi_build_madt(struct acpi_ctx *c, const struct acpi_config *cfg,
		    uint64_t *addr, struct mvm_err *err);
int acpi_build_dsdt(struct acpi_ctx *c, uint64_t *addr, struct mvm_err *err);
int acpi_build_mcfg(struct acpi_ctx *c, uint64_t *addr, struct mvm_err *err);

struct aml;
/* The PCI host bridge and the ECAM reservation, into the DSDT body. */
void acpi_dsdt_pci(struct aml *a);

#endif
