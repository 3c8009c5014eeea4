/*
 * The ACPI table set: RSDP at LAYOUT_ACPI (inside the 0xe0000-0xfffff window
 * that OSes scan when no boot protocol tells them where it is), then the
 * DSDT, FACS, FADT, MADT, XSDT and an RSDT for 32-bit OSes that ignore the
 * XSDT. All of it lives in [LAYOUT_ACPI, LAYOUT_ACPI_END), which the e820
 * map reports reserved.
 */
#include <inttypes.h>
#include <string.h>

#include "mvm/acpi.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#include "tables.h"

/* APIC IDs are 8 bits, 0xff is broadcast, and the IOAPIC takes nr_cpus. */
#define ACPI_MAX_CPUS 254

#define RSDP_REVISION 2 /* ACPI 2.0+: has the XSDT address */
#define RSDP_V1_LEN 20 /* the part the first checksum covers */
#define RSDP_RESERVED 0x40 /* room kept for it at the window's start */
#define FACS_ALIGN 64 /* required by the spec */
#define TABLE_ALIGN 16

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hw_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} __attribute__((packed));

#define NR_SDT_ENTRIES 3 /* FADT, MADT, MCFG; the DSDT hangs off the FADT */

struct acpi_xsdt {
	struct acpi_header h;
	uint64_t entry[NR_SDT_ENTRIES];
} __attribute__((packed));

struct acpi_rsdt {
	struct acpi_header h;
	uint32_t entry[NR_SDT_ENTRIES];
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS layout");
_Static_assert(RSDP_RESERVED >= sizeof(struct acpi_rsdp), "RSDP room");

uint8_t acpi_checksum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (uint32_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

void acpi_header_init(struct acpi_header *h, const char sig[4], uint32_t len,
		      uint8_t revision)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

int acpi_emit(struct acpi_ctx *c, const void *data, uint32_t len,
	      uint64_t align, uint64_t *addr, struct mvm_err *err)
{
	uint64_t at = (c->next + align - 1) & ~(align - 1);

	if (at > LAYOUT_ACPI_END || len > LAYOUT_ACPI_END - at)
		return mvm_fail(err, -ENOSPC,
				"acpi: tables need more than the %llu KiB at 0x%llx",
				(LAYOUT_ACPI_END - LAYOUT_ACPI) >> 10,
				LAYOUT_ACPI);
	if (gm_write(c->gm, at, data, len))
		return mvm_fail(err, -EFAULT,
				"acpi: guest RAM does not cover 0x%" PRIx64, at);
	c->next = at + len;
	*addr = at;
	return 0;
}

int acpi_emit_table(struct acpi_ctx *c, void *table, uint64_t *addr,
		    struct mvm_err *err)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = (uint8_t)-acpi_checksum(table, h->length);
	return acpi_emit(c, table, h->length, TABLE_ALIGN, addr, err);
}

static int build_facs(struct acpi_ctx *c, uint64_t *addr,
		      struct mvm_err *err)
{
	struct acpi_facs f;

	/* No sleep states but S5, so nothing to wake; OSes still want it. */
	memset(&f, 0, sizeof(f));
	memcpy(f.signature, "FACS", 4);
	f.length = sizeof(f);
	f.version = 2;
	return acpi_emit(c, &f, sizeof(f), FACS_ALIGN, addr, err);
}

static int build_sdts(struct acpi_ctx *c, const uint64_t *tables,
		      uint64_t *xsdt_addr, uint64_t *rsdt_addr,
		      struct mvm_err *err)
{
	struct acpi_xsdt x;
	struct acpi_rsdt r;
	int ret;

	acpi_header_init(&x.h, "XSDT", sizeof(x), 1);
	acpi_header_init(&r.h, "RSDT", sizeof(r), 1);
	for (int i = 0; i < NR_SDT_ENTRIES; i++) {
		x.entry[i] = tables[i];
		r.entry[i] = (uint32_t)tables[i]; /* all below 1 MiB */
	}
	ret = acpi_emit_table(c, &x, xsdt_addr, err);
	return ret ? ret : acpi_emit_table(c, &r, rsdt_addr, err);
}

static int write_rsdp(struct guest_mem *gm, uint64_t xsdt, uint64_t rsdt,
		      struct mvm_err *err)
{
	struct acpi_rsdp p;

	memset(&p, 0, sizeof(p));
	memcpy(p.signature, "RSD PTR ", 8);
	memcpy(p.oem_id, ACPI_OEM_ID, 6);
	p.revision = RSDP_REVISION;
	p.rsdt = (uint32_t)rsdt;
	p.length = sizeof(p);
	p.xsdt = xsdt;
	p.checksum = (uint8_t)-acpi_checksum(&p, RSDP_V1_LEN);
	p.ext_checksum = (uint8_t)-acpi_checksum(&p, sizeof(p));
	if (gm_write(gm, LAYOUT_ACPI, &p, sizeof(p)))
		return mvm_fail(err, -EFAULT,
				"acpi: guest RAM does not cover 0x%llx",
				LAYOUT_ACPI);
	return 0;
}

int acpi_build(struct guest_mem *gm, const struct acpi_config *cfg,
	       uint64_t *rsdp, struct mvm_err *err)
{
	struct acpi_ctx c = { .gm = gm, .next = LAYOUT_ACPI + RSDP_RESERVED };
	uint64_t dsdt, facs, sdt[NR_SDT_ENTRIES], xsdt, rsdt;
	void *window;
	int ret;

	if (cfg->nr_cpus < 1 || cfg->nr_cpus > ACPI_MAX_CPUS)
		return mvm_fail(err, -EINVAL,
				"acpi: %u vCPUs; the MADT describes 1 to %d",
				cfg->nr_cpus, ACPI_MAX_CPUS);
	window = gm_ptr(gm, LAYOUT_ACPI, LAYOUT_ACPI_END - LAYOUT_ACPI);
	if (!window)
		return mvm_fail(err, -EFAULT,
				"acpi: guest RAM does not cover 0x%llx-0x%llx",
				LAYOUT_ACPI, LAYOUT_ACPI_END);
	/* No stale bytes: an OS scanning for "RSD PTR " must find ours only. */
	memset(window, 0, LAYOUT_ACPI_END - LAYOUT_ACPI);

	ret = acpi_build_dsdt(&c, &dsdt, err);
	if (!ret)
		ret = build_facs(&c, &facs, err);
	if (!ret)
		ret = acpi_build_fadt(&c, dsdt, facs, &sdt[0], err);
	if (!ret)
		ret = acpi_build_madt(&c, cfg, &sdt[1], err);
	if (!ret)
		ret = acpi_build_mcfg(&c, &sdt[2], err);
	if (!ret)
		ret = build_sdts(&c, sdt, &xsdt, &rsdt, err);
	if (!ret)
		ret = write_rsdp(gm, xsdt, rsdt, err);
	if (ret)
		return ret;
	*rsdp = LAYOUT_ACPI;
	return 0;
}
