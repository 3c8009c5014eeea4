/*
 * ACPI tables: the RSDP and every table check out, the FADT has the power
 * and reset registers, the DSDT has \_S5, and the MADT lists the vCPUs.
 */
#include "../lib/cmdline.h"
#include "../lib/lapic.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "checks.h"

/*
 * The reset control register: the value must set SYS_RST (bit 1) and
 * RST_CPU (bit 2). mvm writes 6; QEMU's q35 uses 0xf (adds a full reset).
 */
#define RESET_PORT 0xcf9
#define RESET_BITS 6

static void sig_str(const struct acpi_sdt *t, char out[5])
{
	memcpy(out, t->sig, 4);
	out[4] = '\0';
}

/* Every table the root lists is reachable, sized and summed right. */
static bool tables_ok(const struct acpi *a)
{
	char sig[5];

	for (int i = 0; i < a->ntables; i++) {
		uint64_t pa = acpi_entry(a, i);
		const struct acpi_sdt *t = phys_ptr(pa);
		if (!phys_reachable(pa, sizeof(*t)) || t->length < sizeof(*t) ||
		    !phys_reachable(pa, t->length)) {
			fail("acpi", "table %d at 0x%llx unreachable or too short",
			     i, (unsigned long long)pa);
			return false;
		}
		sig_str(t, sig);
		kprintf("acpi: %s at 0x%llx, %u bytes\n", sig,
			(unsigned long long)pa, t->length);
		if (acpi_sum(t, t->length) != 0) {
			fail("acpi", "%s checksum bad", sig);
			return false;
		}
	}
	return true;
}

static void check_fadt(const struct bootinfo *bi, const struct acpi_sdt *fadt)
{
	struct acpi_gas reset;
	uint8_t reset_val;
	uint32_t pm1a = acpi_fadt_pm1a_cnt(fadt);
	bool has_reset = acpi_fadt_reset(fadt, &reset, &reset_val);

	kprintf("fadt: rev %u, PM1a_CNT 0x%x", fadt->revision, pm1a);
	if (has_reset)
		kprintf(", RESET_REG space %u addr 0x%llx value 0x%x",
			reset.space, (unsigned long long)reset.address,
			reset_val);
	kprintf("\n");
	if (!check_enabled(bi, "acpi-fadt"))
		return;
	if (!pm1a)
		fail("acpi-fadt", "no PM1a control block");
	else if (has_reset && (reset.space != ACPI_GAS_IO ||
			       reset.address != RESET_PORT ||
			       (reset_val & RESET_BITS) != RESET_BITS))
		fail("acpi-fadt", "RESET_REG is not I/O port 0x%x with bits 0x%x",
		     RESET_PORT, RESET_BITS);
	else
		pass("acpi-fadt");
}

static void check_s5(const struct bootinfo *bi, const struct acpi_sdt *fadt)
{
	const struct acpi_sdt *dsdt = acpi_dsdt(fadt);
	uint8_t a, b;

	if (!check_enabled(bi, "acpi-s5"))
		return;
	if (!dsdt) {
		fail("acpi-s5", "the FADT points to no DSDT");
		return;
	}
	kprintf("dsdt: 0x%llx, %u bytes\n", (unsigned long long)(uintptr_t)dsdt,
		dsdt->length);
	if (acpi_sum(dsdt, dsdt->length) != 0)
		fail("acpi-s5", "DSDT checksum bad");
	else if (!acpi_dsdt_s5(dsdt, &a, &b))
		fail("acpi-s5", "no \\_S5 package in the DSDT");
	else {
		kprintf("dsdt: \\_S5 SLP_TYPa %u SLP_TYPb %u\n", a, b);
		pass("acpi-s5");
	}
}

static void check_madt(const struct bootinfo *bi, const struct acpi_sdt *madt,
		       struct acpi_found *found)
{
	struct acpi_lapic l[MAX_CPUS];
	int n = acpi_madt_lapics(madt, l, MAX_CPUS);
	uint32_t ioapic = 0, self = lapic_id();
	bool has_ioapic = acpi_madt_ioapic(madt, &ioapic);
	bool self_listed = false;
	uint64_t cpus;

	found->ncpus = 0;
	for (int i = 0; i < n && i < MAX_CPUS; i++) {
		if (!l[i].enabled)
			continue;
		for (int j = 0; j < found->ncpus; j++) {
			if (found->apic_ids[j] == l[i].apic_id) {
				fail("madt", "APIC ID %u listed twice",
				     l[i].apic_id);
				return;
			}
		}
		self_listed |= l[i].apic_id == self;
		found->apic_ids[found->ncpus++] = l[i].apic_id;
	}
	kprintf("madt: %d LAPIC(s), %d enabled, IOAPIC 0x%x\n", n, found->ncpus,
		ioapic);
	found->madt_ok = true;
	if (!check_enabled(bi, "madt"))
		return;
	if (n > MAX_CPUS)
		fail("madt", "%d LAPICs, more than %d", n, MAX_CPUS);
	else if (cmdline_u64(bi->cmdline, "cpus", &cpus) == 1 &&
		 (uint64_t)found->ncpus != cpus)
		fail("madt", "%d enabled LAPICs, want %llu", found->ncpus,
		     (unsigned long long)cpus);
	else if (!self_listed)
		fail("madt", "boot CPU's APIC ID %u not listed", self);
	else if (!has_ioapic)
		fail("madt", "no IOAPIC");
	else
		pass("madt");
}

void check_acpi(const struct bootinfo *bi, struct acpi_found *found)
{
	struct acpi a;
	char why[80];

	found->madt_ok = false;
	if (!check_enabled(bi, "acpi"))
		return;
	if (!acpi_open(&a, bi->rsdp, why, sizeof(why))) {
		fail("acpi", "%s", why);
		return;
	}
	kprintf("acpi: RSDP 0x%llx (%s) rev %u, %s with %d tables\n",
		(unsigned long long)a.rsdp_pa, bi->rsdp ? "given" : "found",
		a.rsdp->revision, a.xsdt ? "XSDT" : "RSDT", a.ntables);
	if (!tables_ok(&a))
		return;
	const struct acpi_sdt *fadt = acpi_find(&a, "FACP");
	const struct acpi_sdt *madt = acpi_find(&a, "APIC");
	if (!fadt || !madt) {
		fail("acpi", "no %s", fadt ? "MADT" : "FADT");
		return;
	}
	pass("acpi");
	check_fadt(bi, fadt);
	check_s5(bi, fadt);
	check_madt(bi, madt, found);
}
