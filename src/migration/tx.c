/*
 * The source's page batcher: guest RAM into PAGES sections, a buffer at
 * a time, resumable at a cursor. The guest runs meanwhile (every pass
 * but the last), so a page is copied into the buffer first and its CRC
 * taken from the copy: the bytes sent are the bytes summed, and a page
 * written after its copy is dirty again for the next pass.
 *
 * The first pass sends what a Full snapshot writes: pages RAM has
 * (gm_pages_present) and that are not all zero; the destination's RAM
 * starts zeroed. Later passes send every dirty page: a page that became
 * zero must be zeroed there too, which a ZERO section does in 40 bytes.
 */
#include "mig_priv.h"

/* Pages asked of pagemap at once in the first pass (8 KiB of flags). */
#define WINDOW 8192u
#define SECTION_HEAD (MIG_HDR_SIZE + MIG_PAGES_HDR)

struct filler {
	const struct guest_mem *gm;
	uint8_t *buf;
	size_t cap, used;
	struct mig_tx_stats *st;
};

/* Pages of a DATA section that still fit: 0 when not even one does. */
static uint64_t data_room(const struct filler *f)
{
	size_t left = f->cap - f->used;

	return left < SECTION_HEAD ? 0 : (left - SECTION_HEAD) / MIG_PAGE;
}

/* One PAGES section for n pages of region r from page first on. */
static void put_pages(struct filler *f, const struct mem_region *r,
		      uint64_t first, uint32_t n, enum mig_pages_kind kind)
{
	uint8_t *h = f->buf + f->used, *p = h + MIG_HDR_SIZE;
	size_t data = kind == MIG_PAGES_DATA ? (size_t)n * MIG_PAGE : 0;

	mig_put64(p, r->gpa + first * MIG_PAGE);
	mig_put32(p + 8, n);
	mig_put32(p + 12, kind);
	if (data)
		memcpy(p + MIG_PAGES_HDR, r->hva + first * MIG_PAGE, data);
	mig_hdr_put(h, MIG_PAGES, MIG_PAGES_HDR + data,
		    mig_crc32c(0, p, MIG_PAGES_HDR + data));
	f->used += SECTION_HEAD + data;
	if (kind == MIG_PAGES_DATA)
		f->st->pages_data += n;
	else
		f->st->pages_zero += n;
}

/*
 * First pass, region r from c->page on: runs of pages present and not
 * zero. False when the buffer is full (c is where to go on).
 */
static bool fill_present(struct filler *f, int ri, struct mig_tx_cursor *c)
{
	const struct mem_region *r = &f->gm->r[ri];
	uint64_t pages = r->size / MIG_PAGE;
	bool touched[WINDOW];

	while (c->page < pages) {
		/*
		 * Not much further than this buffer can take: what is past
		 * it is asked again next time. Skipped pages take no room.
		 */
		uint64_t w = pages - c->page, first = c->page, i = 0;

		if (w > data_room(f) + 512)
			w = data_room(f) + 512;
		if (w > WINDOW)
			w = WINDOW;
		if (gm_pages_present(f->gm, ri, first, w, touched))
			memset(touched, 1, w); /* cannot tell: read them */
		while (i < w) {
			uint64_t n = 0, room = data_room(f);

			if (!touched[i] ||
			    gm_page_is_zero(r->hva + (first + i) * MIG_PAGE)) {
				f->st->pages_skipped++;
				c->page = first + ++i;
				continue;
			}
			if (!room)
				return false;
			while (i + n < w && n < MIG_PAGES_MAX && n < room &&
			       (n == 0 || (touched[i + n] &&
					   !gm_page_is_zero(r->hva +
							    (first + i + n) *
								    MIG_PAGE))))
				n++;
			put_pages(f, r, first + i, (uint32_t)n, MIG_PAGES_DATA);
			i += n;
			c->page = first + i;
		}
	}
	return true;
}

/* The first dirty page of bm at or after p, or pages if none. */
static uint64_t next_dirty(const unsigned long *bm, uint64_t p,
			   uint64_t pages)
{
	while (p < pages) {
		unsigned long w = bm[p / 64] >> (p % 64);

		if (w)
			return p + (uint64_t)__builtin_ctzl(w) < pages ?
				       p + (uint64_t)__builtin_ctzl(w) : pages;
		p = (p / 64 + 1) * 64;
	}
	return pages;
}

static bool dirty_at(const unsigned long *bm, uint64_t p)
{
	return bm[p / 64] >> (p % 64) & 1;
}

/*
 * Later passes, region r from c->page on: runs of dirty pages, all zero
 * (ZERO) or none zero (DATA). False when the buffer is full.
 */
static bool fill_dirty(struct filler *f, int ri, const unsigned long *bm,
		       struct mig_tx_cursor *c)
{
	const struct mem_region *r = &f->gm->r[ri];
	uint64_t pages = r->size / MIG_PAGE;

	while (bm && (c->page = next_dirty(bm, c->page, pages)) < pages) {
		const uint8_t *at = r->hva + c->page * MIG_PAGE;
		bool zero = gm_page_is_zero(at);
		uint64_t n = 1, room = zero ? MIG_PAGES_MAX : data_room(f);

		if (f->cap - f->used < SECTION_HEAD || !room)
			return false;
		if (room > MIG_PAGES_MAX)
			room = MIG_PAGES_MAX;
		while (n < room && c->page + n < pages &&
		       dirty_at(bm, c->page + n) &&
		       gm_page_is_zero(at + n * MIG_PAGE) == zero)
			n++;
		put_pages(f, r, c->page, (uint32_t)n,
			  zero ? MIG_PAGES_ZERO : MIG_PAGES_DATA);
		c->page += n;
	}
	return true;
}

size_t mig_tx_fill(const struct guest_mem *gm, unsigned long *const dirty[],
		   struct mig_tx_cursor *c, void *buf, size_t cap,
		   struct mig_tx_stats *st)
{
	struct mig_tx_stats ignored = { 0 };
	struct filler f = { .gm = gm, .buf = buf, .cap = cap,
			    .st = st ? st : &ignored };

	while (!c->done) {
		if (c->region < 0 || c->region >= gm->nr) {
			c->done = true;
			break;
		}
		if (!(dirty ? fill_dirty(&f, c->region, dirty[c->region], c) :
			      fill_present(&f, c->region, c)))
			break;
		c->region++;
		c->page = 0;
	}
	return f.used;
}

uint64_t mig_dirty_count(const struct guest_mem *gm,
			 unsigned long *const dirty[])
{
	uint64_t n = 0;

	for (int i = 0; dirty && i < gm->nr; i++) {
		const unsigned long *bm = dirty[i];
		uint64_t pages = gm->r[i].size / MIG_PAGE;

		for (uint64_t w = 0; bm && w * 64 < pages; w++) {
			unsigned long v = bm[w];

			/* Bits past the region's end are no pages. */
			if (pages - w * 64 < 64)
				v &= (1UL << (pages - w * 64)) - 1;
			n += (uint64_t)__builtin_popcountl(v);
		}
	}
	return n;
}
