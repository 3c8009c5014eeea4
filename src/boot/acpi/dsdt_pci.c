/*
 * The DSDT's PCI part: the PCI0 host bridge (PCI Express root, PNP0A08,
 * compatible with plain PCI, PNP0A03) with the resources it decodes for
 * its bus (bus 0, the I/O ports outside the config registers, the 32-bit
 * and 64-bit MMIO windows), and a motherboard resource (PNP0C02) holding
 * the ECAM range, which is where OSes check that MCFG's area is reserved.
 *
 * Resource templates are written as bytes (ACPI 6.x, 6.4 "Resource Data
 * Types"); the AML writer wraps them in a Buffer.
 */
#include <string.h>

#include "mvm/aml.h"
#include "mvm/layout.h"

#include "tables.h"

#define RES_MAX 256

/* Address space descriptor fields. */
#define RT_MEMORY 0
#define RT_IO 1
#define RT_BUS 2
#define GF_PRODUCER_FIXED 0x0c /* _MIF and _MAF set, producer, positive */
#define GF_CONSUMER_FIXED 0x0d
#define TF_IO_ENTIRE 0x03      /* _RNG: ISA and non-ISA ports */
#define TF_MEM_RW 0x01         /* read-write, non-cacheable */

struct res {
	uint8_t b[RES_MAX];
	size_t n;
};

static void put(struct res *r, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes && r->n < RES_MAX; i++)
		r->b[r->n++] = (uint8_t)(v >> (8 * i));
}

/* Word/DWord/QWord Address Space Descriptor (6.4.3.5.1-3). */
static void addr_space(struct res *r, unsigned width, uint8_t type,
		       uint8_t gflags, uint8_t tflags, uint64_t min,
		       uint64_t len)
{
	static const uint8_t tag[9] = { [2] = 0x88, [4] = 0x87, [8] = 0x8a };

	put(r, tag[width], 1);
	put(r, 3 + 5 * width, 2); /* bytes after the length field */
	put(r, type, 1);
	put(r, gflags, 1);
	put(r, tflags, 1);
	put(r, 0, width);             /* granularity */
	put(r, min, width);
	put(r, min + len - 1, width); /* max */
	put(r, 0, width);             /* translation offset */
	put(r, len, width);
}

/* I/O Port Descriptor (6.4.2.5), 16-bit decode. */
static void io_port(struct res *r, uint16_t base, uint8_t len)
{
	put(r, 0x47, 1);
	put(r, 1, 1);
	put(r, base, 2);
	put(r, base, 2);
	put(r, 1, 1);
	put(r, len, 1);
}

static void end_tag(struct res *r)
{
	put(r, 0x79, 1);
	put(r, 0, 1); /* checksum 0: "treat as correct" */
}

static void host_bridge_crs(struct res *r)
{
	uint16_t cfg = PORT_PCI_CONFIG_ADDR;

	addr_space(r, 2, RT_BUS, GF_PRODUCER_FIXED, 0, 0,
		   LAYOUT_PCI_ECAM_BUSES);
	io_port(r, cfg, 8);
	addr_space(r, 2, RT_IO, GF_PRODUCER_FIXED, TF_IO_ENTIRE, 0, cfg);
	addr_space(r, 2, RT_IO, GF_PRODUCER_FIXED, TF_IO_ENTIRE, cfg + 8,
		   0x10000 - (cfg + 8));
	addr_space(r, 4, RT_MEMORY, GF_PRODUCER_FIXED, TF_MEM_RW,
		   LAYOUT_PCI_MMIO32, LAYOUT_PCI_MMIO32_SIZE);
	addr_space(r, 8, RT_MEMORY, GF_PRODUCER_FIXED, TF_MEM_RW,
		   LAYOUT_PCI_MMIO64, LAYOUT_PCI_MMIO64_SIZE);
	end_tag(r);
}

static void named_buffer(struct aml *a, const char *name, const struct res *r)
{
	aml_name(a, name);
	aml_buffer(a, r->b, r->n);
}

void acpi_dsdt_pci(struct aml *a)
{
	struct res r = { .n = 0 };
	size_t scope, dev;

	scope = aml_scope(a, "\\_SB");

	dev = aml_device(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	host_bridge_crs(&r);
	named_buffer(a, "_CRS", &r);
	aml_end(a, dev);

	dev = aml_device(a, "ECAM");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C02");
	aml_name(a, "_UID");
	aml_integer(a, 1);
	r.n = 0;
	addr_space(&r, 4, RT_MEMORY, GF_CONSUMER_FIXED, TF_MEM_RW,
		   LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE);
	end_tag(&r);
	named_buffer(a, "_CRS", &r);
	aml_end(a, dev);

	aml_end(a, scope);
}
