/*
 * Where the loaders put the command line and the initrd. The initrd goes as
 * high as the protocol allows: that keeps it clear of the kernel, which
 * decompresses and grows upwards from its load address.
 */
#include <inttypes.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#include "loader.h"

int boot_put_cmdline(struct guest_mem *gm, const char *cmdline, uint64_t limit,
		     struct mvm_err *err)
{
	size_t len = strlen(cmdline);

	/* The buffer at LAYOUT_CMDLINE bounds every protocol's own limit. */
	if (limit > LAYOUT_CMDLINE_MAX - 1)
		limit = LAYOUT_CMDLINE_MAX - 1;
	if (len > limit)
		return mvm_fail(err, -E2BIG,
				"cmdline: %zu bytes is longer than this kernel's limit of %" PRIu64,
				len, limit);
	if (gm_write(gm, LAYOUT_CMDLINE, cmdline, len + 1))
		return mvm_fail(err, -EFAULT,
				"cmdline: guest RAM does not cover 0x%llx",
				LAYOUT_CMDLINE);
	return 0;
}

int boot_place_high(const struct guest_mem *gm, uint64_t floor, uint64_t ceil,
		    uint64_t size, uint64_t *addr)
{
	bool found = false;
	uint64_t best = 0;

	/* Regions may leave holes (tests, future layouts): try each. */
	for (int i = 0; i < gm->nr; i++) {
		const struct mem_region *r = &gm->r[i];
		uint64_t lo = r->gpa > floor ? r->gpa : floor;
		uint64_t hi = r->gpa + r->size < ceil ? r->gpa + r->size : ceil;
		uint64_t a;

		/* Not RAM until the guest plugs it: nothing boots there. */
		if (r->hotplug || hi <= lo || hi - lo < size)
			continue;
		a = (hi - size) & ~(PAGE_SIZE_4K - 1);
		if (a < lo)
			continue;
		if (!found || a > best) {
			best = a;
			found = true;
		}
	}
	if (!found)
		return -ENOSPC;
	*addr = best;
	return 0;
}

int boot_put_initrd(struct guest_mem *gm, const struct boot_input *in,
		    uint64_t floor, uint64_t ceil, uint64_t *addr,
		    struct mvm_err *err)
{
	/* An empty file still gets a page so it has a valid address. */
	uint64_t need = in->initrd_size ? in->initrd_size : 1;

	floor = (floor + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (floor < LAYOUT_HIGH)
		floor = LAYOUT_HIGH;
	if (boot_place_high(gm, floor, ceil, need, addr))
		return mvm_fail(err, -ENOSPC,
				"initrd %s: %" PRIu64 " MiB does not fit below 0x%" PRIx64 " with %" PRIu64 " MiB of RAM",
				in->initrd_name, (in->initrd_size + MIB - 1) / MIB,
				ceil, gm->ram_size / MIB);
	/* boot_place_high proved the range is RAM. */
	gm_write(gm, *addr, in->initrd, in->initrd_size);
	return 0;
}
