#include "acpi.h"

#include "printf.h"
#include "string.h"

#define EBDA_SEG_PTR 0x40e
#define BIOS_AREA 0xe0000
#define BIOS_AREA_END 0x100000

/* FADT field offsets (ACPI 6.x, table 5.9). */
#define FADT_DSDT 40
#define FADT_PM1A_CNT 64
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_DSDT 140
#define FADT_X_PM1A_CNT 172
#define FADT_FLAG_RESET_REG_SUP (1u << 10)

/* MADT: fixed part, then entries of {type, length}. */
#define MADT_ENTRIES 44
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_X2APIC 9
#define MADT_ENABLED 1u

uint8_t acpi_sum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static bool rsdp_valid(uint64_t pa)
{
	const struct acpi_rsdp *r = phys_ptr(pa);

	if (memcmp(r->sig, "RSD PTR ", 8) != 0 || acpi_sum(r, 20) != 0)
		return false;
	return r->revision < 2 ||
	       (r->length >= sizeof(*r) && r->length < 4096 &&
		acpi_sum(r, r->length) == 0);
}

static uint64_t scan(uint64_t from, uint64_t to)
{
	/* Compare one word first: this loop runs thousands of times. */
	for (uint64_t pa = from; pa + 36 <= to; pa += 16)
		if (*(const uint32_t *)phys_ptr(pa) == 0x20445352u && /* "RSD " */
		    rsdp_valid(pa))
			return pa;
	return 0;
}

uint64_t acpi_scan_rsdp(void)
{
	uint64_t ebda = (uint64_t)*(const uint16_t *)phys_ptr(EBDA_SEG_PTR) << 4;
	uint64_t pa = 0;

	if (ebda >= 0x80000 && ebda < 0xa0000)
		pa = scan(ebda, ebda + 1024);
	return pa ? pa : scan(BIOS_AREA, BIOS_AREA_END);
}

static const struct acpi_sdt *table_at(uint64_t pa)
{
	if (!pa || !phys_reachable(pa, sizeof(struct acpi_sdt)))
		return NULL;
	const struct acpi_sdt *t = phys_ptr(pa);
	if (t->length < sizeof(*t) || !phys_reachable(pa, t->length))
		return NULL;
	return t;
}

bool acpi_open(struct acpi *a, uint64_t rsdp_pa, char *why, size_t whylen)
{
	memset(a, 0, sizeof(*a));
	if (rsdp_pa) {
		if (!phys_reachable(rsdp_pa, sizeof(struct acpi_rsdp)) ||
		    !rsdp_valid(rsdp_pa)) {
			ksnprintf(why, whylen, "no valid RSDP at 0x%llx",
				  (unsigned long long)rsdp_pa);
			return false;
		}
	} else {
		rsdp_pa = acpi_scan_rsdp();
		if (!rsdp_pa) {
			ksnprintf(why, whylen, "no RSDP found in the BIOS area");
			return false;
		}
	}
	a->rsdp_pa = rsdp_pa;
	a->rsdp = phys_ptr(rsdp_pa);
	a->xsdt = a->rsdp->revision >= 2 && a->rsdp->xsdt;
	uint64_t root_pa = a->xsdt ? a->rsdp->xsdt : a->rsdp->rsdt;
	a->root = table_at(root_pa);
	const char *want = a->xsdt ? "XSDT" : "RSDT";
	if (!a->root || memcmp(a->root->sig, want, 4) != 0) {
		ksnprintf(why, whylen, "no %s at 0x%llx", want,
			  (unsigned long long)root_pa);
		return false;
	}
	if (acpi_sum(a->root, a->root->length) != 0) {
		ksnprintf(why, whylen, "%s checksum bad", want);
		return false;
	}
	a->ntables = (int)((a->root->length - sizeof(struct acpi_sdt)) /
			   (a->xsdt ? 8 : 4));
	return true;
}

uint64_t acpi_entry(const struct acpi *a, int i)
{
	const uint8_t *e = (const uint8_t *)(a->root + 1);

	if (i < 0 || i >= a->ntables)
		return 0;
	if (a->xsdt) {
		uint64_t v;
		memcpy(&v, e + 8 * i, 8); /* XSDT entries are only 4-aligned */
		return v;
	}
	return ((const uint32_t *)e)[i];
}

const struct acpi_sdt *acpi_find(const struct acpi *a, const char sig[4])
{
	for (int i = 0; i < a->ntables; i++) {
		const struct acpi_sdt *t = table_at(acpi_entry(a, i));
		if (t && memcmp(t->sig, sig, 4) == 0)
			return t;
	}
	return NULL;
}

static uint32_t rd32(const void *base, size_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)base + off, 4);
	return v;
}

static uint64_t rd64(const void *base, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)base + off, 8);
	return v;
}

