/*
 * Guest RAM given back to the host while the VM runs (include/mvm/mem.h,
 * gm_discard): a balloon's inflated pages, free pages a guest reports,
 * virtio-mem's unplugged blocks (in its hotplug region, a region like any
 * other here). Private memory is madvise(MADV_DONTNEED)'d: anonymous RAM
 * reads as zeros afterwards, a memory file mapped private as the file's
 * bytes again (its own copy of the page is what goes). Shared memory (a
 * memfd or hugetlbfs file) keeps its pages in the file, so the file gets
 * the hole: fallocate(PUNCH_HOLE). KVM's MMU notifier drops its mappings
 * of the range in either case; the next guest access faults a fresh page
 * in. The RSS falls at once.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mem_priv.h"

#define SMALL_PAGE 4096u

/* The region holding all of [gpa, gpa+len), or NULL. */
static const struct mem_region *region_of(const struct guest_mem *gm,
					  uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nr; i++) {
		const struct mem_region *r = &gm->r[i];

		/* Written so that no sum can overflow on hostile values. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

/* [*off, *off + *len) shrunk to whole pages of the region's size. */
static void whole_pages(const struct mem_region *r, uint64_t *off,
			uint64_t *len)
{
	uint64_t ps = r->page_size ? r->page_size : SMALL_PAGE;
	uint64_t start = (*off + ps - 1) / ps * ps;
	uint64_t end = (*off + *len) / ps * ps;

	*off = start;
	*len = end > start ? end - start : 0;
}

static int give_back(const struct mem_region *r, uint64_t off, uint64_t len)
{
	if (r->shared)
		return fallocate(r->shared_fd, FALLOC_FL_PUNCH_HOLE |
				 FALLOC_FL_KEEP_SIZE,
				 (off_t)(r->shared_off + off), (off_t)len);
	/* Someone else's mapping (tests, fuzzers): only its bytes are ours. */
	if (!r->map_base) {
		memset(r->hva + off, 0, len);
		return 0;
	}
	return madvise(r->hva + off, len, MADV_DONTNEED);
}

int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
	       struct mvm_err *err)
{
	const struct mem_region *r;
	uint64_t off;

	if ((gpa | len) & (SMALL_PAGE - 1))
		return mvm_fail(err, -EINVAL, "memory: discard of %#llx+%#llx: "
				"not 4 KiB-aligned", (unsigned long long)gpa,
				(unsigned long long)len);
	if (!len)
		return 0;
	r = region_of(gm, gpa, len);
	if (!r)
		return mvm_fail(err, -EINVAL, "memory: discard of %#llx+%#llx: "
				"not inside guest RAM (one region of it)",
				(unsigned long long)gpa,
				(unsigned long long)len);
	off = gpa - r->gpa;
	whole_pages(r, &off, &len);
	if (!len)
		return 0;
	if (give_back(r, off, len))
		return mvm_fail_host(err, -errno, "memory: discard of "
				     "%#llx+%#llx: %s",
				     (unsigned long long)(r->gpa + off),
				     (unsigned long long)len, strerror(errno));
	/*
	 * The bytes changed without the guest writing them (KVM's dirty log
	 * does not see it): a Diff snapshot or a migration's next pass must
	 * carry the change.
	 */
	if (r->dirty)
		gm_dirty_mark(r->dirty, off / SMALL_PAGE,
			      (off + len) / SMALL_PAGE - 1);
	return 0;
}
