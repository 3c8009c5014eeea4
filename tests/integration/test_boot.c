/*
 * Boot each protocol's tiny kernel under the built mvm and let it check
 * what mvm promised: memory map, cmdline, initrd, CPUID, MADT and SMP.
 * The kernels report through isa-debug-exit: 0 -> status 1 (all passed),
 * 1 -> status 3 (some check failed, the console says which).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GUEST_PASS 1
#define GUEST_FAIL 3

/* A small initrd with a known pattern; its CRC32 goes on the cmdline. */
static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320 & -(c & 1));
	}
	return ~c;
}

static void check_kernel(const char *kernel, unsigned cpus, unsigned mem)
{
	uint8_t data[3000];
	char cmdline[256], cpus_s[16], mem_s[16];
	struct mvm_result r;
	char *initrd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	initrd = temp_file("initrd", data, sizeof(data));
	cr_assert_not_null(initrd);
	snprintf(cmdline, sizeof(cmdline),
		 "mem=%u memtol=385 cpus=%u initrd_crc=%#x initrd_len=%zu tag=hello-%s",
		 mem, cpus, crc32(data, sizeof(data)), sizeof(data), kernel);
	snprintf(cpus_s, sizeof(cpus_s), "%u", cpus);
	snprintf(mem_s, sizeof(mem_s), "%u", mem);
	const char *argv[] = { "run", "--kernel", guest_path(kernel),
			       "--initrd", initrd, "--cmdline", cmdline,
			       "--cpus", cpus_s, "--memory", mem_s, NULL };
	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	unlink(initrd);
	free(initrd);
	cr_assert_not(r.timed_out, "%s timed out; console:\n%s", kernel, r.out);
	cr_assert_eq(r.status, GUEST_PASS,
		     "%s (%u cpus, %u MiB) exited %d\nconsole:\n%s\nstderr:\n%s",
		     kernel, cpus, mem, r.status, r.out, r.err);
	cr_assert(strstr(r.out, "ALL OK"), "console:\n%s", r.out);
	cr_assert(strstr(r.out, "hello-"), "the guest did not echo its cmdline");
	cr_assert_eq(count_str(r.out, "FAIL"), 0, "console:\n%s", r.out);
	mvm_result_free(&r);
}

Test(boot, multiboot_one_cpu) { check_kernel("mb_check", 1, 64); }
Test(boot, multiboot_smp_four_cpus) { check_kernel("mb_check", 4, 128); }
Test(boot, multiboot_above_4g_hole) { check_kernel("mb_check", 2, 3200); }
/*
 * Linked below 1 MiB, as some third-party test kernels are: at 0x8000 mvm's
 * usual boot data stays where it is; at 0x1c000 the kernel covers the
 * command line's usual place, and mvm moves its boot data above 1 MiB.
 */
Test(boot, multiboot_linked_at_0x8000) { check_kernel("mb_check_0x8000", 2, 64); }
Test(boot, multiboot_linked_over_the_cmdline) { check_kernel("mb_check_0x1c000", 1, 64); }

/* The kernel's file name comes first, as GRUB and QEMU pass it. */
Test(boot, multiboot_cmdline_starts_with_the_file_name)
{
	const char *kernel = guest_path("mb_check");
	const char *argv[] = { "run", "--kernel", kernel, "--cmdline",
			       "cpus=1 mem=32 tag=x", "--memory", "32", NULL };
	char want[4096];
	struct mvm_result r;

	snprintf(want, sizeof(want), "cmdline: %s cpus=1 mem=32 tag=x\n",
		 kernel);
	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, GUEST_PASS, "%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, want), "want '%s' in:\n%s", want, r.out);
	mvm_result_free(&r);
}

Test(boot, bzimage_64bit_protocol) { check_kernel("bz_check", 2, 256); }
Test(boot, pvh_elf) { check_kernel("pvh_check", 2, 256); }

Test(boot, a_failing_check_is_reported)
{
	/* The kernel is told to expect 3 vCPUs but gets 2: it must say so. */
	struct mvm_result r;
	const char *argv[] = { "run", "--kernel", guest_path("mb_check"),
			       "--cpus", "2", "--cmdline", "cpus=3 mem=64",
			       "--memory", "64", NULL };

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_eq(r.status, GUEST_FAIL, "status %d\n%s", r.status, r.out);
	cr_assert(strstr(r.out, "FAIL"), "%s", r.out);
	mvm_result_free(&r);
}

/* The guest's 400 ms wait on PIT channel 2 really takes 400 ms. */
Test(boot, pit_channel2_measures_wall_time)
{
	const char *argv[] = { "run", "--kernel", guest_path("mb_action"),
			       "--cmdline", "action=pit", "--memory", "32",
			       NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_not(r.timed_out, "%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	cr_assert_geq(r.seconds, 0.4, "the wait took %.3f s", r.seconds);
	mvm_result_free(&r);
}
