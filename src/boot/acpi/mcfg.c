/*
 * The MCFG table (PCI Firmware Specification 3.x, 4.1.2): where ECAM
 * configuration space lives. mvm has one segment with bus 0 only.
 */
#include <string.h>

#include "mvm/layout.h"

#include "tables.h"

#define MCFG_REVISION 1

struct acpi_mcfg {
	struct acpi_header h;
	uint8_t reserved[8];
	/* One configuration space base address allocation. */
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved2;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_mcfg) == 60, "MCFG layout");

int acpi_build_mcfg(struct acpi_ctx *c, uint64_t *addr, struct mvm_err *err)
{
	struct acpi_mcfg m;

	memset(&m, 0, sizeof(m));
	acpi_header_init(&m.h, "MCFG", sizeof(m), MCFG_REVISION);
	m.base = LAYOUT_PCI_ECAM;
	m.segment = 0;
	m.start_bus = 0;
	m.end_bus = LAYOUT_PCI_ECAM_BUSES - 1;
	return acpi_emit_table(c, &m, addr, err);
}
