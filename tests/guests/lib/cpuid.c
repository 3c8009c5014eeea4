#include "cpuid.h"

#include "string.h"

void cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *r)
{
	__asm__ volatile("cpuid"
			 : "=a"(r->eax), "=b"(r->ebx), "=c"(r->ecx), "=d"(r->edx)
			 : "a"(leaf), "c"(subleaf));
}

uint32_t cpuid_max_leaf(void)
{
	struct cpuid_regs r;

	cpuid(0, 0, &r);
	return r.eax;
}

bool cpuid_hypervisor_bit(void)
{
	struct cpuid_regs r;

	cpuid(1, 0, &r);
	return r.ecx & (1u << 31);
}

void cpuid_hv_signature(char sig[13], uint32_t *max_leaf)
{
	struct cpuid_regs r;

	cpuid(0x40000000, 0, &r);
	memcpy(sig, &r.ebx, 4);
	memcpy(sig + 4, &r.ecx, 4);
	memcpy(sig + 8, &r.edx, 4);
	sig[12] = '\0';
	*max_leaf = r.eax;
}

uint32_t cpuid_initial_apic_id(void)
{
	struct cpuid_regs r;

	cpuid(1, 0, &r);
	return r.ebx >> 24;
}

void cpuid_topology(struct cpuid_topo *t)
{
	struct cpuid_regs r;

	memset(t, 0, sizeof(*t));
	if (cpuid_max_leaf() < 0xb)
		return;
	/* Level type in ECX[15:8]; 0 ends the list. Cap it against garbage. */
	for (uint32_t sub = 0; sub < 8; sub++) {
		cpuid(0xb, sub, &r);
		if (((r.ecx >> 8) & 0xff) == 0)
			break;
		t->present = true;
		t->levels++;
		t->x2apic_id = r.edx;
		t->count = r.ebx & 0xffff;
		t->shift = r.eax & 0x1f;
	}
}
