/*
 * Guest RAM. Regions are memfd-backed so that snapshots, migration and the
 * balloon can later work on the same pages by fd. Mapping into KVM is done
 * by the VM (vm.c); this file only owns the host side and bounds checks.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem.h"

static int add_memfd_region(struct guest_mem *gm, uint64_t gpa, uint64_t size,
			    struct mvm_err *err)
{
	struct mem_region *r;
	void *hva;
	int fd;

	if (gm->nr >= MEM_MAX_REGIONS)
		return mvm_fail(err, -ENOSPC, "memory: too many regions");
	fd = memfd_create("mvm-ram", MFD_CLOEXEC);
	if (fd < 0)
		return mvm_fail(err, -errno, "memory: memfd_create: %s",
				strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		return mvm_fail(err, -e, "memory: cannot size %llu MiB: %s",
				(unsigned long long)(size >> 20), strerror(e));
	}
	/* MAP_NORESERVE: RAM is touched lazily, so RSS reflects guest use. */
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (hva == MAP_FAILED) {
		int e = errno;
		close(fd);
		return mvm_fail(err, -e, "memory: mmap of %llu MiB: %s",
				(unsigned long long)(size >> 20), strerror(e));
	}
	r = &gm->r[gm->nr++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->memfd = fd;
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
	ret = add_memfd_region(gm, 0, low, err);
	if (ret == 0 && ram_bytes > low)
		ret = add_memfd_region(gm, MEM_HOLE_END, ram_bytes - low, err);
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
	r->memfd = -1;
	gm->ram_size += size;
	return 0;
}

void gm_free(struct guest_mem *gm)
{
	for (int i = 0; i < gm->nr; i++) {
		struct mem_region *r = &gm->r[i];

		if (r->memfd < 0)
			continue; /* caller-owned */
		munmap(r->hva, r->size);
		close(r->memfd);
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
