/*
 * Nested guests' networking through mvm's user-mode NAT, in the lab
 * (tests/lab/nested-nat): L3 (a tiny kernel under mvm in L2) gets DHCP
 * from L2's mvm and reaches a UDP service on L1 through L2's and L1's
 * NATs, no NIC with mac_spoofing. The lab boots once, in main(); each
 * test asserts its checks by name, so one that silently stopped running
 * fails too. If the lab cannot run, every test fails saying NOT RUN and
 * why.
 *
 * Environment (set by meson): MVM_BIN, MVM_BUILD_DIR, MVM_LAB_NESTED_NAT
 * (the tests/lab/nested-nat script), MVM_LAB ("disabled": nothing runs,
 * every test says so and skips). MVM_LAB_TIMEOUT=SECONDS replaces the lab's budget.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_checks.h"
#include "lab_once.h"

static const struct lab_suite suite = {
	.prog = "test_lab_nested_nat",
	.name = "lab_nested_nat",
	.script = "tests/lab/nested-nat",
	.script_env = "MVM_LAB_NESTED_NAT",
	.log_env = "MVM_LAB_NESTED_NAT_LOG", /* main() names its log here */
	.subject = "nested guests through user-mode NAT",
};

static void run_lab(void)
{
	lab_checks_run(&suite);
}

int main(int argc, char **argv)
{
	return lab_once_main(argc, argv, suite.prog, suite.log_env, run_lab);
}

Test(lab_nested_nat, the_lab_ran_every_check)
{
	lab_checks_finished(&suite);
}

Test(lab_nested_nat, l3_reaches_l1_through_l2s_nat)
{
	static const char *const want[] = {
		"L2 got 10.0.2.15/24 from L1's mvm NAT",
		"L2 has /dev/kvm (--nested on)",
		"L3: DHCP OFFER from L2's mvm NAT",
		"L3: ARP reply for its gateway",
		"L3 reached 192.168.77.1:7000 on L1 through both NATs, and back",
		"L1's service heard the ping (from L1's own address: NAT)",
		"no NIC dropped a frame for its source MAC (mac_spoofing off)",
		"L3 ended ALL OK; L2 and L1's mvm exited 0",
	};

	LAB_EXPECT(&suite, "nested NAT", want);
}
