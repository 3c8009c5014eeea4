/*
 * mvm's user-mode NAT (--net user) under the default guest's real Linux,
 * in the lab (tests/lab/nat): DHCP by the guest's /init, HTTP out through
 * the NAT to a server on the lab's loopback, and a hostfwd in. The lab
 * boots once, in main(); each test asserts its checks by name, so one that
 * silently stopped running fails too. If the lab cannot run, every test
 * fails saying NOT RUN and why.
 *
 * Environment (set by meson): MVM_BIN, MVM_BUILD_DIR, MVM_LAB_NAT (the
 * tests/lab/nat script), MVM_LAB ("disabled": nothing runs, every test
 * says so and skips). MVM_LAB_TIMEOUT=SECONDS replaces the lab's budget.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_checks.h"
#include "lab_once.h"

static const struct lab_suite suite = {
	.prog = "test_lab_nat",
	.name = "lab_nat",
	.script = "tests/lab/nat",
	.script_env = "MVM_LAB_NAT",
	.log_env = "MVM_LAB_NAT_LOG", /* main() names its log here */
	.subject = "user-mode NAT",
};

static void run_lab(void)
{
	lab_checks_run(&suite);
}

int main(int argc, char **argv)
{
	return lab_once_main(argc, argv, suite.prog, suite.log_env, run_lab);
}

Test(lab_nat, the_lab_ran_every_check)
{
	lab_checks_finished(&suite);
}

Test(lab_nat, dhcp_gives_qemus_addresses)
{
	static const char *const want[] = {
		"dhcp: eth0 got 10.0.2.15/24 from mvm's NAT",
		"dhcp: the default route is via 10.0.2.2",
		"dhcp: the name server is 10.0.2.3",
	};

	LAB_EXPECT(&suite, "DHCP", want);
}

Test(lab_nat, http_out_to_the_labs_loopback)
{
	static const char *const want[] = {
		"out: L2 fetched the lab's loopback server through the NAT",
		"out: 1 MiB, checksum matches",
	};

	LAB_EXPECT(&suite, "NAT out", want);
}

Test(lab_nat, hostfwd_in_to_the_guests_server)
{
	static const char *const want[] = {
		"hostfwd: the lab fetched L2's page through 127.0.0.1:8080",
		"L2 ended cleanly; mvm exited 0",
	};

	LAB_EXPECT(&suite, "hostfwd", want);
}

Test(lab_nat, the_guest_takes_the_large_mtu)
{
	static const char *const want[] = {
		"mtu: eth0 took the NIC's MTU, 9000 (VIRTIO_NET_F_MTU)",
	};

	LAB_EXPECT(&suite, "MTU", want);
}

Test(lab_nat, mmds_on_a_user_nic)
{
	static const char *const want[] = {
		"mmds: a GET without a token is 401 on a user NIC",
		"mmds: wget reads a string with a token on a user NIC",
		"mmds: the held connection gets its own answer",
	};

	LAB_EXPECT(&suite, "MMDS", want);
}
