/*
 * The ACPI tables, read back from guest memory by raw offsets from the ACPI
 * specification (not through mvm's structs), so a layout mistake in the
 * builder shows up as a failure here.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/acpi.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#define RAM_SIZE (2ULL << 20)

struct acpi_guest {
	struct guest_mem gm;
	uint8_t *ram;
	uint64_t rsdp;
	struct mvm_err err;
};

static uint16_t r16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t r64(const uint8_t *p)
{
	return (uint64_t)r32(p) | (uint64_t)r32(p + 4) << 32;
}

static void build(struct acpi_guest *g, unsigned nr_cpus)
{
	struct acpi_config cfg = { .nr_cpus = nr_cpus };

	memset(g, 0, sizeof(*g));
	g->ram = malloc(RAM_SIZE);
	cr_assert_not_null(g->ram);
	memset(g->ram, 0xaa, RAM_SIZE);
	gm_add_host(&g->gm, 0, g->ram, RAM_SIZE);
	cr_assert_eq(acpi_build(&g->gm, &cfg, &g->rsdp, &g->err), 0, "%s",
		     g->err.msg);
}

/* A table at addr: inside the window, its checksum valid; returns it. */
static const uint8_t *table_at(const struct acpi_guest *g, uint64_t addr,
			       const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	cr_assert_geq(addr, LAYOUT_ACPI, "%s below the window", sig);
	cr_assert_leq(addr + 36, LAYOUT_ACPI_END, "%s past the window", sig);
	t = g->ram + addr;
	cr_assert_arr_eq(t, sig, 4, "expected %s at 0x%llx", sig,
			 (unsigned long long)addr);
	len = r32(t + 4);
	cr_assert_geq(len, 36);
	cr_assert_leq(addr + len, LAYOUT_ACPI_END, "%s past the window", sig);
	cr_assert_eq(acpi_checksum(t, len), 0, "%s checksum", sig);
	cr_assert_arr_eq(t + 10, "MVM   ", 6, "%s OEM ID", sig);
	return t;
}

