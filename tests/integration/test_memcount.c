/*
 * The memcount guest (bz_virtio test=memcount), the workload of the
 * snapshot tests and bench/snapshot: its rounds keep counting, its check
 * does catch a stale word, and its touch-all mode takes its commands.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct mvm_result run(const char *cmdline, const struct mvm_opts *o)
{
	const char *argv[] = { "run", "--kernel",
			       guest_path("virtio/bz_virtio"), "--memory", "64",
			       "--cmdline", cmdline, NULL };
	struct mvm_result r;

	cr_assert_eq(mvm_launch(argv, o, &r), 0);
	cr_assert_not(r.timed_out, "timed out:\n%s\n%s", r.out, r.err);
	return r;
}

Test(memcount, rounds_count_up_and_end_ok)
{
	struct mvm_result r = run("test=memcount pages=256 rounds=50 report=10",
				  NULL);
	const char *p = r.out;
	char line[64];

	cr_assert(strstr(r.out, "memcount: pages=256 at 0x"), "%s", r.out);
	/* Every report line, in order, and no other round. */
	for (int c = 10; c <= 50; c += 10) {
		snprintf(line, sizeof(line), "memcount: round=%d\n", c);
		p = strstr(p, line);
		cr_assert(p, "no '%s' in order:\n%s", line, r.out);
	}
	cr_assert_eq(count_str(r.out, "memcount: round="), 5, "%s", r.out);
	cr_assert(strstr(r.out, "memcount: done rounds=50\n"), "%s", r.out);
	cr_assert_null(strstr(r.out, "STALE"), "%s", r.out);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	mvm_result_free(&r);
}

/*
 * The self-test puts round 1's value back into page 8, word 7 after round
 * 2: round 3 must name exactly that word and end the machine failed, as a
 * snapshot that restored a stale page would.
 */
Test(memcount, selftest_catches_a_stale_word)
{
	struct mvm_result r = run("test=memcount_selftest", NULL);

	cr_assert(strstr(r.out, "memcount: round=2\n"), "%s", r.out);
	cr_assert(strstr(r.out, "memcount: STALE page 8 word 7: "
			 "got 0x800000001 want 0x800000002 (gpa 0x"),
		  "no stale word reported:\n%s", r.out);
	cr_assert_null(strstr(r.out, "memcount: round=3"), "%s", r.out);
	cr_assert_null(strstr(r.out, "ALL OK"), "%s", r.out);
	cr_assert_eq(r.status, 3, "status %d:\n%s", r.status, r.out);
	mvm_result_free(&r);
}

/*
 * touch=all: every page written, then commands on COM1, one per tick:
 * dirty 5% (exactly pages * 5 / 100 of them, evenly spread), check, and
 * check again and quit. beat=1 prints a '.' per tick: one at least per
 * command.
 */
Test(memcount, touch_all_dirties_checks_and_quits)
{
	struct mvm_opts o = { .stdin_data = "dcq",
			      .stdin_after = "memcount: touched" };
	struct mvm_result r = run("test=memcount touch=all beat=1", &o);
	const char *t = strstr(r.out, "memcount: touched pages=");
	unsigned pages = 0;
	char want[96];

	cr_assert(t, "%s\n%s", r.out, r.err);
	cr_assert_eq(sscanf(t, "memcount: touched pages=%u", &pages), 1);
	/* 64 MiB but the first MiB, the kernel, its stack and tables. */
	cr_assert(pages > 15000 && pages < 16128, "pages=%u", pages);
	snprintf(want, sizeof(want), "memcount: dirtied pages=%u gen=1\n",
		 pages * 5 / 100);
	cr_assert(strstr(r.out, want), "no '%s':\n%s", want, r.out);
	snprintf(want, sizeof(want), "memcount: checked pages=%u gen=1\n",
		 pages);
	cr_assert_eq(count_str(r.out, want), 2, "'%s' not twice:\n%s", want,
		     r.out);
	cr_assert_geq(count_str(t, "."), 3, "%s", r.out);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	mvm_result_free(&r);
}

/*
 * touch=all ring=N: every page written, then the first N rewritten round
 * after round (each round checks the last one's value) with a line every
 * report=R rounds and a TSC beat; 'c' checks all of RAM (the ring at its
 * current round) and the ring goes on, 'q' checks again and ends.
 */
Test(memcount, touch_all_ring_counts_checks_and_quits)
{
	struct mvm_opts o = { .stdin_data = "cq",
			      .stdin_after = "memcount: round=16\n" };
	struct mvm_result r = run("test=memcount touch=all ring=4096 report=8 "
				  "beat=1", &o);
	const char *t = strstr(r.out, "memcount: touched pages=");
	const char *ring = strstr(r.out, "memcount: ring pages=4096 report=8\n");
	const char *r16 = strstr(r.out, "memcount: round=16\n");
	const char *r8;
	unsigned pages = 0;
	char want[96];

	cr_assert(t, "%s\n%s", r.out, r.err);
	cr_assert_eq(sscanf(t, "memcount: touched pages=%u", &pages), 1);
	cr_assert(ring && ring > t, "%s", r.out);
	r8 = strstr(ring, "memcount: round=8\n");
	cr_assert(r8 && r16 && r8 < r16, "rounds 8 and 16 not in order:\n%s",
		  r.out);
	/* 16 rounds of 16 MiB read and written: milliseconds at least. */
	cr_assert(memchr(ring, '.', (size_t)(r16 - ring)),
		  "no beat before round 16:\n%s", r.out);
	snprintf(want, sizeof(want), "memcount: checked pages=%u gen=0\n",
		 pages);
	cr_assert_eq(count_str(r.out, want), 2, "'%s' not twice:\n%s", want,
		     r.out);
	cr_assert_null(strstr(r.out, "STALE"), "%s", r.out);
	cr_assert(strstr(r.out, "ALL OK"), "%s\n%s", r.out, r.err);
	cr_assert_eq(r.status, 1, "status %d", r.status);
	mvm_result_free(&r);
}
