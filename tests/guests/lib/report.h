/*
 * The guests' output protocol, which the host tests parse:
 *   "PASS <name>"          a check passed
 *   "FAIL <name>: <why>"   a check failed
 *   "ALL OK"               every check passed; then exit code 0 is written
 * The exit code goes to the isa-debug-exit port, so the VMM process exits
 * with (code << 1) | 1: 1 when all passed, 3 when something failed.
 */
#ifndef GUEST_REPORT_H
#define GUEST_REPORT_H

#include "types.h"

#define PORT_DEBUG_EXIT 0xf4
#define EXIT_CODE_OK 0
#define EXIT_CODE_FAIL 1

void pass(const char *name);
void fail(const char *name, const char *why, ...) PRINTF_LIKE(2, 3);
/* pass(name) when ok, else fail(name, why...). Returns ok. */
bool check(const char *name, bool ok, const char *why, ...) PRINTF_LIKE(3, 4);
int report_failures(void);
/* Prints "ALL OK" (or the failure count) and exits through the debug port. */
NORETURN void report_finish(void);
/* Writes code to the debug-exit port; halts if the machine keeps running. */
NORETURN void debug_exit(uint8_t code);

#endif
