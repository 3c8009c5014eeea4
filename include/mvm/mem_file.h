/*
 * A snapshot's memory file: guest RAM, raw and sparse. The regions of
 * guest_mem are packed in order (region i at the sum of the sizes of the
 * regions before it); a page never written is a hole. A layout read back
 * from a state file is hostile: gm_file_layout_check() before any use.
 */
#ifndef MVM_MEM_FILE_H
#define MVM_MEM_FILE_H

#include <stdint.h>

#include "mvm/mem.h"

struct mvm_err;

/* Where one region of guest RAM is in a snapshot's memory file. */
struct gm_file_region {
	uint64_t gpa;
	uint64_t size;   /* bytes, a multiple of 4 KiB */
	uint64_t offset; /* in the memory file, a multiple of 4 KiB */
};
#define GM_PAGE 4096u

/*
 * Check a layout read from a file (hostile): 1..MEM_MAX_REGIONS, sizes/
 * offsets 4 KiB multiples, nonzero, gpa ascending without overlap,
 * gpa+size no overflow, none crossing [MEM_HOLE_START, MEM_HOLE_END),
 * offsets not overlapping. file_size (0: unknown) must cover every
 * region. -EINVAL naming the region and field.
 */
int gm_file_layout_check(const struct gm_file_region *r, unsigned n,
			 uint64_t file_size, struct mvm_err *err);

/*
 * Merge diff's data extents into base in place (same size required): a
 * Diff snapshot's memory file onto the Full (or merged) one it was taken
 * after. Reads diff's extents with SEEK_DATA/SEEK_HOLE, so diff must be
 * on a file system that keeps holes (one that does not reports the whole
 * file as data, and its zeros would overwrite base). base is fsync'd.
 */
int gm_file_merge(const char *base, const char *diff, struct mvm_err *err);

#endif
