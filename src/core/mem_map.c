/*
 * Restore, File backend: guest RAM is the memory file itself, mapped
 * MAP_PRIVATE. Nothing is read up front: the kernel reads a page when the
 * guest (or a device) first touches it, holes read as zeros, and a write
 * copies the page into the process, so the file never changes. A
 * checkpoint's apply maps a memory file the same way over the RAM a VM
 * already has, at the same addresses (gm_remap_file).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

/* Region r of the file over a fresh 2 MiB-aligned area of RAM. */
static int map_region(struct guest_mem *gm, const struct gm_file_region *r,
		      unsigned i, const char *path, struct mvm_err *err)
{
	uint8_t *base, *hva;
	uint64_t len;
	void *m;
	int ret;

	/* The area is reserved as RAM is, then the file goes over it. */
	ret = gm_map_ram(r->size, GM_PAGES_SMALL, &base, &len, &hva, err);
	if (ret)
		return ret;
	/*
	 * MAP_NORESERVE: writable private mappings are charged in full
	 * against the overcommit limit otherwise; RAM is touched lazily.
	 */
	m = mmap(hva, r->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, gm->file_fd,
		 (off_t)r->offset);
	if (m == MAP_FAILED) {
		ret = -errno;
		munmap(base, len);
		return mvm_fail(err, ret, "%s: cannot map region %u (%llu "
				"bytes at %llu): %s", path, i,
				(unsigned long long)r->size,
				(unsigned long long)r->offset, strerror(-ret));
	}
	ret = gm_region_add(gm, r->gpa, r->size, base, len, hva, err);
	if (!ret)
		gm->r[gm->nr - 1].file_off = r->offset;
	return ret;
}

/* The memory file at path, if it holds every region of r: its fd. */
static int open_for_layout(const char *path, const struct gm_file_region *r,
			   unsigned n, struct mvm_err *err)
{
	off_t size = 0;
	int fd = gm_open_regular(path, O_RDONLY, &size, err);
	int ret;

	if (fd < 0)
		return fd;
	ret = gm_file_layout_check(r, n, (uint64_t)size, err);
	if (ret) {
		close(fd);
		return mvm_wrap(err, ret, "%s: ", path);
	}
	return fd;
}

int gm_map_file(struct guest_mem *gm, const struct gm_file_region *r,
		unsigned n, const char *path, struct mvm_err *err)
{
	int fd, ret = 0;

	memset(gm, 0, sizeof(*gm));
	fd = open_for_layout(path, r, n, err);
	if (fd < 0)
		return fd;
	gm->backing = GM_BACKING_FILE;
	gm->file_fd = fd;
	for (unsigned i = 0; !ret && i < n; i++)
		ret = map_region(gm, &r[i], i, path, err);
	if (ret)
		gm_free(gm); /* closes fd */
	return ret;
}

/* Region i of gm becomes its part of the file fd, at the same address. */
static int remap_region(struct guest_mem *gm, int i, int fd,
			const struct gm_file_region *r, const char *path,
			struct mvm_err *err)
{
	struct mem_region *m = &gm->r[i];
	void *p;

	p = mmap(m->hva, m->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)r->offset);
	if (p == MAP_FAILED)
		return mvm_fail(err, -errno, "%s: cannot map region %d (%llu "
				"bytes at %llu) over guest RAM: %s", path, i,
				(unsigned long long)m->size,
				(unsigned long long)r->offset, strerror(errno));
	/* A new mapping: kept out of forked children again. */
	madvise(m->hva, m->size, MADV_DONTFORK);
	m->file_off = r->offset;
	if (m->dirty && m->size >= GM_PAGE)
		gm_dirty_mark(m->dirty, 0, m->size / GM_PAGE - 1);
	return 0;
}

/* What backed RAM before a remap: nothing maps it any more. */
static void let_go_backing(struct guest_mem *gm)
{
	if (gm->backing == GM_BACKING_FILE)
		close(gm->file_fd);
	if (gm->backing == GM_BACKING_UFFD) {
		close(gm->uffd);
		if (gm->uffd_sock >= 0)
			close(gm->uffd_sock);
	}
}

int gm_remap_file(struct guest_mem *gm, const char *path,
		  struct mvm_err *err)
{
	struct gm_file_region r[MEM_MAX_REGIONS];
	unsigned n = 0;
	int fd, ret = 0;

	gm_file_layout(gm, r, &n);
	fd = open_for_layout(path, r, n, err);
	if (fd < 0)
		return fd;
	for (unsigned i = 0; !ret && i < n; i++)
		ret = remap_region(gm, (int)i, fd, &r[i], path, err);
	if (ret) {
		close(fd); /* the regions mapped hold the file themselves */
		return ret;
	}
	let_go_backing(gm);
	gm->backing = GM_BACKING_FILE;
	gm->file_fd = fd;
	return 0;
}
