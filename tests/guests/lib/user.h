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

#endif
