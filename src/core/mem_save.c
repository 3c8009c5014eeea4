/*
 * Writing guest RAM into a memory file (mvm/mem_file.h): Full and Diff.
 *
 * A Full snapshot must not cost what RAM is, but what the guest used: a
 * 1 GiB guest that touched 100 MiB writes about 100 MiB. So each region
 * is scanned a chunk at a time: /proc/self/pagemap says which pages the
 * process has (present or swapped out): the others were never touched
 * and are zero without a read (on a File backend, only where the memory
 * file has a hole too; pages of a Uffd backend are all read, as only the
 * handler knows them; mem_present.c). Touched pages are checked for zeros and the rest
 * written as runs of whole pages into a file sized first, so that
 * everything not written is a hole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mem_priv.h"

#define CHUNK_PAGES 8192u /* 32 MiB at a time */
/*
 * A run is written once it is 256 KiB long, or ends. Larger writes let the page cache
 * take large folios, and where freed memory of that order has gone back
 * to the host (a VM's free page reporting) each costs a host fault per
 * page: on such a host (PVM, ext4) 1 GiB in writes of 4 MiB or more took
 * 2.5-3 s of CPU, in writes of 64-256 KiB 0.3 s, the same as on the
 * host's fast days. Two threads writing were no faster.
 */
#define WRITE_MAX (UINT64_C(256) << 10)

struct saver {
	int fd;
	struct gm_present present; /* which pages a Full save reads */
	bool touched[CHUNK_PAGES];
	uint64_t written;
	/* The run of pages not yet written: from src, at off in the file. */
	const uint8_t *src;
	uint64_t off, len;
	struct mvm_err *err;
};

