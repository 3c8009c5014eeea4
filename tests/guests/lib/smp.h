/*
 * Starting the application processors: INIT, SIPI, SIPI to each, into a
 * real-mode trampoline copied to a fixed page below 1 MiB. Each AP goes to
 * 32-bit protected mode, takes a slot with an atomic add, records its
 * LAPIC ID and CPUID initial APIC ID, counts itself in, and halts for good.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

/*
 * 0x18000: in the 0x10000-0x1FFFF window no VMM boot structure uses, and
 * clear of the bzImage setup code and zero page at 0x10000-0x11FFF.
 */
#define AP_TRAMPOLINE 0x18000
#define AP_SLOTS_MAX 64
/* Data area within the trampoline page, after the code. */
#define AP_OFF_NEXT 0x800  /* u32: next free slot, taken with lock xadd */
#define AP_OFF_DONE 0x804  /* u32: APs that finished writing their slot */
#define AP_OFF_SLOTS 0x810 /* AP_SLOTS_MAX x {u32 lapic_id, u32 cpuid_id} */

#ifndef __ASSEMBLER__
#include "types.h"

struct ap_slot {
	uint32_t lapic_id; /* from the LAPIC ID register */
	uint32_t cpuid_id; /* CPUID.1:EBX[31:24] on that CPU */
};

struct smp_result {
	int expected; /* APs sent INIT/SIPI */
	int arrived;  /* APs that checked in before the timeout */
	struct ap_slot slots[AP_SLOTS_MAX];
	uint32_t elapsed_polls;
};

/*
 * Starts the CPUs with these APIC IDs (the boot CPU's own ID is skipped)
 * and waits up to timeout_ms for all of them.
 */
void smp_start_aps(const uint32_t *apic_ids, int n, uint32_t timeout_ms,
		   struct smp_result *res);
#endif

#endif
