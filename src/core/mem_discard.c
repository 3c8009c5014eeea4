/*
 * Guest RAM given back to the host while the guest runs: virtio-mem's
 * unplugged blocks (and a balloon's pages). madvise(MADV_DONTNEED) drops
 * the pages from the process, so its RSS falls at once; the range stays
 * mapped, and what the guest (or a device) reads there next is zeros, or
 * the memory file's bytes for RAM restored from one. KVM's MMU notifier
 * drops its own mappings of the pages in the same call.
 */
#include <string.h>
#include <sys/mman.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

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

int gm_discard(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
	       struct mvm_err *err)
{
	const struct mem_region *r;
	uint8_t *hva;

	if (gpa % GM_PAGE || len % GM_PAGE)
		return mvm_fail(err, -EINVAL, "memory: discard of %#llx+%#llx:"
				" not whole 4 KiB pages",
				(unsigned long long)gpa,
				(unsigned long long)len);
	if (!len)
		return 0;
	r = region_of(gm, gpa, len);
	if (!r)
		return mvm_fail(err, -EINVAL, "memory: discard of %#llx+%#llx:"
				" not inside one region of guest memory",
				(unsigned long long)gpa,
				(unsigned long long)len);
	hva = r->hva + (gpa - r->gpa);
	if (!r->map_base)
		memset(hva, 0, len); /* the caller's memory: not ours to drop */
	else if (madvise(hva, len, MADV_DONTNEED) < 0)
		return mvm_fail(err, -errno, "memory: discard of %#llx+%#llx:"
				" madvise: %s", (unsigned long long)gpa,
				(unsigned long long)len, strerror(errno));
	if (r->dirty)
		gm_dirty_mark(r->dirty, (gpa - r->gpa) / GM_PAGE,
			      (gpa - r->gpa + len) / GM_PAGE - 1);
	return 0;
}
