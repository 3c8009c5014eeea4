/*
 * The allow-lists, the programs compiled from them when mvm is built
 * (sandbox_gen.c writes sandbox_progs.c), and the test-only hook of
 * sandbox.c.
 */
#ifndef MVM_SANDBOX_RULES_H
#define MVM_SANDBOX_RULES_H

#include <linux/filter.h>

#include "mvm/sandbox.h"

/* Per kind, a NULL-terminated list of system call names. */
extern const char *const *const sandbox_rules[SANDBOX_KINDS];

/* Above every x86-64 system call number. */
#define SANDBOX_NAMES_MAX 512

/*
 * The pid the teardown program's kill rule is compiled against: above any
 * pid_max, so it is no process's. sandbox.c puts mvm's pid in its place.
 */
#define SANDBOX_PID_PLACEHOLDER 0x7e5eed01u

/* Per kind, the BPF program compiled from its list (read only). */
extern const struct sock_fprog sandbox_progs[SANDBOX_KINDS];
/* Which instruction of the teardown program holds the placeholder. */
extern const unsigned sandbox_teardown_pid_at;
/* Every system call number's name, NULL where none. */
extern const char *const sandbox_call_names[SANDBOX_NAMES_MAX];

/*
 * Test builds only (-Dtests=true): the kind named by the environment
 * variable MVM_TEST_SECCOMP_VIOLATE (main, vcpu, teardown), or -1. Other
 * builds always return -1.
 */
int sandbox_test_kind(void);

/* Make a call no list allows, as a bug would. */
void sandbox_test_violate(void);

#endif