static int flush(struct saver *s)
{
	while (s->len) {
		size_t want = s->len < WRITE_MAX ? (size_t)s->len : WRITE_MAX;
		ssize_t n = pwrite(s->fd, s->src, want, (off_t)s->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mvm_fail(s->err, n ? -errno : -EIO, "memory "
					"file: write of %zu bytes at %llu: %s",
					want,
					(unsigned long long)s->off,
					n ? strerror(errno) : "no progress");
		s->src += n;
		s->off += (uint64_t)n;
		s->len -= (uint64_t)n;
		s->written += (uint64_t)n;
	}
	return 0;
}

/* Pages [src, src+len) go to off: they join the run, or start one. */
static int add(struct saver *s, const uint8_t *src, uint64_t off,
	       uint64_t len)
{
	int ret;

	if (s->len && s->src + s->len == src && s->off + s->len == off &&
	    s->len + len <= WRITE_MAX) {
		s->len += len;
		return 0;
	}
	ret = flush(s);
	s->src = src;
	s->off = off;
	s->len = len;
	return ret;
}

static int save_region_full(struct saver *s, const struct guest_mem *gm,
			    const struct mem_region *r, uint64_t off)
{
	uint64_t pages = r->size / GM_PAGE;
	int ret;

	for (uint64_t c = 0; c < pages; c += CHUNK_PAGES) {
		unsigned n = pages - c < CHUNK_PAGES ? (unsigned)(pages - c) :
						       CHUNK_PAGES;

		gm_present_find(&s->present, gm, r, c, n, s->touched);
		for (unsigned p = 0; p < n; p++) {
			const uint8_t *page = r->hva + (c + p) * GM_PAGE;

			if (!s->touched[p] || gm_page_is_zero(page))
				continue;
			ret = add(s, page, off + (c + p) * GM_PAGE, GM_PAGE);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* An empty file of the layout's size: whatever is not written, a hole. */
static int prepare(const struct guest_mem *gm, int fd, struct mvm_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return mvm_fail(err, -errno, "memory file: %s",
				strerror(errno));
	if (!S_ISREG(st.st_mode))
		return mvm_fail(err, -EINVAL, "memory file: not a regular "
				"file");
	/* pwrite would append, whatever its offset says. */
	if (fcntl(fd, F_GETFL) & O_APPEND)
		return mvm_fail(err, -EINVAL, "memory file: opened for "
				"appending (O_APPEND)");
	for (int i = 0; i < gm->nr; i++)
		if (gm->r[i].size % GM_PAGE)
			return mvm_fail(err, -EINVAL, "memory: region %d's "
					"size %llu is not whole 4 KiB pages", i,
					(unsigned long long)gm->r[i].size);
	/*
	 * Emptied first, so that no old byte survives in a hole. Only when
	 * there is something to empty: ext4 writes back on close a file
	 * truncated to 0 and rewritten (its auto_da_alloc), a cost of 0.1-0.2
	 * s per 256 MiB that a new file does not pay.
	 */
	if ((st.st_size && ftruncate(fd, 0) < 0) ||
	    ftruncate(fd, (off_t)gm->ram_size) < 0)
		return mvm_fail(err, -errno, "memory file: cannot size it to "
				"%llu bytes: %s",
				(unsigned long long)gm->ram_size,
				strerror(errno));
	return 0;
}

static struct saver *saver_new(int fd, struct mvm_err *err)
{
	struct saver *s = calloc(1, sizeof(*s));

	if (!s) {
		mvm_fail(err, -ENOMEM, "out of memory");
		return NULL;
	}
	s->fd = fd;
	s->err = err;
	s->present.pagemap = -1;
	return s;
}

/* The dirty pages of one region, zero or not, as runs. */
static int save_region_diff(struct saver *s, const struct mem_region *r,
			    const unsigned long *bm, uint64_t off)
{
	uint64_t pages = r->size / GM_PAGE;
	int ret;

	for (uint64_t p = 0; bm && p < pages;) {
		unsigned long w = bm[p / 64] >> (p % 64);
		uint64_t run;

		if (!w) {
			p = (p / 64 + 1) * 64; /* the next word */
			continue;
		}
		p += (uint64_t)__builtin_ctzl(w); /* the first dirty page */
		w = bm[p / 64] >> (p % 64);
		run = ~w ? (uint64_t)__builtin_ctzl(~w) : 64 - p % 64;
		if (run > pages - p)
			run = pages - p; /* bits past the region's end */
		ret = add(s, r->hva + p * GM_PAGE, off + p * GM_PAGE,
			  run * GM_PAGE);
		if (ret)
			return ret;
		p += run;
	}
	return 0;
}

/*
 * The regions in order: all of each (dirty NULL, pages never touched
 * skipped with the pagemap's help) or the pages dirty[i] marks.
 */
static int save(const struct guest_mem *gm, int fd,
		unsigned long *const dirty[], uint64_t *data_bytes,
		struct mvm_err *err)
{
	struct saver *s;
	uint64_t off = 0;
	int ret = prepare(gm, fd, err);

	if (ret)
		return ret;
	s = saver_new(fd, err);
	if (!s)
		return -ENOMEM;
	if (!dirty)
		gm_present_open(&s->present, gm);
	for (int i = 0; !ret && i < gm->nr; i++) {
		ret = dirty ? save_region_diff(s, &gm->r[i], dirty[i], off) :
			      save_region_full(s, gm, &gm->r[i], off);
		off += gm->r[i].size;
	}
	if (!ret)
		ret = flush(s);
	*data_bytes = s->written;
	gm_present_close(&s->present);
	free(s);
	return ret;
}

int gm_save_full(const struct guest_mem *gm, int fd, uint64_t *data_bytes,
		 struct mvm_err *err)
{
	return save(gm, fd, NULL, data_bytes, err);
}

int gm_save_diff(const struct guest_mem *gm, int fd,
		 unsigned long *const dirty[], uint64_t *data_bytes,
		 struct mvm_err *err)
{
	return save(gm, fd, dirty, data_bytes, err);
}
