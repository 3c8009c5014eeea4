/* The boot CPU's local APIC: its ID, EOI, and IPIs to start other CPUs. */
#ifndef GUEST_LAPIC_H
#define GUEST_LAPIC_H

#include "types.h"

#define LAPIC_DEFAULT_BASE 0xfee00000u

/* Reads IA32_APIC_BASE and software-enables the APIC. Call first. */
void lapic_init(void);
uint64_t lapic_base(void);
bool lapic_x2apic_mode(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
/* Returns false when the ICR stayed busy (delivery status never cleared). */
bool lapic_send_init(uint32_t apic_id);
bool lapic_send_sipi(uint32_t apic_id, uint8_t vector);
/*
 * The LAPIC timer at divide-by-16: its counts per millisecond, measured
 * against the PIT over 10 ms (0 when it did not count). Ring 0.
 */
uint32_t lapic_timer_per_ms(void);
/* Periodic interrupts on vector every count timer counts; 0 stops it. */
void lapic_timer_periodic(uint8_t vector, uint32_t count);

#endif
