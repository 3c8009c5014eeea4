/* The allow-lists and the test-only hook of sandbox.c. */
#ifndef MVM_SANDBOX_RULES_H
#define MVM_SANDBOX_RULES_H

#include "mvm/sandbox.h"

/* Per kind, a NULL-terminated list of system call names. */
extern const char *const *const sandbox_rules[SANDBOX_KINDS];

/*
 * Test builds only (-Dtests=true): the kind named by the environment
 * variable MVM_TEST_SECCOMP_VIOLATE (main, vcpu, teardown), or -1. Other
 * builds always return -1.
 */
int sandbox_test_kind(void);

/* Make a call no list allows, as a bug would. */
void sandbox_test_violate(void);

#endif
