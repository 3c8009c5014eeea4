/*
 * Guest RAM: anonymous memory, 2 MiB-aligned and offered to transparent
 * huge pages, as QEMU does. KVM then maps guest memory with 2 MiB pages
 * wherever the host has them, so a guest touching fresh memory takes one
 * fault per 2 MiB instead of per 4 KiB: under nested virtualization, where
 * every such fault is an exit to L1, that alone cuts a Linux boot by a
 * third. (A memfd cannot have this: shmem huge pages are off by default.)
 * Mapping into KVM is done by the VM (vm.c); this file only owns the host
 * side and bounds checks.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem.h"

#define HUGE_2M (UINT64_C(2) << 20)

static int add_anon_region(struct guest_mem *gm, uint64_t gpa, uint64_t size,
			   struct mvm_err *err)
{
	struct mem_region *r;
	uint8_t *base, *hva;
	uint64_t len = size + HUGE_2M; /* room to align the start */

	if (gm->nr >= MEM_MAX_REGIONS)
		return mvm_fail(err, -ENOSPC, "memory: too many regions");
	/* MAP_NORESERVE: RAM is touched lazily, so RSS reflects guest use. */
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return mvm_fail(err, -errno, "memory: mmap of %llu MiB: %s",
				(unsigned long long)(size >> 20),
				strerror(errno));
	/* gpa is 2 MiB-aligned: so must hva be, for KVM's huge mappings. */
	hva = (uint8_t *)(((uintptr_t)base + HUGE_2M - 1) &
			  ~(uintptr_t)(HUGE_2M - 1));
	/* Hints: a host without THP, or an old one, still runs the guest. */
	madvise(hva, size, MADV_HUGEPAGE);
	/* A fork (the async teardown's) must not copy or share guest RAM. */
	madvise(hva, size, MADV_DONTFORK);
	r = &gm->r[gm->nr++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->map_base = base;
	r->map_len = len;
	gm->ram_size += size;
	return 0;
}

int gm_alloc(struct guest_mem *gm, uint64_t ram_bytes, struct mvm_err *err)
{
	uint64_t low = ram_bytes < MEM_HOLE_START ? ram_bytes : MEM_HOLE_START;
	int ret;

	memset(gm, 0, sizeof(*gm));
	if (ram_bytes < (2ULL << 20))
		return mvm_fail(err, -EINVAL, "memory: at least 2 MiB is needed");
	ret = add_anon_region(gm, 0, low, err);
	if (ret == 0 && ram_bytes > low)
		ret = add_anon_region(gm, MEM_HOLE_END, ram_bytes - low, err);
	if (ret)
		gm_free(gm);
	return ret;
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
	gm->ram_size += size;
	return 0;
}

void gm_free(struct guest_mem *gm)
{
	for (int i = 0; i < gm->nr; i++) {
		struct mem_region *r = &gm->r[i];

		if (r->map_base)
			munmap(r->map_base, r->map_len);
	}
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < gm->nr; i++) {
		const struct mem_region *r = &gm->r[i];

		/* Written so that no sum can overflow on hostile values. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
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