/* Find a table through the XSDT. */
static const uint8_t *find(const struct acpi_guest *g, const char *sig)
{
	const uint8_t *rsdp = g->ram + g->rsdp;
	const uint8_t *xsdt = table_at(g, r64(rsdp + 24), "XSDT");
	uint32_t n = (r32(xsdt + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = r64(xsdt + 36 + 8 * i);

		if (memcmp(g->ram + a, sig, 4) == 0)
			return table_at(g, a, sig);
	}
	cr_assert_fail("%s not in the XSDT", sig);
	return NULL;
}

Test(acpi, checksum_function)
{
	const uint8_t v[] = { 1, 2, 3, 0xfa };

	cr_assert_eq(acpi_checksum(v, 4), 0);
	cr_assert_eq(acpi_checksum(v, 3), 6);
	cr_assert_eq(acpi_checksum(v, 0), 0);
}

Test(acpi, rsdp)
{
	struct acpi_guest g;
	const uint8_t *p;

	build(&g, 1);
	cr_assert_eq(g.rsdp, LAYOUT_ACPI);
	cr_assert_eq(g.rsdp % 16, 0, "the RSDP scan walks 16-byte steps");
	p = g.ram + g.rsdp;
	cr_assert_arr_eq(p, "RSD PTR ", 8);
	cr_assert_eq(acpi_checksum(p, 20), 0, "ACPI 1.0 checksum");
	cr_assert_eq(acpi_checksum(p, 36), 0, "extended checksum");
	cr_assert_arr_eq(p + 9, "MVM   ", 6);
	cr_assert_eq(p[15], 2, "revision");
	cr_assert_eq(r32(p + 20), 36, "length");
	table_at(&g, r64(p + 24), "XSDT");
	table_at(&g, r32(p + 16), "RSDT");
	free(g.ram);
}

Test(acpi, xsdt_and_rsdt_agree)
{
	struct acpi_guest g;
	const uint8_t *x, *r;

	build(&g, 2);
	x = table_at(&g, r64(g.ram + g.rsdp + 24), "XSDT");
	r = table_at(&g, r32(g.ram + g.rsdp + 16), "RSDT");
	cr_assert_eq((r32(x + 4) - 36) / 8, 3);
	cr_assert_eq((r32(r + 4) - 36) / 4, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(r64(x + 36 + 8 * i), r32(r + 36 + 4 * i));
	find(&g, "FACP");
	find(&g, "APIC");
	find(&g, "MCFG");
	free(g.ram);
}

Test(acpi, fadt_fields)
{
	struct acpi_guest g;
	const uint8_t *f, *facs;
	uint32_t flags;

	build(&g, 1);
	f = find(&g, "FACP");
	cr_assert_eq(r32(f + 4), 276, "revision 6 length");
	cr_assert_eq(f[8], 6, "revision");
	cr_assert_eq(r16(f + 46), IRQ_SCI, "SCI_INT");
	cr_assert_eq(r32(f + 48), 0, "SMI_CMD: ACPI always enabled");
	cr_assert_eq(r32(f + 56), PORT_PM1A_EVT, "PM1a_EVT_BLK");
	cr_assert_eq(r32(f + 64), PORT_PM1A_CNT, "PM1a_CNT_BLK");
	cr_assert_eq(f[88], 4, "PM1_EVT_LEN");
	cr_assert_eq(f[89], 2, "PM1_CNT_LEN");

	flags = r32(f + 112);
	cr_assert(flags & (1u << 10), "RESET_REG_SUP");
	cr_assert_eq(flags & (1u << 20), 0, "must not be HW_REDUCED_ACPI");
	cr_assert(r16(f + 109) & (1u << 1), "8042 present");
	cr_assert_eq(r16(f + 109) & (1u << 5), 0,
		     "CMOS RTC not present must be clear: mvm has one");

	/* RESET_REG: system I/O, 8 bits, at the reset port. */
	cr_assert_eq(f[116], 1);
	cr_assert_eq(f[117], 8);
	cr_assert_eq(r64(f + 120), PORT_RESET);
	cr_assert_eq(f[128], RESET_VALUE);

	/* X_PM1a blocks as GAS. */
	cr_assert_eq(f[148], 1);
	cr_assert_eq(f[149], 32);
	cr_assert_eq(r64(f + 152), PORT_PM1A_EVT);
	cr_assert_eq(f[172], 1);
	cr_assert_eq(f[173], 16);
	cr_assert_eq(r64(f + 176), PORT_PM1A_CNT);

	/* DSDT and FACS, through both the 32- and 64-bit fields. */
	cr_assert_eq(r32(f + 40), r64(f + 140));
	table_at(&g, r64(f + 140), "DSDT");
	cr_assert_eq(r32(f + 36), r64(f + 132));
	facs = g.ram + r64(f + 132);
	cr_assert_eq(r64(f + 132) % 64, 0, "FACS alignment");
	cr_assert_arr_eq(facs, "FACS", 4);
	cr_assert_eq(r32(facs + 4), 64);
	free(g.ram);
}

/* Walk the MADT's entries, checking each against the spec. */
static void check_madt(unsigned nr)
{
	struct acpi_guest g;
	const uint8_t *m, *e, *end;
	unsigned lapics = 0, ioapics = 0, nmis = 0;
	bool irq0 = false, sci = false;

	build(&g, nr);
	m = find(&g, "APIC");
	cr_assert_eq(r32(m + 36), LAYOUT_LAPIC);
	cr_assert_eq(r32(m + 40) & 1, 1, "PCAT_COMPAT");
	end = m + r32(m + 4);
	for (e = m + 44; e < end; e += e[1]) {
		cr_assert_geq(e[1], 2, "zero-length entry");
		cr_assert_leq(e + e[1], end, "entry runs past the table");
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], 8);
			cr_assert_eq(e[2], lapics, "UID");
			cr_assert_eq(e[3], lapics, "APIC ID");
			cr_assert_eq(r32(e + 4) & 1, 1, "enabled");
			lapics++;
			break;
		case 1:
			cr_assert_eq(e[1], 12);
			cr_assert_eq(e[2], nr, "IOAPIC id after the CPUs");
			cr_assert_eq(r32(e + 4), LAYOUT_IOAPIC);
			cr_assert_eq(r32(e + 8), 0, "GSI base");
			ioapics++;
			break;
		case 2:
			cr_assert_eq(e[1], 10);
			cr_assert_eq(e[2], 0, "ISA bus");
			if (e[3] == 0) {
				cr_assert_eq(r32(e + 4), 2, "IRQ0 -> GSI2");
				irq0 = true;
			} else if (e[3] == IRQ_SCI) {
				cr_assert_eq(r32(e + 4), IRQ_SCI);
				/* active high (01), level (11 << 2) */
				cr_assert_eq(r16(e + 8), 0x000d);
				sci = true;
			}
			break;
		case 4:
			cr_assert_eq(e[1], 6);
			cr_assert_eq(e[2], 0xff, "all processors");
			cr_assert_eq(e[5], 1, "LINT1");
			nmis++;
			break;
		default:
			cr_assert_fail("unexpected MADT entry type %u", e[0]);
		}
	}
	cr_assert_eq(e, end, "entries must fill the table exactly");
	cr_assert_eq(lapics, nr);
	cr_assert_eq(ioapics, 1);
	cr_assert_eq(nmis, 1);
	cr_assert(irq0 && sci, "missing interrupt source override");
	free(g.ram);
}

