/* virtio-blk from the guest: write, flush, read back, ids, limits. */
#include "../lib/cmdline.h"
#include "../lib/palloc.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "tests.h"

#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_MQ 12
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define MSIX_BASE 0x40
#define NSECT 8
#define BYTES (NSECT * 512)

struct req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static uint8_t *scratch; /* header at 0, status at 64 */

bool blk_setup(struct vdev *d, uint64_t want, uint16_t qsize)
{
	if (!scratch)
		scratch = palloc_page();
	if (!vdev_open(d, VIRTIO_ID_BLOCK, 0)) {
		fail("blk open", "no virtio-blk device");
		return false;
	}
	if (!vdev_negotiate(d, want)) {
		fail("blk features", "FEATURES_OK refused");
		return false;
	}
	vdev_msix(d, MSIX_BASE);
	if (!vdev_queue(d, 0, qsize, 0)) {
		fail("blk queue", "cannot set up queue 0");
		return false;
	}
	vdev_driver_ok(d);
	return true;
}

int blk_rw(struct vdev *d, uint32_t type, uint64_t sector, void *data,
	   uint32_t len, int *used_len)
{
	struct req_hdr *h = (struct req_hdr *)scratch;
	volatile uint8_t *status = scratch + 64;
	struct vbuf b[3];
	unsigned n = 0;
	int used;

	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	*status = 0xee;
	b[n++] = (struct vbuf){ (uintptr_t)h, sizeof(*h), false };
	if (len)
		b[n++] = (struct vbuf){ (uintptr_t)data, len,
					type == T_IN || type == T_GET_ID };
	b[n++] = (struct vbuf){ (uintptr_t)status, 1, true };
	used = vq_call(&d->q[0], b, n);
	if (used_len)
		*used_len = used;
	return used < 0 ? -1 : *status;
}

static void fill(uint8_t *buf, uint64_t sector, unsigned nsect)
{
	for (unsigned s = 0; s < nsect; s++)
		for (unsigned i = 0; i < 512; i++)
			buf[s * 512 + i] = disk_pattern(sector + s, i);
}

