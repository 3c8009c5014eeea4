/* CPUID helpers: the leaves the VMM is supposed to filter per vCPU. */
#ifndef GUEST_CPUID_H
#define GUEST_CPUID_H

#include "types.h"

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

void cpuid(uint32_t leaf, uint32_t subleaf, struct cpuid_regs *r);
uint32_t cpuid_max_leaf(void);
/* CPUID.1:ECX[31], set by hypervisors. */
bool cpuid_hypervisor_bit(void);
/* Leaf 0x40000000: the 12-character signature (NUL-terminated) and max leaf. */
void cpuid_hv_signature(char sig[13], uint32_t *max_leaf);
/* CPUID.1:EBX[31:24], the initial APIC ID. */
uint32_t cpuid_initial_apic_id(void);

/* What leaf 0xB says about this CPU. */
struct cpuid_topo {
	bool present;       /* max leaf >= 0xB and subleaf 0 is valid */
	uint32_t x2apic_id; /* EDX */
	int levels;         /* valid subleaves */
	uint32_t count;     /* EBX[15:0] at the last (widest) level */
	uint32_t shift;     /* EAX[4:0] at the last level */
};
void cpuid_topology(struct cpuid_topo *t);

#endif
