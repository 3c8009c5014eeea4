/*
 * mvm's balloon and virtio-mem device under Linux's own drivers
 * (virtio_balloon, virtio_mem), and dynamic memory's controller driving
 * both for a Linux guest that idles, holds 1200 MiB and lets it go. The host running the tests may have a KVM
 * that cannot run stock kernels, so the default guest runs under mvm
 * inside the lab (tests/lab), which has a real one: tests/lab/memory
 * boots the lab once and runs memory.lab.sh there, which prints one
 * "ok - ..." or "not ok - ..." line per check. It boots once, in main()
 * before criterion starts the tests (as test_lab_devices.c does), and
 * each test then asserts its part of the checks by name, so a check that
 * silently stopped running fails too. If the lab cannot run, every test
 * fails saying NOT RUN and why.
 *
 * Environment (set by meson): MVM_BIN, MVM_BUILD_DIR, MVM_LAB_MEMORY (the
 * tests/lab/memory script), MVM_LAB ("disabled" when the build was
 * configured with -Dlab=disabled: nothing runs, every test says so and
 * skips). MVM_LAB_TIMEOUT=SECONDS replaces the lab's time budget (1200 s)
 * on a host too busy for it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_checks.h"
#include "lab_once.h"

static const struct lab_suite suite = {
	.prog = "test_lab_memory",
	.name = "lab_memory",
	.script = "tests/lab/memory",
	.script_env = "MVM_LAB_MEMORY",
	.log_env = "MVM_LAB_MEMORY_LOG", /* main() names its log here */
	.subject = "Linux's drivers",
};

static void run_lab(void)
{
	lab_checks_run(&suite);
}

int main(int argc, char **argv)
{
	return lab_once_main(argc, argv, suite.prog, suite.log_env, run_lab);
}

Test(lab_memory, the_lab_ran_every_check)
{
	lab_checks_finished(&suite);
}

Test(lab_memory, linux_drivers_find_the_balloon_and_virtio_mem)
{
	static const char *const want[] = {
		"L2 booted with a balloon and virtio-mem",
		"Linux's virtio_balloon bound mvm's balloon (device ID 5)",
		"Linux's virtio_mem bound mvm's virtio-mem device (device ID "
		"24)",
	};

	LAB_EXPECT(&suite, "drivers", want);
}

Test(lab_memory, balloon_statistics_are_the_guests)
{
	static const char *const want[] = {
		"GET /balloon/statistics: total_memory is the guest's MemTotal",
		"GET /balloon/statistics: free_memory within 16 MiB of MemFree",
		"GET /balloon/statistics: available_memory within 16 MiB of "
		"MemAvailable",
		"inflated: statistics' total_memory follows MemTotal",
	};

	LAB_EXPECT(&suite, "balloon statistics", want);
}

Test(lab_memory, memtotal_follows_the_balloon_and_rss_drops)
{
	static const char *const want[] = {
		"L2 wrote 700 MiB and freed it",
		"PATCH /balloon amount_mib 512: 204",
		"the driver inflated 512 MiB (statistics: actual_mib)",
		"mvm's RSS dropped by at least 256 MiB after the inflate",
		"inflated: MemTotal dropped by exactly 512 MiB",
		"PATCH /balloon amount_mib 0: 204",
		"the driver deflated (statistics: actual_mib 0)",
		"deflated: MemTotal is back to its boot value",
	};

	LAB_EXPECT(&suite, "balloon", want);
}

Test(lab_memory, memtotal_follows_virtio_mem_and_rss_drops)
{
	static const char *const want[] = {
		"GET /hotplug/memory at boot: nothing plugged or requested",
		"PATCH /hotplug/memory requested_size_mib 512: 204",
		"the driver plugged 512 MiB (GET /hotplug/memory)",
		"plugged: MemTotal grew by exactly 512 MiB",
		"plugged: Linux onlined 4 more memory blocks of 128 MiB",
		"L2 wrote 600 MiB and freed it",
		"PATCH /hotplug/memory requested_size_mib 0: 204",
		"the driver unplugged memory (GET /hotplug/memory)",
		"the driver unplugged all 512 MiB (online_movable)",
		"mvm's RSS dropped by at least half of what was unplugged",
		"unplugged: MemTotal shrank by what was unplugged",
		"PATCH /hotplug/memory requested_size_mib 1024: 204",
		"the driver plugged the whole 1024 MiB region",
		"whole region plugged: MemTotal grew by exactly 1024 MiB",
		"L2 powered off; mvm exited 0",
	};

	LAB_EXPECT(&suite, "virtio-mem", want);
}

Test(lab_memory, dynamic_memory_shrinks_an_idle_linux_guest)
{
	static const char *const want[] = {
		"dynamic memory: L2 booted with a balloon, virtio-mem and "
		"dynamic memory 512-2048 MiB",
		"dynamic memory: GET /dynamic-memory: enabled, 512-2048 MiB, "
		"buffer 20%",
		"dynamic memory idle: the controller shrank the guest to "
		"min_mib (512 MiB)",
		"dynamic memory idle: the balloon holds 512 MiB (statistics: "
		"actual_mib)",
		"dynamic memory idle: MemTotal is 512 MiB under the boot's",
	};

	LAB_EXPECT(&suite, "dynamic memory, idle", want);
}

Test(lab_memory, dynamic_memory_grows_a_linux_guest_under_pressure)
{
	static const char *const want[] = {
		"dynamic memory pressure: L2 wrote 1200 MiB to a tmpfs and "
		"holds it",
		"dynamic memory pressure: the controller grew the guest past "
		"1300 MiB",
		"dynamic memory pressure: the balloon deflated to 0",
		"dynamic memory pressure: virtio-mem plugged blocks",
		"dynamic memory pressure: MemTotal rose past the boot's",
		"dynamic memory pressure: no OOM kill in L2",
		"dynamic memory pressure: steady use, no decision for 15 s",
		"dynamic memory pressure: it only grew while the use climbed "
		"(no shrink)",
	};

	LAB_EXPECT(&suite, "dynamic memory, pressure", want);
}

Test(lab_memory, dynamic_memory_shrinks_it_back_when_released)
{
	static const char *const want[] = {
		"dynamic memory released: the controller shrank the guest back "
		"to min_mib",
		"dynamic memory released: virtio-mem unplugged all it had "
		"plugged",
		"dynamic memory released: MemTotal is 512 MiB under the boot's "
		"again",
		"dynamic memory released: mvm's RSS dropped by at least 800 MiB",
		"dynamic memory released: it only shrank (no grow)",
		"dynamic memory: mvm's log has grow and shrink decisions",
		"dynamic memory: the metrics count its grows and shrinks, and "
		"no failure",
		"dynamic memory: L2 powered off; mvm exited 0",
	};

	LAB_EXPECT(&suite, "dynamic memory, released", want);
}

Test(lab_memory, deflate_on_oom_leaves_memtotal_alone)
{
	static const char *const want[] = {
		"deflate_on_oom: L2 booted with the balloon",
		"deflate_on_oom: PATCH /balloon amount_mib 128: 204",
		"deflate_on_oom: the driver inflated 128 MiB",
		"deflate_on_oom: MemTotal unchanged by the inflate",
		"deflate_on_oom: MemFree lower by at least 120 MiB",
		"deflate_on_oom: L2 powered off; mvm exited 0",
	};

	LAB_EXPECT(&suite, "deflate_on_oom", want);
}
