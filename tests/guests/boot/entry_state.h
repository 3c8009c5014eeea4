/* Checks of the CPU state a boot protocol promises at the kernel's entry. */
#ifndef GUEST_ENTRY_STATE_H
#define GUEST_ENTRY_STATE_H

#include "../lib/types.h"

#define CR0_PE (1u << 0)
#define CR0_PG (1u << 31)
#define EFLAGS_IF (1u << 9)
#define EFLAGS_VM (1u << 17)

/*
 * 32-bit protected mode, paging off, interrupts off: what multiboot and PVH
 * promise. Prints "PASS entry" or "FAIL entry: ...".
 */
bool entry_check_prot32(uint32_t eflags, uint32_t cr0);

#endif
