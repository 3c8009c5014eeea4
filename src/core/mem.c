/*
 * Guest RAM: anonymous memory, 2 MiB-aligned and offered to transparent
 * huge pages, as QEMU does. KVM then maps guest memory with 2 MiB pages
 * wherever the host has them, so a guest touching fresh memory takes one
 * fault per 2 MiB instead of per 4 KiB: under nested virtualization, where
 * every such fault is an exit to L1, that alone cut a Linux boot in the
 * lab from 3.8 s to 2.8 s. (A memfd cannot have this: shmem huge pages
 * are off by default.) Except the first 2 MiB of guest memory, the boot
 * area: the VMM's boot structures, a small kernel and its stack live
 * there, and a huge page would charge a tiny guest 2 MiB of RSS for its
 * first few KiB; a Linux guest runs from 16 MiB and sizes its memory
 * from the top, where huge pages pay. Asked for, RAM is 4 KiB pages only, or hugetlbfs
 * 2 MiB pages reserved from the host's pool when the VM is built. Mapping
 * into KVM is done by the VM (vm.c); this file only owns the host side and
 * bounds checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

#define HUGE_2M GM_HUGE_2M
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT) /* log2 of the page size */
#endif

const char *const gm_pages_names[] = { "Transparent", "None", "2M", NULL };

