/*
 * Every vCPU the MADT lists starts on INIT-SIPI-SIPI and reports the APIC
 * ID it was given, in its LAPIC and in its own CPUID.
 */
#include "../lib/cmdline.h"
#include "../lib/lapic.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/smp.h"
#include "checks.h"

#define DEFAULT_AP_TIMEOUT_MS 2000

static bool listed(const struct acpi_found *f, uint32_t id)
{
	for (int i = 0; i < f->ncpus; i++)
		if (f->apic_ids[i] == id)
			return true;
	return false;
}

void check_smp(const struct bootinfo *bi, const struct acpi_found *found)
{
	static struct smp_result res;
	uint32_t self = lapic_id();

	if (!check_enabled(bi, "smp"))
		return;
	if (!found->madt_ok) {
		fail("smp", "no usable MADT");
		return;
	}
	uint32_t timeout = (uint32_t)cmdline_u64_or(bi->cmdline, "aptimeout",
						    DEFAULT_AP_TIMEOUT_MS);
	smp_start_aps(found->apic_ids, found->ncpus, timeout, &res);
	kprintf("smp: %d of %d AP(s) checked in\n", res.arrived, res.expected);
	for (int i = 0; i < res.arrived && i < AP_SLOTS_MAX; i++)
		kprintf("smp: AP lapic %u cpuid %u\n", res.slots[i].lapic_id,
			res.slots[i].cpuid_id);
	if (res.arrived != res.expected) {
		fail("smp", "%d of %d APs checked in", res.arrived,
		     res.expected);
		return;
	}
	for (int i = 0; i < res.arrived; i++) {
		const struct ap_slot *s = &res.slots[i];
		if (s->lapic_id == self || !listed(found, s->lapic_id)) {
			fail("smp", "AP reports APIC ID %u, not an AP in the MADT",
			     s->lapic_id);
			return;
		}
		if (s->cpuid_id != s->lapic_id) {
			fail("smp", "AP with APIC ID %u has CPUID APIC ID %u",
			     s->lapic_id, s->cpuid_id);
			return;
		}
		for (int j = 0; j < i; j++) {
			if (res.slots[j].lapic_id == s->lapic_id) {
				fail("smp", "two APs report APIC ID %u",
				     s->lapic_id);
				return;
			}
		}
	}
	pass("smp");
}
