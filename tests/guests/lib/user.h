/*
 * Ring 3 for a test kernel's hot loops. Some hosts (a software KVM)
 * emulate guest ring 0 instruction by instruction but run 64-bit ring 3
 * natively, so a benchmark whose loop runs in ring 0 measures the
 * emulator, not the VMM. user_run() sets up a flat 64-bit ring 3 that can
 * still do everything the loops need: all of the low 4 GiB identity-mapped
 * and user-accessible (RAM and device BARs), IOPL 3 for port I/O (the UART,
 * the PIT, the debug-exit port), interrupts off. A host that ignores the
 * guest's IOPL raises #GP on port I/O instead; the trap handler then does
 * the access in ring 0, so keep ports out of timed loops. It never comes
 * back to ring 0 otherwise: the function runs to its end, then
 * report_finish() ends the machine from ring 3 as well.
 */
#ifndef GUEST_USER_H
#define GUEST_USER_H

#include "bootinfo.h"

/* Can this kernel (64-bit builds only) enter ring 3? */
bool user_available(void);

/*
 * Calls fn(arg) in ring 3 and then report_finish(). Where ring 3 is not
 * available, or the command line says ring3=0, both run in ring 0 instead.
 * Exceptions in ring 3 are reported as failures and end the machine.
 */
NORETURN void user_run(const struct bootinfo *bi, void (*fn)(void *),
		       void *arg);

/* Are we in ring 3 now? */
bool user_mode(void);

/*
 * A periodic tick every us microseconds for user_idle(): the LAPIC timer,
 * calibrated against the PIT (about 10 ms). Call in ring 0, before
 * user_run(). False when the timer did not count or us is out of range.
 */
bool user_tick_start(uint32_t us);
/*
 * Waits for the next tick: from ring 3, hlt, which traps to ring 0 where
 * the wait runs with interrupts on for just that long (an idle guest
 * costs its host nothing between ticks). In ring 0 (ring3=0, the 32-bit
 * kernels: no IDT), a PIT delay of one tick instead. Without a tick, one
 * pause.
 */
void user_idle(void);

#endif
