/*
 * mvm's virtio devices under real Linux drivers. The host running the
 * tests may have a KVM that cannot run stock kernels, so the default guest
 * runs under mvm inside the lab (tests/lab), which has a real one:
 * tests/lab/devices boots the lab once and runs devices.lab.sh there,
 * which prints one "ok - ..." or "not ok - ..." line per check. It boots
 * once, in main() before criterion starts the tests (as test_lab_linux.c
 * does), and each test then asserts its part of the checks by name, so a
 * check that silently stopped running fails too. If the lab cannot run,
 * every test fails saying NOT RUN and why.
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

#include "lab_once.h"

#define PROG "test_lab_devices"
/* main() names its log file here; the tests inherit it. */
#define LOG_ENV "MVM_LAB_DEVICES_LOG"

/* tests/lab/devices -B BUILD --mvm MVM [--timeout SECONDS] */
static void run_lab(void)
{
	const char *mvm = lab_env(PROG, "MVM_BIN");
	const char *build = lab_env(PROG, "MVM_BUILD_DIR");
	const char *script = lab_env(PROG, "MVM_LAB_DEVICES");
	const char *tmo = getenv("MVM_LAB_TIMEOUT");
	char *argv[] = { (char *)script, "-B", (char *)build, "--mvm",
			 (char *)mvm, tmo && *tmo ? "--timeout" : NULL,
			 (char *)tmo, NULL };

	lab_once_run(PROG, LOG_ENV, mvm && build && script ? argv : NULL);
}

int main(int argc, char **argv)
{
	return lab_once_main(argc, argv, PROG, LOG_ENV, run_lab);
}

static char *read_log(void)
{
	return lab_once_log(LOG_ENV);
}

/* Does the log have the whole line "<prefix><desc>"? */
static bool has_line(const char *log, const char *prefix, const char *desc)
{
	size_t pl = strlen(prefix), dl = strlen(desc);

	for (const char *p = log; (p = strstr(p, prefix)); p++) {
		if ((p == log || p[-1] == '\n') && !strncmp(p + pl, desc, dl) &&
		    (p[pl + dl] == '\n' || p[pl + dl] == '\r' || !p[pl + dl]))
			return true;
	}
	return false;
}

/*
 * Assert that every check in want[] ran in the lab and passed; fail with
 * NOT RUN and the reason when the lab did not get to them.
 */
static void expect_checks(const char *area, const char *const *want,
			  size_t n)
{
	char *log;
	const char *st;
	int lab_status = -1;
	bool finished;

	if (lab_disabled()) {
		fprintf(stderr, "[NOTE] lab_devices NOT RUN: the build has "
			"-Dlab=disabled; %s under real Linux drivers went "
			"unchecked\n", area);
		cr_skip_test("-Dlab=disabled");
	}
	log = read_log();
	cr_assert(log, "NOT RUN: %s: no lab log (tests/lab/devices did not "
		  "start; see the messages above)", area);
	st = strstr(log, "\nLAB-RUN-STATUS ");
	if (st)
		lab_status = atoi(st + 16);
	finished = strstr(log, " passed, ") && strstr(log, " failed\n");
	for (size_t i = 0; i < n; i++) {
		if (has_line(log, "ok - ", want[i]))
			continue;
		if (has_line(log, "not ok - ", want[i])) {
			cr_expect_fail("%s: failed: %s", area, want[i]);
			continue;
		}
		if (!finished)
			cr_assert_fail("NOT RUN: %s: the lab stopped before "
				"\"%s\" (exit status %d: 124 timed out, 125 lab "
				"crashed, 2 bad setup, 127 could not start, -1 "
				"not started); end of its log:\n%s", area, want[i], lab_status,
				lab_log_tail(log, 15));
		cr_expect_fail("%s: the check \"%s\" never ran", area, want[i]);
	}
	free(log);
}

#define EXPECT(area, list) \
	expect_checks(area, list, sizeof(list) / sizeof(list[0]))

Test(lab_devices, the_lab_ran_every_check)
{
	char *log;

	if (lab_disabled()) {
		fprintf(stderr, "[NOTE] lab_devices NOT RUN: the build has "
			"-Dlab=disabled; the lab run went unchecked\n");
		cr_skip_test("-Dlab=disabled");
	}
	log = read_log();
	cr_assert(log, "NOT RUN: no lab log (tests/lab/devices did not start)");
	if (!strstr(log, " passed, ") || !strstr(log, " failed\n"))
		cr_assert_fail("NOT RUN: the lab script did not finish; end of "
			       "its log:\n%s", lab_log_tail(log, 15));
	cr_expect(strstr(log, " passed, 0 failed\n"), "the lab script did not "
		  "end with \"N passed, 0 failed\"; end of its log:\n%s",
		  lab_log_tail(log, 15));
	cr_expect_null(strstr(log, "\nnot ok - "), "a lab check failed (see "
		       "the log above)");
	cr_expect(strstr(log, "\nLAB-RUN-STATUS 0\n"), "tests/lab/devices did "
		  "not end with status 0");
	free(log);
}

Test(lab_devices, disks_keep_their_files_across_a_reboot)
{
	static const char *const want[] = {
		"L2 booted with the disks, NICs and rng attached",
		"L2 sees vda, vdb, vdc and vdd",
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

	EXPECT("disks", want);
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

	EXPECT("read-only disk", want);
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

	EXPECT("network", want);
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

	EXPECT("mac spoofing", want);
}

Test(lab_devices, hwrng_gives_data)
{
	static const char *const want[] = {
		"hwrng: virtio_rng is the current source",
		"hwrng: two reads of 64 bytes",
		"hwrng: data, not zeros, and not the same twice",
	};

	EXPECT("entropy", want);
}
