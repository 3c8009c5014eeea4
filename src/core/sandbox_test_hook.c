/*
 * The one way to make mvm break its own seccomp filters on purpose, for the
 * integration test that proves each kind's filter is in force and reported.
 * Compiled in only when the tests are (-Dtests=true); a build made with
 * -Dtests=false ignores the variable.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_rules.h"

int sandbox_test_kind(void)
{
#ifdef MVM_TEST_HOOKS
	static const char *const names[SANDBOX_KINDS] = {
		[SANDBOX_MAIN] = "main",
		[SANDBOX_VCPU] = "vcpu",
		[SANDBOX_TEARDOWN] = "teardown",
	};
	const char *want = getenv("MVM_TEST_SECCOMP_VIOLATE");

	for (int k = 0; want && k < SANDBOX_KINDS; k++)
		if (!strcmp(want, names[k]))
			return k;
#endif
	return -1;
}

void sandbox_test_violate(void)
{
	/*
	 * personality(0xffffffff) only reads the current persona: harmless
	 * should it ever be allowed (--no-seccomp), and no list allows it.
	 */
	syscall(SYS_personality, 0xffffffffUL);
}
