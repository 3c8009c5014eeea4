/*
 * Which pages of guest RAM may hold data: what a Full snapshot writes and
 * a migration's first pass sends. RAM the guest never touched is zero
 * without a read, and reading it would allocate it; /proc/self/pagemap
 * says which pages the process has (present or swapped out). On a File
 * backend a page not yet faulted in still has the memory file's bytes
 * where the file has data; a Uffd backend's pages are all taken as
 * touched, as only its handler knows them. Without pagemap (no /proc),
 * every page counts as touched: slower, still right.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/mem_file.h"
#include "mem_priv.h"

#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_SWAPPED (UINT64_C(1) << 62)
/* Entries read at once: 4 KiB of pagemap, 16 MiB of RAM. */
#define PM_BATCH 512u

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

void gm_present_open(struct gm_present *p, const struct guest_mem *gm)
{
	p->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	p->backing_fd = gm->backing == GM_BACKING_FILE ? gm->file_fd : -1;
	p->probe = p->data = p->data_end = 0;
}

void gm_present_close(struct gm_present *p)
{
	if (p->pagemap >= 0)
		close(p->pagemap);
	p->pagemap = -1;
}

/*
 * Whether the memory file behind a File backend has data at off. Asked
 * with off ascending, so one SEEK_DATA/SEEK_HOLE pair serves an extent.
 */
static bool backing_has_data(struct gm_present *p, uint64_t off)
{
	off_t d, h;

	if (off < p->probe || off >= p->data_end) {
		p->probe = off;
		d = lseek(p->backing_fd, (off_t)off, SEEK_DATA);
		h = d < 0 ? -1 : lseek(p->backing_fd, d, SEEK_HOLE);
		if (d < 0 && errno == ENXIO) {
			p->data = p->data_end = UINT64_MAX; /* holes on */
		} else if (d < 0 || h < 0) {
			p->data = off; /* cannot tell: read it */
			p->data_end = UINT64_MAX;
		} else {
			p->data = (uint64_t)d;
			p->data_end = (uint64_t)h;
		}
	}
	return off >= p->data && off < p->data_end;
}

/* The pagemap entries of n (<= PM_BATCH) pages at hva; false on failure. */
static bool read_pagemap(int fd, const uint8_t *hva, unsigned n,
			 uint64_t *pm)
{
	size_t want = n * sizeof(uint64_t), got = 0;
	off_t at = (off_t)((uintptr_t)hva / GM_PAGE * sizeof(uint64_t));

	while (got < want) {
		ssize_t r = pread(fd, (char *)pm + got, want - got,
				  at + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* touched[] for n (<= PM_BATCH) pages of r from page first on. */
static void find_batch(struct gm_present *p, const struct guest_mem *gm,
		       const struct mem_region *r, uint64_t first, unsigned n,
		       bool *touched)
{
	const uint8_t *hva = r->hva + first * GM_PAGE;
	uint64_t pm[PM_BATCH];
	bool faults = false;

	if (gm->backing == GM_BACKING_UFFD || p->pagemap < 0 ||
	    !read_pagemap(p->pagemap, hva, n, pm)) {
		memset(touched, 1, n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		touched[i] = pm[i] & (PM_PRESENT | PM_SWAPPED);
		if (touched[i] || p->backing_fd < 0)
			continue;
		/* Never touched, mapped from the file: the file's bytes. */
		touched[i] = backing_has_data(p, r->file_off +
					      (first + i) * GM_PAGE);
		faults |= touched[i];
	}
	/* One call maps them all, rather than a page fault each. */
	if (faults)
		madvise((void *)hva, (size_t)n * GM_PAGE, MADV_POPULATE_READ);
}

void gm_present_find(struct gm_present *p, const struct guest_mem *gm,
		     const struct mem_region *r, uint64_t first, uint64_t n,
		     bool *touched)
{
	for (uint64_t done = 0; done < n;) {
		unsigned b = n - done < PM_BATCH ? (unsigned)(n - done) :
						   PM_BATCH;

		find_batch(p, gm, r, first + done, b, touched + done);
		done += b;
	}
}

int gm_pages_present(const struct guest_mem *gm, int region, uint64_t first,
		     uint64_t n, bool *out)
{
	struct gm_present p;
	uint64_t pages;

	if (region < 0 || region >= gm->nr)
		return -EINVAL;
	pages = gm->r[region].size / GM_PAGE;
	if (first > pages || n > pages - first)
		return -EINVAL;
	gm_present_open(&p, gm);
	gm_present_find(&p, gm, &gm->r[region], first, n, out);
	gm_present_close(&p);
	return 0;
}

bool gm_page_is_zero(const void *page)
{
	const uint8_t *p = page;
	uint64_t first;

	/* Used memory nearly always differs from zero in its first word. */
	memcpy(&first, p, sizeof(first));
	if (first)
		return false;
	/* The first 8 bytes are zero and each byte equals the one 8 on. */
	return memcmp(p, p + 8, GM_PAGE - 8) == 0;
}