Test(acpi, madt_one_cpu)
{
	check_madt(1);
}

Test(acpi, madt_four_cpus)
{
	check_madt(4);
}

Test(acpi, madt_max_cpus)
{
	check_madt(254);
}

Test(acpi, dsdt_has_s5)
{
	const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
			       0x0a, ACPI_S5_SLP_TYP, 0x0a, ACPI_S5_SLP_TYP,
			       0x00, 0x00 };
	struct acpi_guest g;
	const uint8_t *f, *d;
	uint32_t len;
	bool found = false;

	build(&g, 1);
	f = find(&g, "FACP");
	d = table_at(&g, r64(f + 140), "DSDT");
	cr_assert_geq(d[8], 2, "DSDT revision 2: 64-bit integers");
	len = r32(d + 4);
	for (uint32_t i = 36; i + sizeof(s5) <= len; i++)
		found = found || memcmp(d + i, s5, sizeof(s5)) == 0;
	cr_assert(found, "Name(_S5, Package(){5, 5, 0, 0}) not in the DSDT");
	free(g.ram);
}

/* The pvpanic port as Linux's pvpanic-mmio finds it: _HID and an IO _CRS. */
Test(acpi, dsdt_has_pvpanic)
{
	const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0d, 'Q', 'E', 'M',
				'U', '0', '0', '0', '1', 0x00 };
	const uint8_t io[] = { 0x47, 0x01, PORT_PVPANIC & 0xff,
			       PORT_PVPANIC >> 8, PORT_PVPANIC & 0xff,
			       PORT_PVPANIC >> 8, 0x01, 0x01, 0x79, 0x00 };
	struct acpi_guest g;
	const uint8_t *f, *d;
	uint32_t len;
	bool found_hid = false, found_io = false;

	build(&g, 1);
	f = find(&g, "FACP");
	d = table_at(&g, r64(f + 140), "DSDT");
	len = r32(d + 4);
	for (uint32_t i = 36; i + sizeof(hid) <= len; i++)
		found_hid = found_hid || memcmp(d + i, hid, sizeof(hid)) == 0;
	for (uint32_t i = 36; i + sizeof(io) <= len; i++)
		found_io = found_io || memcmp(d + i, io, sizeof(io)) == 0;
	cr_assert(found_hid, "Name(_HID, \"QEMU0001\") not in the DSDT");
	cr_assert(found_io, "IO(Decode16, 0x505, 0x505, 1, 1) not in the DSDT");
	free(g.ram);
}

Test(acpi, rest_of_window_is_cleared)
{
	struct acpi_guest g;
	size_t zeros = 0;

	build(&g, 8);
	/* The tail of the window held 0xaa junk before the build. */
	for (uint64_t a = LAYOUT_ACPI_END - 4096; a < LAYOUT_ACPI_END; a++)
		zeros += g.ram[a] == 0;
	cr_assert_eq(zeros, 4096);
	cr_assert_eq(g.ram[LAYOUT_ACPI_END], 0xaa, "wrote past the window");
	cr_assert_eq(g.ram[LAYOUT_ACPI - 1], 0xaa, "wrote before the window");
	free(g.ram);
}

