/*
 * CPUID as the VMM filters it: hypervisor bit, signature leaf, and APIC IDs
 * that agree with the local APIC.
 */
#include "../lib/cmdline.h"
#include "../lib/cpuid.h"
#include "../lib/lapic.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "checks.h"

void check_cpuid(const struct bootinfo *bi)
{
	char sig[13], want[16];
	uint32_t hv_max;
	struct cpuid_topo topo;
	uint32_t apic = lapic_id(), cpuid_apic = cpuid_initial_apic_id();
	uint64_t cpus = 0;

	cpuid_hv_signature(sig, &hv_max);
	cpuid_topology(&topo);
	for (int i = 0; i < 12; i++)
		if (sig[i] < 0x20 || sig[i] > 0x7e)
			sig[i] = sig[i] ? '?' : '\0';
	kprintf("cpuid: max leaf 0x%x, hv '%s' max 0x%x, apic %u (lapic %u%s)\n",
		cpuid_max_leaf(), sig, hv_max, cpuid_apic, apic,
		lapic_x2apic_mode() ? ", x2apic" : "");

	if (check_enabled(bi, "cpuid-hv"))
		check("cpuid-hv", cpuid_hypervisor_bit(),
		      "CPUID.1:ECX[31] (hypervisor) clear");

	if (check_enabled(bi, "cpuid-sig")) {
		if (cmdline_str(bi->cmdline, "hvsig", want, sizeof(want)) != 1)
			memcpy(want, "KVMKVMKVM", 10);
		check("cpuid-sig", strcmp(sig, want) == 0,
		      "signature '%s', want '%s'", sig, want);
	}

	if (check_enabled(bi, "cpuid-apicid")) {
		if (cpuid_apic != (apic & 0xff))
			fail("cpuid-apicid", "CPUID.1 says %u, LAPIC says %u",
			     cpuid_apic, apic);
		else if (topo.present && topo.x2apic_id != apic)
			fail("cpuid-apicid", "leaf 0xB says %u, LAPIC says %u",
			     topo.x2apic_id, apic);
		else
			pass("cpuid-apicid");
	}

	if (!check_enabled(bi, "cpuid-topo"))
		return;
	if (!topo.present) {
		kprintf("cpuid: no leaf 0xB\n");
		pass("cpuid-topo");
		return;
	}
	kprintf("cpuid: leaf 0xB %d level(s), %u logical, shift %u\n",
		topo.levels, topo.count, topo.shift);
	/*
	 * The widest level must hold every vCPU, and its APIC ID field must be
	 * wide enough for all of them.
	 */
	if (cmdline_u64(bi->cmdline, "cpus", &cpus) == 1 &&
	    (topo.count < cpus || (1ULL << topo.shift) < cpus))
		fail("cpuid-topo", "leaf 0xB: %u logical, shift %u for %llu cpus",
		     topo.count, topo.shift, (unsigned long long)cpus);
	else
		pass("cpuid-topo");
}