static bool all_zero(const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void zeroes_and_discard(struct vdev *d, uint64_t sector, uint8_t *buf)
{
	struct { uint64_t sector; uint32_t num; uint32_t flags; } seg;
	int st;

	if (d->features & VBIT(BLK_F_WRITE_ZEROES)) {
		fill(buf, sector, NSECT);
		blk_rw(d, T_OUT, sector, buf, BYTES, NULL);
		seg.sector = sector;
		seg.num = NSECT;
		seg.flags = 0;
		st = blk_rw(d, T_WRITE_ZEROES, 0, &seg, sizeof(seg), NULL);
		memset(buf, 0xaa, BYTES);
		blk_rw(d, T_IN, sector, buf, BYTES, NULL);
		check("blk write zeroes", st == S_OK && all_zero(buf, BYTES),
		      "status %d", st);
	} else {
		fail("blk write zeroes", "not offered");
	}
	if (d->features & VBIT(BLK_F_DISCARD)) {
		seg.sector = sector + NSECT;
		seg.num = NSECT;
		seg.flags = 0;
		st = blk_rw(d, T_DISCARD, 0, &seg, sizeof(seg), NULL);
		check("blk discard", st == S_OK, "status %d", st);
		seg.flags = 1; /* unmap is reserved for discard */
		st = blk_rw(d, T_DISCARD, 0, &seg, sizeof(seg), NULL);
		check("blk discard flags", st == S_UNSUPP, "status %d", st);
	} else {
		fail("blk discard", "not offered");
	}
}

static void get_id(struct vdev *d, const struct bootinfo *bi)
{
	char want[24] = "", got[21];
	int used, st;

	cmdline_str(bi->cmdline, "id", want, sizeof(want));
	memset(got, 0, sizeof(got));
	st = blk_rw(d, T_GET_ID, 0, got, 20, &used);
	check("blk get id", st == S_OK && !strcmp(got, want),
	      "status %d id '%s', want '%s'", st, got, want);
}

void test_blk(const struct bootinfo *bi)
{
	uint64_t want = ring_features(bi) | VBIT(BLK_F_SEG_MAX) |
			VBIT(BLK_F_BLK_SIZE) | VBIT(BLK_F_FLUSH) |
			VBIT(BLK_F_MQ) | VBIT(BLK_F_DISCARD) |
			VBIT(BLK_F_WRITE_ZEROES);
	uint64_t sector = cmdline_u64_or(bi->cmdline, "sector", 0);
	uint8_t *buf = palloc_pages(2), *back = palloc_pages(2);
	struct vdev d;
	uint64_t cap;
	int st, used;

	if (!blk_setup(&d, want, 0))
		return;
	cap = vdev_cfg64(&d, 0);
	kprintf("blk capacity %llu sectors, %u queue(s), features 0x%llx\n",
		(unsigned long long)cap, d.nqueues,
		(unsigned long long)d.features);
	check("blk capacity",
	      cap == cmdline_u64_or(bi->cmdline, "sectors", 0),
	      "%llu sectors", (unsigned long long)cap);
	check("blk queues", d.nqueues == cmdline_u64_or(bi->cmdline,
							 "queues", 1),
	      "%u queues", d.nqueues);

	fill(buf, sector, NSECT);
	st = blk_rw(&d, T_OUT, sector, buf, BYTES, &used);
	check("blk write", st == S_OK && used == 1, "status %d used %d", st,
	      used);
	st = blk_rw(&d, T_FLUSH, 0, NULL, 0, NULL);
	check("blk flush", st == S_OK, "status %d", st);
	memset(back, 0, BYTES);
	st = blk_rw(&d, T_IN, sector, back, BYTES, &used);
	check("blk read back", st == S_OK && used == BYTES + 1 &&
	      !memcmp(buf, back, BYTES), "status %d used %d", st, used);
	check("blk msix", lapic_irr(MSIX_BASE), "vector 0x%x not pending",
	      MSIX_BASE);
	get_id(&d, bi);

	st = blk_rw(&d, T_IN, cap, back, 512, NULL);
	check("blk beyond the end", st == S_IOERR, "status %d", st);
	st = blk_rw(&d, T_IN, cap - 1, back, 1024, NULL);
	check("blk across the end", st == S_IOERR, "status %d", st);
	st = blk_rw(&d, T_IN, 0, back, 100, NULL);
	check("blk partial sector", st == S_IOERR, "status %d", st);
	st = blk_rw(&d, 99, 0, NULL, 0, NULL);
	check("blk unknown type", st == S_UNSUPP, "status %d", st);
	zeroes_and_discard(&d, sector + NSECT, buf);
}

void test_blk_ro(const struct bootinfo *bi)
{
	uint64_t want = ring_features(bi) | VBIT(BLK_F_RO) |
			VBIT(BLK_F_FLUSH);
	uint8_t *buf = palloc_pages(2), *back = palloc_pages(2);
	struct vdev d;
	int st;

	if (!blk_setup(&d, want, 0))
		return;
	check("blk ro offered", d.features & VBIT(BLK_F_RO),
	      "features 0x%llx", (unsigned long long)d.features);
	fill(buf, 0, NSECT);
	st = blk_rw(&d, T_IN, 0, back, BYTES, NULL);
	check("blk ro read", st == S_OK && !memcmp(buf, back, BYTES),
	      "status %d", st);
	memset(back, 0x5a, BYTES);
	st = blk_rw(&d, T_OUT, 0, back, BYTES, NULL);
	check("blk ro refuses writes", st == S_IOERR, "status %d", st);
	st = blk_rw(&d, T_FLUSH, 0, NULL, 0, NULL);
	check("blk ro flush", st == S_OK, "status %d", st);
	get_id(&d, bi);
}