const struct acpi_sdt *acpi_dsdt(const struct acpi_sdt *fadt)
{
	uint64_t pa = 0;

	if (fadt->length >= FADT_X_DSDT + 8)
		pa = rd64(fadt, FADT_X_DSDT);
	if (!pa && fadt->length >= FADT_DSDT + 4)
		pa = rd32(fadt, FADT_DSDT);
	const struct acpi_sdt *t = table_at(pa);
	return t && memcmp(t->sig, "DSDT", 4) == 0 ? t : NULL;
}

int acpi_madt_lapics(const struct acpi_sdt *madt, struct acpi_lapic *out,
		     int max)
{
	const uint8_t *p = (const uint8_t *)madt + MADT_ENTRIES;
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	int n = 0;

	for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		struct acpi_lapic l;
		if (p[0] == MADT_LAPIC && p[1] >= 8) {
			l.apic_id = p[3];
			l.enabled = rd32(p, 4) & MADT_ENABLED;
		} else if (p[0] == MADT_X2APIC && p[1] >= 16) {
			l.apic_id = rd32(p, 4);
			l.enabled = rd32(p, 8) & MADT_ENABLED;
		} else {
			continue;
		}
		if (n < max)
			out[n] = l;
		n++;
	}
	return n;
}

bool acpi_madt_ioapic(const struct acpi_sdt *madt, uint32_t *addr)
{
	const uint8_t *p = (const uint8_t *)madt + MADT_ENTRIES;
	const uint8_t *end = (const uint8_t *)madt + madt->length;

	for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
		if (p[0] == MADT_IOAPIC && p[1] >= 12) {
			*addr = rd32(p, 4);
			return true;
		}
	}
	return false;
}

uint32_t acpi_fadt_pm1a_cnt(const struct acpi_sdt *fadt)
{
	if (fadt->length >= FADT_X_PM1A_CNT + sizeof(struct acpi_gas)) {
		struct acpi_gas g;
		memcpy(&g, (const uint8_t *)fadt + FADT_X_PM1A_CNT, sizeof(g));
		if (g.space == ACPI_GAS_IO && g.address && g.address < 0x10000)
			return (uint32_t)g.address;
	}
	return fadt->length >= FADT_PM1A_CNT + 4 ? rd32(fadt, FADT_PM1A_CNT)
						 : 0;
}

bool acpi_fadt_reset(const struct acpi_sdt *fadt, struct acpi_gas *reg,
		     uint8_t *value)
{
	if (fadt->length <= FADT_RESET_VALUE ||
	    !(rd32(fadt, FADT_FLAGS) & FADT_FLAG_RESET_REG_SUP))
		return false;
	memcpy(reg, (const uint8_t *)fadt + FADT_RESET_REG, sizeof(*reg));
	*value = ((const uint8_t *)fadt)[FADT_RESET_VALUE];
	return true;
}

/* One AML package element that is a small integer. */
static bool aml_byte_const(const uint8_t **pp, const uint8_t *end, uint8_t *v)
{
	const uint8_t *p = *pp;

	if (p >= end)
		return false;
	switch (p[0]) {
	case 0x00: /* ZeroOp */
	case 0x01: /* OneOp */
		*v = p[0];
		*pp = p + 1;
		return true;
	case 0x0a: /* BytePrefix */
		if (p + 2 > end)
			return false;
		*v = p[1];
		*pp = p + 2;
		return true;
	case 0x0b: /* WordPrefix: only the low byte can be a SLP_TYP */
		if (p + 3 > end)
			return false;
		*v = p[1];
		*pp = p + 3;
		return true;
	default:
		return false;
	}
}

bool acpi_dsdt_s5(const struct acpi_sdt *dsdt, uint8_t *slp_typa,
		  uint8_t *slp_typb)
{
	const uint8_t *aml = (const uint8_t *)(dsdt + 1);
	const uint8_t *end = (const uint8_t *)dsdt + dsdt->length;

	/* One 32-bit compare per byte: a firmware DSDT can be 8 KiB or more. */
	const uint32_t s5 = '_' | 'S' << 8 | '5' << 16 | (uint32_t)'_' << 24;
	for (const uint8_t *p = aml + 1; p + 4 < end; p++) {
		uint32_t w;
		memcpy(&w, p, 4);
		if (w != s5)
			continue;
		/* Preceded by NameOp, optionally with the root prefix '\'. */
		bool named = p[-1] == 0x08 ||
			     (p[-1] == '\\' && p - 2 >= aml && p[-2] == 0x08);
		const uint8_t *q = p + 4;
		if (!named || q >= end || *q != 0x12) /* PackageOp */
			continue;
		if (++q >= end)
			continue;
		/* PkgLength: top two bits of the lead byte count extra bytes. */
		q += 1 + (*q >> 6);
		q++; /* NumElements */
		uint8_t a, b = 0;
		if (!aml_byte_const(&q, end, &a))
			continue;
		if (!aml_byte_const(&q, end, &b))
			b = a;
		*slp_typa = a;
		*slp_typb = b;
		return true;
	}
	return false;
}
