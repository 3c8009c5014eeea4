/*
 * What the files of guest memory (mem*.c) share and nothing else sees:
 * how RAM is mapped, how a region joins guest_mem, how gm_ptr() marks
 * pages dirty.
 */
#ifndef MVM_CORE_MEM_PRIV_H
#define MVM_CORE_MEM_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mvm/mem.h"

struct mvm_err;

#define GM_HUGE_2M (UINT64_C(2) << 20)
/* Guest memory below this stays on 4 KiB pages with transparent ones. */
#define GM_BOOT_AREA GM_HUGE_2M
/*
 * Transparent huge pages from this RAM size up (mvm's default size): a
 * smaller guest is a tiny kernel or a test, which touches a few scattered
 * pages (its image, its stack, a probe at the top of RAM) and would be
 * charged 2 MiB of RSS for each; below it, RAM stays on 4 KiB pages.
 */
#define GM_THP_MIN_RAM (UINT64_C(128) << 20)

/*
 * Map size bytes of anonymous RAM as pages says: the whole mapping in
 * *base and *len, RAM itself at the 2 MiB-aligned *hva inside it.
 */
int gm_map_ram(uint64_t size, enum gm_pages pages, uint8_t **base,
	       uint64_t *len, uint8_t **hva, struct mvm_err *err);

/*
 * Append a region of RAM mapped at hva (inside [base, base+len), which
 * gm_free unmaps), kept out of forked children.
 */
int gm_region_add(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		  uint8_t *base, uint64_t len, uint8_t *hva,
		  struct mvm_err *err);

/* Mark pages first..last (inclusive, region-relative) in bitmap bm. */
void gm_dirty_mark(atomic_ulong *bm, uint64_t first, uint64_t last);

/*
 * Which pages may hold data (mem_present.c): open once, ask region by
 * region with page numbers ascending, close.
 */
struct gm_present {
	int pagemap;    /* /proc/self/pagemap; -1: every page counts */
	int backing_fd; /* a File backend's memory file, or -1 */
	/* The memory file's data extent around the last look. */
	uint64_t probe, data, data_end;
};
void gm_present_open(struct gm_present *p, const struct guest_mem *gm);
void gm_present_close(struct gm_present *p);
/* touched[i] for the n pages of r from page first on. */
void gm_present_find(struct gm_present *p, const struct guest_mem *gm,
		     const struct mem_region *r, uint64_t first, uint64_t n,
		     bool *touched);

/*
 * Open path (flags | O_CLOEXEC), which must be a regular file; its size
 * in *size. The fd, or -errno with a message naming path.
 */
int gm_open_regular(const char *path, int flags, off_t *size,
		    struct mvm_err *err);

#endif
