/*
 * The MADT: one Local APIC per vCPU (ACPI UID = APIC ID = vCPU index), the
 * IOAPIC with GSIs from 0, and the ISA overrides a PC needs: the PIT's IRQ0
 * arrives on pin 2 of the IOAPIC, and the SCI (IRQ9) is level-triggered,
 * active-high, unlike the ISA default of edge/high.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/acpi.h"
#include "mvm/err.h"
#include "mvm/layout.h"

#include "tables.h"

#define MADT_REVISION 4
#define MADT_PCAT_COMPAT (1u << 0) /* there are 8259 PICs to mask */

enum {
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_ISO = 2,
	MADT_LAPIC_NMI = 4,
};

#define LAPIC_ENABLED (1u << 0)
#define MPS_INTI_POLARITY_HIGH 0x1
#define MPS_INTI_TRIGGER_LEVEL (0x3 << 2)
#define ALL_PROCESSORS 0xff
#define PIT_IRQ 0
#define PIT_GSI 2

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));

struct madt_lapic {
	uint8_t type, length;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;
	uint8_t id;
	uint8_t reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_iso {
	uint8_t type, length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");
_Static_assert(sizeof(struct madt_iso) == 10, "MADT ISO");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT NMI");

static void *append(uint8_t *buf, uint32_t *len, uint32_t n)
{
	void *p = buf + *len;

	*len += n;
	return p;
}

int acpi_build_madt(struct acpi_ctx *c, const struct acpi_config *cfg,
		    uint64_t *addr, struct mvm_err *err)
{
	uint32_t size = sizeof(struct acpi_madt) +
			cfg->nr_cpus * sizeof(struct madt_lapic) +
			sizeof(struct madt_ioapic) +
			2 * sizeof(struct madt_iso) +
			sizeof(struct madt_lapic_nmi);
	struct madt_lapic_nmi *nmi;
	struct madt_ioapic *io;
	struct madt_iso *iso;
	struct acpi_madt *m;
	uint32_t len = 0;
	uint8_t *buf;
	int ret;

	buf = calloc(1, size);
	if (!buf)
		return mvm_fail(err, -ENOMEM, "acpi: out of memory for the MADT");
	m = append(buf, &len, sizeof(*m));
	acpi_header_init(&m->h, "APIC", size, MADT_REVISION);
	m->lapic_addr = (uint32_t)LAYOUT_LAPIC;
	m->flags = MADT_PCAT_COMPAT;

	for (unsigned i = 0; i < cfg->nr_cpus; i++) {
		struct madt_lapic *l = append(buf, &len, sizeof(*l));

		*l = (struct madt_lapic){ MADT_LAPIC, sizeof(*l), (uint8_t)i,
					  (uint8_t)i, LAPIC_ENABLED };
	}

	io = append(buf, &len, sizeof(*io));
	*io = (struct madt_ioapic){ .type = MADT_IOAPIC,
				    .length = sizeof(*io),
				    .id = (uint8_t)cfg->nr_cpus,
				    .addr = (uint32_t)LAYOUT_IOAPIC,
				    .gsi_base = 0 };

	iso = append(buf, &len, sizeof(*iso));
	*iso = (struct madt_iso){ MADT_ISO, sizeof(*iso), 0, PIT_IRQ, PIT_GSI,
				  0 /* conforms to the bus */ };
	iso = append(buf, &len, sizeof(*iso));
	*iso = (struct madt_iso){ MADT_ISO, sizeof(*iso), 0, IRQ_SCI, IRQ_SCI,
				  MPS_INTI_POLARITY_HIGH |
					  MPS_INTI_TRIGGER_LEVEL };

	nmi = append(buf, &len, sizeof(*nmi));
	*nmi = (struct madt_lapic_nmi){ MADT_LAPIC_NMI, sizeof(*nmi),
					ALL_PROCESSORS, 0, 1 /* LINT1 */ };

	ret = acpi_emit_table(c, buf, addr, err);
	free(buf);
	return ret;
}
