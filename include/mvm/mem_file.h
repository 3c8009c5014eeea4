/*
 * Guest RAM in a snapshot's memory file, and back.
 *
 * The file is raw guest RAM: the regions of guest_mem in order
 * (gm.r[0..nr)), packed, region i at the sum of the sizes before it. It is
 * as large as RAM and sparse: a Full snapshot writes only the pages that
 * are not all zeros (never-touched RAM is not even read), a Diff exactly
 * the pages written since the last snapshot (zero or not); everything
 * else is a hole. Merging a Diff onto its base copies the Diff's data
 * extents (SEEK_DATA/SEEK_HOLE) into the base at the same offsets.
 *
 * A restore maps the file (File backend: MAP_PRIVATE, read lazily by the
 * kernel's page faults) or hands a userfaultfd to a page fault handler
 * (Uffd backend, Firecracker's protocol).
 *
 * Dirty pages: KVM logs the guest's writes per memory slot; the VMM's own
 * writes (devices through gm_ptr) are logged here, in a bitmap per region
 * (one bit per 4 KiB page, bit p in word p / 64), once gm_dirty_track has
 * turned it on.
 */
#ifndef MVM_MEM_FILE_H
#define MVM_MEM_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/mem.h"

struct mvm_err;

#define GM_PAGE 4096u

/* Where one region of guest RAM is in a snapshot's memory file. */
struct gm_file_region {
	uint64_t gpa;
	uint64_t size;   /* bytes, a multiple of 4 KiB */
	uint64_t offset; /* in the memory file, a multiple of 4 KiB */
};

/* gm's layout in a memory file: *n = gm->nr entries, packed in order. */
void gm_file_layout(const struct guest_mem *gm, struct gm_file_region *out,
		    unsigned *n);

/*
 * Check a layout read from a file (hostile): 1..MEM_MAX_REGIONS regions,
 * gpa, size and offset 4 KiB multiples, sizes nonzero, gpa ascending
 * without overlap, no sum overflowing, none touching [MEM_HOLE_START,
 * MEM_HOLE_END), no two overlapping in the file, and each inside
 * file_size (0: unknown). -EINVAL naming the region and the field.
 */
int gm_file_layout_check(const struct gm_file_region *r, unsigned n,
			 uint64_t file_size, struct mvm_err *err);

/*
 * Full snapshot of gm into fd, a regular file: emptied, then sized to
 * the layout; pages that are all zeros, or that RAM never touched, stay
 * holes. *data_bytes = bytes written. The VM must be paused.
 */
int gm_save_full(const struct guest_mem *gm, int fd, uint64_t *data_bytes,
		 struct mvm_err *err);

/*
 * out[i] for the n pages of region `region` from page `first` on: whether
 * the page may hold data, as a Full save decides (present or swapped out
 * in /proc/self/pagemap; on a File backend also where the memory file has
 * data; every page of a Uffd backend, or where pagemap is unreadable).
 * A page never touched is zero and is not read. -EINVAL for a range
 * outside the region.
 */
int gm_pages_present(const struct guest_mem *gm, int region, uint64_t first,
		     uint64_t n, bool *out);

/* Whether the 4 KiB page at page is all zero bytes. */
bool gm_page_is_zero(const void *page);

/*
 * Diff: only the pages set in dirty[i], region i's bitmap (a bit per
 * 4 KiB page, bit p of word p / 64), are written, zero or not.
 */
int gm_save_diff(const struct guest_mem *gm, int fd,
		 unsigned long *const dirty[], uint64_t *data_bytes,
		 struct mvm_err *err);

/*
 * Copy the data extents of the memory file diff into base in place, at
 * the same offsets. Both must be the same size.
 */
int gm_file_merge(const char *base, const char *diff, struct mvm_err *err);

/*
 * Restore, File backend: gm (zeroed first) becomes the regions of r, each
 * its part of the file at path mapped MAP_PRIVATE at a 2 MiB-aligned
 * address: nothing is read or copied up front, writes stay private. The
 * layout is checked against the file's size.
 */
int gm_map_file(struct guest_mem *gm, const struct gm_file_region *r,
		unsigned n, const char *path, struct mvm_err *err);

/*
 * Checkpoint apply: the memory file at path (gm's own layout,
 * gm_file_layout) becomes gm's RAM in place. Each region's part of the
 * file is mapped MAP_PRIVATE over the region's address (MAP_FIXED): the
 * address stays, so KVM's memory slots stay valid (its MMU notifier drops
 * the old pages) and what devices point at in RAM is still RAM. Lazy and
 * copy-on-write, as gm_map_file. gm is then File-backed by it (the file
 * or userfaultfd it had is let go), and with dirty pages tracked every
 * page is marked: no log knows what the swap changed, so the next Diff
 * holds all of RAM. The VM must be paused. A failure after the first
 * region leaves RAM part old, part new: the caller discards the VM.
 */
int gm_remap_file(struct guest_mem *gm, const char *path,
		  struct mvm_err *err);

/*
 * Restore, Uffd backend (Firecracker's protocol): gm (zeroed first)
 * becomes anonymous regions registered MISSING with a new userfaultfd;
 * mvm connects to the UNIX socket sock_path and sends, in one message,
 * the JSON list of regions
 *   [{"base_host_virt_addr":N,"size":N,"offset":N,"page_size":4096,
 *     "page_size_kib":4096}, ...]
 * with the userfaultfd as SCM_RIGHTS. page_size_kib is Firecracker's own
 * misnomer, in bytes as it sends it. gm keeps both fds (gm_free closes
 * them): the handler learns that mvm is gone when the socket closes.
 */
int gm_map_uffd(struct guest_mem *gm, const struct gm_file_region *r,
		unsigned n, const char *sock_path, struct mvm_err *err);

/*
 * The VMM's own writes (devices through gm_ptr) are not in KVM's dirty
 * log: from now on, gm_ptr marks every page of every range it returns
 * (reads too: conservative) in a per-region atomic bitmap. Calling it
 * again keeps the bitmaps as they are.
 */
int gm_dirty_track(struct guest_mem *gm, struct mvm_err *err);
/* Whether gm_dirty_track has been called. */
bool gm_dirty_tracking(const struct guest_mem *gm);
/* Bytes of one region's bitmap: a bit per 4 KiB page, whole words. */
uint64_t gm_dirty_bitmap_bytes(uint64_t region_size);
/* OR region i's VMM bitmap into out and clear it. */
void gm_dirty_take(const struct guest_mem *gm, int i, unsigned long *out);

#endif