Test(acpi, bad_cpu_counts)
{
	struct acpi_config cfg = { .nr_cpus = 0 };
	struct guest_mem gm;
	struct mvm_err err;
	uint8_t *ram = calloc(1, RAM_SIZE);
	uint64_t rsdp = 0;

	memset(&gm, 0, sizeof(gm));
	gm_add_host(&gm, 0, ram, RAM_SIZE);
	cr_assert_eq(acpi_build(&gm, &cfg, &rsdp, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "acpi: 0 vCPUs; the MADT describes 1 to 254");
	cfg.nr_cpus = 255;
	cr_assert_eq(acpi_build(&gm, &cfg, &rsdp, &err), -EINVAL);
	cr_assert_str_eq(err.msg,
			 "acpi: 255 vCPUs; the MADT describes 1 to 254");
	free(ram);
}

Test(acpi, needs_ram_under_the_window)
{
	struct acpi_config cfg = { .nr_cpus = 1 };
	struct guest_mem gm;
	struct mvm_err err;
	uint8_t *ram = calloc(1, 0x80000);
	uint64_t rsdp = 0;

	memset(&gm, 0, sizeof(gm));
	gm_add_host(&gm, 0, ram, 0x80000); /* 512 KiB: stops before 0xe0000 */
	cr_assert_eq(acpi_build(&gm, &cfg, &rsdp, &err), -EFAULT);
	cr_assert(strstr(err.msg, "acpi: guest RAM does not cover"), "%s",
		  err.msg);
	free(ram);
}

Test(acpi, mcfg_points_at_ecam)
{
	struct acpi_guest g;
	const uint8_t *m;

	build(&g, 1);
	m = find(&g, "MCFG");
	cr_assert_eq(r32(m + 4), 60, "one allocation");
	cr_assert_eq(r64(m + 44), LAYOUT_PCI_ECAM);
	cr_assert_eq(r16(m + 52), 0, "segment");
	cr_assert_eq(m[54], 0, "start bus");
	cr_assert_eq(m[55], LAYOUT_PCI_ECAM_BUSES - 1, "end bus");
	free(g.ram);
}

static const uint8_t *search(const uint8_t *hay, size_t n, const void *needle,
			     size_t len)
{
	const uint8_t *p = memmem(hay, n, needle, len);

	cr_assert_not_null(p, "pattern not in the DSDT");
	return p;
}

Test(acpi, dsdt_has_the_pci_host_bridge)
{
	/* DWordConst EISAID("PNP0A08"), ("PNP0A03"), ("PNP0C02"). */
	static const uint8_t pcie[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t pci[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };
	static const uint8_t mb[] = { 0x0c, 0x41, 0xd0, 0x0c, 0x02 };
	/* DWord/QWord memory descriptors: tag, length, type memory. */
	static const uint8_t dword_mem[] = { 0x87, 0x17, 0x00, 0x00 };
	static const uint8_t qword_mem[] = { 0x8a, 0x2b, 0x00, 0x00 };
	struct acpi_guest g;
	const uint8_t *f, *d, *p;
	size_t n;

	build(&g, 1);
	f = find(&g, "FACP");
	d = table_at(&g, r64(f + 140), "DSDT");
	n = r32(d + 4);
	search(d, n, "PCI0", 4);
	search(d, n, pcie, sizeof(pcie));
	search(d, n, pci, sizeof(pci));
	search(d, n, mb, sizeof(mb));
	/* The bridge's 32-bit window, then ECAM held by PNP0C02. */
	p = search(d, n, dword_mem, sizeof(dword_mem));
	cr_assert_eq(r32(p + 10), LAYOUT_PCI_MMIO32, "window min");
	cr_assert_eq(r32(p + 22), LAYOUT_PCI_MMIO32_SIZE, "window length");
	p = search(p + 1, n - (size_t)(p + 1 - d), dword_mem,
		   sizeof(dword_mem));
	cr_assert_eq(r32(p + 10), LAYOUT_PCI_ECAM, "ECAM min");
	cr_assert_eq(r32(p + 22), LAYOUT_PCI_ECAM_SIZE, "ECAM length");
	p = search(d, n, qword_mem, sizeof(qword_mem));
	cr_assert_eq(r64(p + 14), LAYOUT_PCI_MMIO64, "64-bit window min");
	cr_assert_eq(r64(p + 38), LAYOUT_PCI_MMIO64_SIZE, "64-bit length");
	free(g.ram);
}
