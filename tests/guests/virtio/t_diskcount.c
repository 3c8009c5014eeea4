/*
 * test=diskcount: a disk that must keep what the guest wrote to it, the
 * disk half of the snapshot tests (the memory half is memcount).
 *
 * The disk is windows=W (16) windows of 4 KiB. Round c = 1, 2, ... takes
 * window c % W: from round W + 1 on, it first reads the window back and
 * checks that it holds what round c - W wrote there, then writes round
 * c's pattern into it. So every round checks a write made W rounds
 * before: a snapshot taken between the two, loaded in a new VMM, must
 * give the disk back with that write in it. A wrong word ends the run:
 *   diskcount: STALE round C window W word I: got X want Y
 * Every report=R (16) rounds a line "diskcount: round=C"; rounds=M ends
 * after M rounds with a pass. Ring 0 and few instructions a round: the
 * I/O, not the guest's loops, is what is tested here.
 */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "tests.h"

#define T_IN 0
#define T_OUT 1
#define NSECT 8
#define BYTES (NSECT * 512)
#define WORDS (BYTES / 4)

static uint32_t word(uint32_t round, uint32_t window, unsigned i)
{
	return (round * 0x9e3779b9u) ^ (window << 24) ^ i;
}

static bool check_window(struct vdev *d, uint32_t *buf, uint32_t round,
			 uint32_t w)
{
	int st;

	buf[0] = ~word(round, w, 0); /* a read that writes nothing fails */
	st = blk_rw(d, T_IN, (uint64_t)w * NSECT, buf, BYTES, NULL);
	if (st != 0) {
		fail("diskcount", "round %u window %u: read status %d",
		     round, w, st);
		return false;
	}
	for (unsigned i = 0; i < WORDS; i++)
		if (buf[i] != word(round, w, i)) {
			kprintf("diskcount: STALE round %u window %u word %u: "
				"got 0x%x want 0x%x\n", round, w, i, buf[i],
				word(round, w, i));
			fail("diskcount", "stale data on the disk");
			return false;
		}
	return true;
}

static bool write_window(struct vdev *d, uint32_t *buf, uint32_t round,
			 uint32_t w)
{
	int st;

	for (unsigned i = 0; i < WORDS; i++)
		buf[i] = word(round, w, i);
	st = blk_rw(d, T_OUT, (uint64_t)w * NSECT, buf, BYTES, NULL);
	if (st != 0)
		fail("diskcount", "round %u window %u: write status %d",
		     round, w, st);
	return st == 0;
}

void test_diskcount(const struct bootinfo *bi)
{
	uint32_t windows = (uint32_t)cmdline_u64_or(bi->cmdline, "windows",
						    16);
	uint32_t report = (uint32_t)cmdline_u64_or(bi->cmdline, "report", 16);
	uint32_t limit = (uint32_t)cmdline_u64_or(bi->cmdline, "rounds", 0);
	uint32_t *buf = palloc_pages(BYTES / PAGE_SIZE);
	struct vdev d;
	uint32_t c;

	if (!buf || !windows) {
		fail("diskcount", "out of guest memory, or windows=0");
		return;
	}
	if (!blk_setup(&d, ring_features(bi), 0))
		return;
	if (vdev_cfg64(&d, 0) < (uint64_t)windows * NSECT) {
		fail("diskcount", "the disk is smaller than %u windows",
		     windows);
		return;
	}
	kprintf("diskcount: windows=%u\n", windows);
	for (c = 1; !limit || c <= limit; c++) {
		uint32_t w = c % windows;

		if (c > windows && !check_window(&d, buf, c - windows, w))
			return;
		if (!write_window(&d, buf, c, w))
			return;
		if (report && c % report == 0)
			kprintf("diskcount: round=%u\n", c);
	}
	pass("diskcount");
}