int gm_map_ram(uint64_t size, enum gm_pages pages, uint8_t **base,
	       uint64_t *len, uint8_t **hva, struct mvm_err *err)
{
	const int prot = PROT_READ | PROT_WRITE;

	if (pages == GM_PAGES_HUGE_2M) {
		/*
		 * No MAP_NORESERVE: the pages are taken from the pool now, or
		 * the mmap fails, rather than the guest dying of SIGBUS later.
		 */
		*len = size;
		*base = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS |
			     MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		if (*base == MAP_FAILED)
			return mvm_fail(err, -errno, "memory: cannot reserve "
					"%llu MiB of 2 MiB huge pages: %s (the "
					"host's pool: /proc/sys/vm/nr_hugepages)",
					(unsigned long long)(size >> 20),
					strerror(errno));
		*hva = *base;
		return 0;
	}
	*len = size + HUGE_2M; /* room to align the start */
	/* MAP_NORESERVE: RAM is touched lazily, so RSS reflects guest use. */
	*base = mmap(NULL, *len, prot,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (*base == MAP_FAILED)
		return mvm_fail(err, -errno, "memory: mmap of %llu MiB: %s",
				(unsigned long long)(size >> 20),
				strerror(errno));
	/* gpa is 2 MiB-aligned: so must hva be, for KVM's huge mappings. */
	*hva = (uint8_t *)(((uintptr_t)*base + HUGE_2M - 1) &
			   ~(uintptr_t)(HUGE_2M - 1));
	/* A hint: a host without THP, or an old one, still runs the guest. */
	madvise(*hva, size, pages == GM_PAGES_SMALL ? MADV_NOHUGEPAGE :
						      MADV_HUGEPAGE);
	return 0;
}

int gm_region_add(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		  uint8_t *base, uint64_t len, uint8_t *hva,
		  struct mvm_err *err)
{
	struct mem_region *r;

	if (gm->nr >= MEM_MAX_REGIONS) {
		munmap(base, len);
		return mvm_fail(err, -ENOSPC, "memory: too many regions");
	}
	/* A fork (the async teardown's) must not copy or share guest RAM. */
	madvise(hva, size, MADV_DONTFORK);
	r = &gm->r[gm->nr++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->map_base = base;
	r->map_len = len;
	r->page_size = 0;
	r->shared = false;
	gm->ram_size += size;
	return 0;
}

static int add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		      enum gm_pages pages, struct mvm_err *err)
{
	uint8_t *base = NULL, *hva = NULL;
	uint64_t len = 0;
	int ret;

	if (gm->nr >= MEM_MAX_REGIONS)
		return mvm_fail(err, -ENOSPC, "memory: too many regions");
	ret = gm_map_ram(size, pages, &base, &len, &hva, err);
	if (!ret)
		ret = gm_region_add(gm, gpa, size, base, len, hva, err);
	if (!ret && pages == GM_PAGES_HUGE_2M)
		gm->r[gm->nr - 1].page_size = HUGE_2M;
	return ret;
}

int gm_alloc(struct guest_mem *gm, uint64_t ram_bytes, enum gm_pages pages,
	     struct mvm_err *err)
{
	uint64_t low = ram_bytes < MEM_HOLE_START ? ram_bytes : MEM_HOLE_START;
	int ret;

	memset(gm, 0, sizeof(*gm));
	if (ram_bytes < (2ULL << 20))
		return mvm_fail(err, -EINVAL, "memory: at least 2 MiB is needed");
	if (pages == GM_PAGES_HUGE_2M && ram_bytes % HUGE_2M)
		return mvm_fail(err, -EINVAL, "memory: %llu %s is not a whole "
				"number of 2 MiB huge pages",
				(unsigned long long)(ram_bytes % (1 << 20) ?
					ram_bytes >> 10 : ram_bytes >> 20),
				ram_bytes % (1 << 20) ? "KiB" : "MiB");
	if (pages == GM_PAGES_TRANSPARENT && ram_bytes < GM_THP_MIN_RAM)
		pages = GM_PAGES_SMALL;
	ret = add_region(gm, 0, low, pages, err);
	/* The boot area: 4 KiB pages, whatever the host's THP default. */
	if (ret == 0 && pages == GM_PAGES_TRANSPARENT)
		madvise(gm->r[0].hva, GM_BOOT_AREA, MADV_NOHUGEPAGE);
	if (ret == 0 && ram_bytes > low)
		ret = add_region(gm, MEM_HOLE_END, ram_bytes - low, pages, err);
	if (ret)
		gm_free(gm);
	return ret;
}

int gm_add_hotplug(struct guest_mem *gm, uint64_t gpa, uint64_t size,
		   enum gm_pages pages, struct mvm_err *err)
{
	int ret;

	if (!size || gpa % HUGE_2M || size % HUGE_2M)
		return mvm_fail(err, -EINVAL, "memory: hotplug region %#llx+"
				"%#llx is not in whole 2 MiB pages",
				(unsigned long long)gpa,
				(unsigned long long)size);
	/* gm_map_ram maps MAP_NORESERVE: nothing is taken until touched. */
	if (pages != GM_PAGES_SMALL)
		pages = GM_PAGES_TRANSPARENT;
	ret = add_region(gm, gpa, size, pages, err);
	if (ret)
		return mvm_wrap(err, ret, "hotplug region: ");
	gm->r[gm->nr - 1].hotplug = true;
	return 0;
}

int gm_add_host(struct guest_mem *gm, uint64_t gpa, void *hva, uint64_t size)
{
	struct mem_region *r;

	if (gm->nr >= MEM_MAX_REGIONS)
		return -ENOSPC;
	r = &gm->r[gm->nr++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->map_base = NULL; /* caller-owned */
	r->page_size = 0;
	r->shared = false;
	gm->ram_size += size;
	return 0;
}

void gm_free(struct guest_mem *gm)
{
	for (int i = 0; i < gm->nr; i++) {
		struct mem_region *r = &gm->r[i];

		if (r->map_base)
			munmap(r->map_base, r->map_len);
		free(r->dirty);
	}
	/* Unmapped first: the handler sees no region after the socket. */
	if (gm->backing == GM_BACKING_FILE)
		close(gm->file_fd);
	if (gm->backing == GM_BACKING_UFFD) {
		close(gm->uffd);
		if (gm->uffd_sock >= 0)
			close(gm->uffd_sock);
	}
	memset(gm, 0, sizeof(*gm));
}

/* The region holding all of [gpa, gpa+len), or NULL. */
static const struct mem_region *region_of(const struct guest_mem *gm,
					  uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nr; i++) {
		const struct mem_region *r = &gm->r[i];

		/* Written so that no sum can overflow on hostile values. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		return len > r->size - (gpa - r->gpa) ? NULL : r;
	}
	return NULL;
}

static void mark(const struct mem_region *r, uint64_t gpa, uint64_t len)
{
	if (r->dirty && len)
		gm_dirty_mark(r->dirty, (gpa - r->gpa) >> 12,
			      (gpa - r->gpa + len - 1) >> 12);
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = region_of(gm, gpa, len);

	if (!r)
		return NULL;
	/* Conservative: a read marks the pages too (mvm/mem_file.h). */
	mark(r, gpa, len);
	return r->hva + (gpa - r->gpa);
}

void gm_mark_written(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r;

	if (!gm_dirty_tracking(gm))
		return;
	r = region_of(gm, gpa, len);
	if (r)
		mark(r, gpa, len);
}

bool gm_is_ram(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	return gm_ptr(gm, gpa, len) != NULL;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
	     uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	uint64_t end = 0;

	for (int i = 0; i < gm->nr; i++) {
		const struct mem_region *r = &gm->r[i];

		if (r->gpa < MEM_HOLE_END && r->gpa + r->size > end)
			end = r->gpa + r->size;
	}
	return end;
}
