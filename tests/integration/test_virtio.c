/*
 * virtio-rng, and mvm against a hostile virtio driver: descriptors out of
 * RAM, loops, chains too long, broken rings and bad queue sizes. mvm keeps
 * running, reports each with a rate-limited line, the device recovers and
 * the other devices keep working.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static struct mvm_result run(const char *cmdline, const char *disk)
{
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--memory", "64", "--rng", "--cmdline", cmdline,
			       disk ? "--disk" : NULL, disk, NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	return r;
}

static void assert_all_ok(const struct mvm_result *r)
{
	cr_assert(strstr(r->out, "ALL OK"), "guest failed:\n%s\nstderr:\n%s",
		  r->out, r->err);
	cr_assert_eq(r->status, 1, "status %d", r->status);
}

Test(virtio, rng_gives_entropy)
{
	struct mvm_result r = run("test=rng", NULL);

	assert_all_ok(&r);
	cr_assert_str_empty(r.err);
	mvm_result_free(&r);
}

Test(virtio, rng_without_event_idx_and_indirect)
{
	struct mvm_result r = run("test=rng event_idx=0 indirect=0", NULL);

	assert_all_ok(&r);
	mvm_result_free(&r);
}

Test(virtio, no_rng_without_the_option)
{
	const char *argv[] = { "run", "--kernel", guest_path("virtio/mb_virtio"),
			       "--memory", "64", "--cmdline", "test=rng", NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert(strstr(r.out, "no virtio-rng device"), "%s", r.out);
	mvm_result_free(&r);
}

Test(virtio, hostile_driver_cannot_hurt_mvm)
{
	char *img = temp_file("hostile", NULL, 0), disk[300];
	struct mvm_result r;
	const char *p;

	cr_assert_eq(truncate(img, 1 << 20), 0);
	snprintf(disk, sizeof(disk), "path=%s,id=hd0", img);
	r = run("test=hostile", disk);
	assert_all_ok(&r);
	cr_assert(strstr(r.out, "PASS rng after"), "%s", r.out);
	/* Guest misbehaviour is logged, one line each, rate-limited. */
	cr_assert(strstr(r.err, "mvm: virtio-blk hd0: queue 0: "),
		  "nothing logged: %s", r.err);
	cr_assert_lt(count_str(r.err, "\n"), 8, "not rate-limited:\n%s",
		     r.err);
	cr_assert(strstr(r.err, "mvm: virtio-rng rng0: queue 0: "),
		  "rng misuse not logged: %s", r.err);
	for (p = r.err; (p = strchr(p, '\n')) && p[1]; p++)
		cr_assert(!strncmp(p + 1, "mvm: virtio-blk hd0: ", 21) ||
			  !strncmp(p + 1, "mvm: virtio-rng rng0: ", 22),
			  "unexpected line: %s", p + 1);
	unlink(img);
	free(img);
	mvm_result_free(&r);
}

Test(virtio, hostile_without_event_idx)
{
	char *img = temp_file("hostile2", NULL, 0), disk[300];
	struct mvm_result r;

	cr_assert_eq(truncate(img, 1 << 20), 0);
	snprintf(disk, sizeof(disk), "path=%s", img);
	r = run("test=hostile event_idx=0", disk);
	assert_all_ok(&r);
	unlink(img);
	free(img);
	mvm_result_free(&r);
}

/*
 * The 64-bit virtio test kernel (the benchmarks' guest) enters ring 3 and
 * keeps working there: port I/O from ring 3 goes through its trap
 * handler, and the run ends with the report from ring 3.
 */
Test(virtio, bz_kernel_runs_in_ring3)
{
	const char *argv[] = { "run", "--kernel",
			       guest_path("virtio/bz_virtio"), "--memory", "64",
			       "--cmdline", "test=ring3 spin=1000", NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, NULL, &r), 0);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, "spin ring3 1000 turns"), "%s", r.out);
	cr_assert(strstr(r.out, "PASS ring3"), "%s", r.out);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	mvm_result_free(&r);
}
