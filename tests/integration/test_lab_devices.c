/*
 * mvm's virtio devices under real Linux drivers. The host running the
 * tests may have a KVM that cannot run stock kernels, so the default guest
 * runs under mvm inside the lab (tests/lab), which has a real one:
 * tests/lab/devices boots the lab once and runs devices.lab.sh there,
 * which prints one "ok - ..." or "not ok - ..." line per check. It boots
 * once, in main() before criterion starts the tests (as test_lab_linux.c
 * does), and each test then asserts its part of the checks by name, so a
 * check that silently stopped running fails too. MMDS's are busybox wget
 * in L2 against V1 and V2. If the lab cannot run, every test fails saying
 * NOT RUN and why.
 *
 * Environment (set by meson): MVM_BIN, MVM_BUILD_DIR, MVM_LAB_DEVICES (the
 * tests/lab/devices script), MVM_LAB ("disabled" when the build was
 * configured with -Dlab=disabled: nothing runs, every test says so and
 * skips). MVM_LAB_TIMEOUT=SECONDS replaces the lab's time budget (900 s)
 * on a host too busy for it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_checks.h"
#include "lab_once.h"

static const struct lab_suite suite = {
	.prog = "test_lab_devices",
	.name = "lab_devices",
	.script = "tests/lab/devices",
	.script_env = "MVM_LAB_DEVICES",
	.log_env = "MVM_LAB_DEVICES_LOG", /* main() names its log here */
	.subject = "real Linux drivers",
};

static void run_lab(void)
{
	lab_checks_run(&suite);
}

int main(int argc, char **argv)
{
	return lab_once_main(argc, argv, suite.prog, suite.log_env, run_lab);
}

Test(lab_devices, the_lab_ran_every_check)
{
	lab_checks_finished(&suite);
}

Test(lab_devices, disks_keep_their_files_across_a_reboot)
{
	static const char *const want[] = {
		"L2 booted with the disks, NICs, rng and vsock attached",
		"L2 sees vda, vdb, vdc, vdd and vde",
		"vda and vdb are 64 MiB and writable",
		"vda: mkfs.ext2 and mount",
		"vdb: mkfs.ext2 and mount",
		"vda and vdb: files written (checksums printed)",
		"sync returned",
		"mvm restarted L2 after its reboot (--on-reboot restart)",
		"vda mounts again after the reboot",
		"vdb mounts again after the reboot",
		"vda's file after the reboot: checksum matches",
		"vdb's file after the reboot: checksum matches",
		"L2's second boot ended cleanly; mvm exited 0",
		"vda's image, mounted in the lab: the file's checksum matches",
		"vdb's image, mounted in the lab: the file's checksum matches",
	};

	LAB_EXPECT(&suite, "disks", want);
}

Test(lab_devices, a_readonly_disk_mounts_read_only)
{
	static const char *const want[] = {
		"the lab made the read-only disk's filesystem (loop mount)",
		"vdc (readonly=on) is a read-only disk",
		"vdc mounts read-only",
		"vdc's file reads back as the lab wrote it",
		"vdc: writing a file fails",
		"vdc: writing the block device fails",
		"vdc's image is unchanged",
	};

	LAB_EXPECT(&suite, "read-only disk", want);
}

Test(lab_devices, net_pings_fetches_100_mib_sends_16_back)
{
	static const char *const want[] = {
		"eth0 is up",
		"eth0 has its address",
		"L2 pings the lab's end of the tap",
		"100 MiB from the lab to L2: all bytes",
		"100 MiB from the lab to L2: checksum matches",
		"16 MiB from L2 to the lab: all bytes",
		"16 MiB from L2 to the lab: checksum matches",
	};

	LAB_EXPECT(&suite, "network", want);
}

Test(lab_devices, a_macvlan_gets_out_only_with_mac_spoofing_on)
{
	static const char *const want[] = {
		"macvlan with its own MAC behind mac_spoofing=off: no ping",
		"macvlan with its own MAC behind mac_spoofing=on: ping",
		"mac_spoofing=off: the NIC's own MAC still gets through",
		"mac_spoofing=off: the lab never heard from the macvlan's MAC",
		"mac_spoofing=on: the lab heard from the macvlan's MAC on its "
		"tap",
		"mac_spoofing=off: mvm says it dropped the macvlan's frames",
		"mac_spoofing=on: mvm dropped nothing",
	};

	LAB_EXPECT(&suite, "mac spoofing", want);
}

Test(lab_devices, hwrng_gives_data)
{
	static const char *const want[] = {
		"hwrng: virtio_rng is the current source",
		"hwrng: two reads of 64 bytes",
		"hwrng: data, not zeros, and not the same twice",
	};

	LAB_EXPECT(&suite, "entropy", want);
}

Test(lab_devices, vsock_echoes_both_ways)
{
	static const char *const want[] = {
		"vsock: L2's CID is the one given (cid=3)",
		"vsock: L2 connects to the host's port 5000 and gets its bytes "
		"back",
		"vsock: the lab's CONNECT 52 reaches L2's port 52, bytes echoed",
	};

	LAB_EXPECT(&suite, "vsock", want);
}

Test(lab_devices, mmds_v1_and_v2_with_busybox_wget)
{
	static const char *const want[] = {
		"MMDS V1: wget reads a string (IMDS text)",
		"MMDS V1: wget reads an object's keys",
		"MMDS V1: JSON with Accept: application/json",
		"MMDS V1: a missing path is 404",
		"MMDS V1: wget beside a connection nc holds open",
		"MMDS V1: the held connection gets its own answer",
		"MMDS V2: wget reads a string (IMDS text)",
		"MMDS V2: wget reads an object's keys",
		"MMDS V2: JSON with Accept: application/json",
		"MMDS V2: a missing path is 404",
		"MMDS V2: wget beside a connection nc holds open",
		"MMDS V2: the held connection gets its own answer",
		"MMDS V2: a GET without a token is 401",
		"MMDS V2: PUT /latest/api/token gives a 44-character token",
	};

	LAB_EXPECT(&suite, "MMDS", want);
}
