/*
 * Split virtqueues against a driver written out by hand in a fake guest
 * memory: well-formed chains come back as iovecs into that memory, every
 * malformed shape is refused with the right kind of error, and the
 * EVENT_IDX arithmetic matches the spec.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/mem_file.h"
#include "mvm/virtio.h"

#define GPA_BASE 0x100000ULL
#define MEM_SIZE (1u << 20)
#define QSZ 8
#define DESC_GPA (GPA_BASE + 0x0000)
#define AVAIL_GPA (GPA_BASE + 0x1000)
#define USED_GPA (GPA_BASE + 0x2000)
#define DATA_GPA (GPA_BASE + 0x10000)

struct fixture {
	struct guest_mem gm;
	uint8_t *ram;
	struct virtq vq;
	struct iovec iov[64];
	struct virtq_chain c;
};

static struct fixture f;

static void *at(uint64_t gpa)
{
	return f.ram + (gpa - GPA_BASE);
}

static struct virtq_desc *desc(unsigned i)
{
	return (struct virtq_desc *)at(DESC_GPA) + i;
}

static uint16_t *avail(void)
{
	return at(AVAIL_GPA);
}

static uint16_t *used(void)
{
	return at(USED_GPA);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	*desc(i) = (struct virtq_desc){ addr, len, flags, next };
}

static void make_avail(uint16_t head)
{
	uint16_t idx = avail()[1];

	avail()[2 + (idx % QSZ)] = head;
	avail()[1] = (uint16_t)(idx + 1);
}

static void setup(uint64_t features)
{
	const char *why = NULL;

	free(f.ram);
	memset(&f, 0, sizeof(f));
	f.ram = calloc(1, MEM_SIZE);
	cr_assert_eq(gm_add_host(&f.gm, GPA_BASE, f.ram, MEM_SIZE), 0);
	cr_assert_eq(virtq_init(&f.vq, &f.gm, QSZ, DESC_GPA, AVAIL_GPA,
				USED_GPA, features, &why), 0, "%s", why);
}

static void teardown(void)
{
	free(f.ram);
	f.ram = NULL;
}

static int pop(void)
{
	return virtq_pop(&f.vq, &f.c, f.iov, 64);
}

static void plain(void)
{
	setup(VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
}

TestSuite(virtqueue, .init = plain, .fini = teardown);

Test(virtqueue, empty_ring_pops_nothing)
{
	cr_assert_eq(pop(), 0);
	cr_assert_eq(virtq_pending(&f.vq), 0);
}

Test(virtqueue, chain_becomes_iovecs_into_guest_memory)
{
	set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 3);
	set_desc(3, DATA_GPA + 0x100, 512, VIRTQ_DESC_F_NEXT |
		 VIRTQ_DESC_F_WRITE, 5);
	set_desc(5, DATA_GPA + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(virtq_pending(&f.vq), 1);
	cr_assert_eq(pop(), 1, "%s", f.c.error);
	cr_assert_eq(f.c.head, 0);
	cr_assert_eq(f.c.nr_out, 1);
	cr_assert_eq(f.c.nr_in, 2);
	cr_assert_eq(f.c.out_len, 16);
	cr_assert_eq(f.c.in_len, 513);
	cr_assert_eq(f.iov[0].iov_base, at(DATA_GPA));
	cr_assert_eq(f.iov[1].iov_base, at(DATA_GPA + 0x100));
	cr_assert_eq(f.iov[2].iov_len, 1);
	cr_assert_eq(pop(), 0);
}

Test(virtqueue, used_ring_is_published_in_order)
{
	set_desc(1, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(1);
	cr_assert_eq(pop(), 1);
	virtq_push(&f.vq, f.c.head, 8);
	cr_assert_eq(used()[1], 0, "idx moved before publish");
	virtq_publish(&f.vq);
	cr_assert_eq(used()[1], 1);
	struct virtq_used_elem *e = (void *)&used()[2];
	cr_assert_eq(e[0].id, 1);
	cr_assert_eq(e[0].len, 8);
}

/* Bit p of a dirty bitmap: page p of the fixture's one region. */
static bool page_marked(const unsigned long *bm, uint64_t gpa)
{
	uint64_t p = (gpa - GPA_BASE) >> 12;

	return bm[p / 64] >> (p % 64) & 1;
}

/*
 * A migration's collect can come between the pop (which marks the
 * buffers, before the device writes them) and the completion: the push
 * marks the chain's writable buffers again, and publishing marks the used
 * ring, whose pointer virtq_init took long before. Readable buffers are
 * not marked again.
 */
Test(virtqueue, completion_marks_what_the_device_wrote)
{
	struct mvm_err err = { .msg = "" };
	unsigned long bm[MEM_SIZE / 4096 / 64];

	cr_assert_eq(gm_dirty_track(&f.gm, &err), 0, "%s", err.msg);
	set_desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA + 0x5000, 0x2000, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(pop(), 1, "%s", f.c.error);
	memset(bm, 0, sizeof(bm));
	gm_dirty_take(&f.gm, 0, bm); /* a pass's collect */
	memset(bm, 0, sizeof(bm));
	virtq_push(&f.vq, f.c.head, 0x2000);
	virtq_publish(&f.vq);
	gm_dirty_take(&f.gm, 0, bm);
	cr_assert(page_marked(bm, DATA_GPA + 0x5000));
	cr_assert(page_marked(bm, DATA_GPA + 0x6000));
	cr_assert_not(page_marked(bm, DATA_GPA + 0x7000));
	cr_assert_not(page_marked(bm, DATA_GPA), "readable: not written");
	cr_assert(page_marked(bm, USED_GPA));
	/* Suppressing or asking for kicks writes the used ring too. */
	memset(bm, 0, sizeof(bm));
	virtq_notify_disable(&f.vq);
	gm_dirty_take(&f.gm, 0, bm);
	cr_assert(page_marked(bm, USED_GPA));
	memset(bm, 0, sizeof(bm));
	virtq_notify_enable(&f.vq);
	gm_dirty_take(&f.gm, 0, bm);
	cr_assert(page_marked(bm, USED_GPA));
	gm_free(&f.gm);
}

Test(virtqueue, unpop_gives_chains_back)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	set_desc(1, DATA_GPA + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	make_avail(1);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(pop(), 1);
	virtq_unpop(&f.vq, 1);
	cr_assert_eq(pop(), 1);
	cr_assert_eq(f.c.head, 1);
}

Test(virtqueue, zero_length_buffers_are_skipped_unchecked)
{
	set_desc(0, 0xdeadbeef000ULL, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(pop(), 1, "%s", f.c.error);
	cr_assert_eq(f.c.nr_out, 0);
	cr_assert_eq(f.c.nr_in, 1);
}

static void expect_bad_chain(const char *why_part)
{
	cr_assert_eq(pop(), -EBADMSG);
	cr_assert_not_null(f.c.error);
	cr_assert(strstr(f.c.error, why_part), "error '%s' lacks '%s'",
		  f.c.error, why_part);
	/* The head is consumed and known, so the device can fail it. */
	cr_assert_eq(virtq_pending(&f.vq), 0);
}

Test(virtqueue, loop_is_refused)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	make_avail(0);
	expect_bad_chain("loop");
}

Test(virtqueue, self_loop_is_refused)
{
	set_desc(2, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	make_avail(2);
	expect_bad_chain("loop");
}

Test(virtqueue, next_out_of_range_is_refused)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, QSZ);
	make_avail(0);
	expect_bad_chain("out of range");
}

Test(virtqueue, buffer_outside_ram_is_refused)
{
	set_desc(0, GPA_BASE + MEM_SIZE - 4, 8, 0, 0);
	make_avail(0);
	expect_bad_chain("outside");
	set_desc(0, UINT64_MAX - 3, 8, 0, 0);
	make_avail(0);
	expect_bad_chain("outside");
	set_desc(0, 0, 8, 0, 0);
	make_avail(0);
	expect_bad_chain("outside");
}

Test(virtqueue, readable_after_writable_is_refused)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(1, DATA_GPA, 8, 0, 0);
	make_avail(0);
	expect_bad_chain("readable descriptor after");
}

Test(virtqueue, chain_over_4gib_is_refused)
{
	/* A big region that is never touched: only its bounds matter. */
	uint64_t big = 6ULL << 30;
	void *p = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		       MAP_NORESERVE, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(gm_add_host(&f.gm, 1ULL << 32, p, big), 0);
	set_desc(0, 1ULL << 32, 0xc0000000u, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, (1ULL << 32) + 0xc0000000u, 0xc0000000u, 0, 0);
	make_avail(0);
	expect_bad_chain("4 GiB");
	munmap(p, big);
}

Test(virtqueue, too_many_segments_is_refused)
{
	for (unsigned i = 0; i < QSZ; i++)
		set_desc(i, DATA_GPA + i, 1, i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	make_avail(0);
	cr_assert_eq(virtq_pop(&f.vq, &f.c, f.iov, 4), -EBADMSG);
	cr_assert(strstr(f.c.error, "segments"));
}

Test(virtqueue, indirect_table_is_walked)
{
	struct virtq_desc *t = at(DATA_GPA + 0x1000);

	t[0] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2 };
	t[2] = (struct virtq_desc){ DATA_GPA + 64, 32, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct virtq_desc){ DATA_GPA + 128, 1, VIRTQ_DESC_F_WRITE, 0 };
	set_desc(4, DATA_GPA + 0x1000, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(4);
	cr_assert_eq(pop(), 1, "%s", f.c.error);
	cr_assert_eq(f.c.head, 4);
	cr_assert_eq(f.c.nr_out, 2);
	cr_assert_eq(f.c.nr_in, 1);
	cr_assert_eq(f.c.out_len, 48);
	cr_assert_eq(f.iov[1].iov_base, at(DATA_GPA + 64));
}

Test(virtqueue, indirect_rules)
{
	struct virtq_desc *t = at(DATA_GPA + 0x1000);

	/* A loop inside the table. */
	t[0] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0 };
	set_desc(0, DATA_GPA + 0x1000, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_bad_chain("loop");

	/* next beyond the table's own length. */
	t[1] = (struct virtq_desc){ DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2 };
	make_avail(0);
	expect_bad_chain("out of range");

	/* Nested tables. */
	t[0] = (struct virtq_desc){ DATA_GPA + 0x1000, 32,
				    VIRTQ_DESC_F_INDIRECT, 0 };
	make_avail(0);
	expect_bad_chain("nested");

	/* Length not a multiple of 16, zero, and outside RAM. */
	t[0] = (struct virtq_desc){ DATA_GPA, 16, 0, 0 };
	set_desc(0, DATA_GPA + 0x1000, 24, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_bad_chain("length");
	set_desc(0, DATA_GPA + 0x1000, 0, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_bad_chain("length");
	set_desc(0, GPA_BASE + MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_bad_chain("outside");

	/* INDIRECT together with NEXT. */
	set_desc(0, DATA_GPA + 0x1000, 16, VIRTQ_DESC_F_INDIRECT |
		 VIRTQ_DESC_F_NEXT, 1);
	make_avail(0);
	expect_bad_chain("NEXT");

	/* Still usable afterwards. */
	set_desc(0, DATA_GPA + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0);
	cr_assert_eq(pop(), 1, "%s", f.c.error);
}

Test(virtqueue, indirect_without_the_feature_is_refused)
{
	setup(0);
	set_desc(0, DATA_GPA + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_bad_chain("INDIRECT_DESC");
}

Test(virtqueue, broken_ring_needs_reset)
{
	avail()[2] = QSZ; /* head out of range */
	avail()[1] = 1;
	cr_assert_eq(pop(), -EPROTO);
	cr_assert_not_null(f.c.error);

	setup(0);
	avail()[1] = QSZ + 1; /* more than a ring ahead */
	cr_assert_eq(pop(), -EPROTO);
}

Test(virtqueue, init_checks_size_alignment_and_bounds)
{
	struct virtq vq;
	const char *why;

	cr_assert_eq(virtq_init(&vq, &f.gm, 0, DESC_GPA, AVAIL_GPA, USED_GPA,
				0, &why), -EINVAL);
	cr_assert_eq(virtq_init(&vq, &f.gm, 12, DESC_GPA, AVAIL_GPA, USED_GPA,
				0, &why), -EINVAL);
	cr_assert_eq(virtq_init(&vq, &f.gm, QSZ, DESC_GPA + 8, AVAIL_GPA,
				USED_GPA, 0, &why), -EINVAL);
	cr_assert_eq(virtq_init(&vq, &f.gm, QSZ, DESC_GPA, AVAIL_GPA + 1,
				USED_GPA, 0, &why), -EINVAL);
	cr_assert_eq(virtq_init(&vq, &f.gm, QSZ, DESC_GPA, AVAIL_GPA,
				USED_GPA + 2, 0, &why), -EINVAL);
	cr_assert_eq(virtq_init(&vq, &f.gm, 1024, GPA_BASE + MEM_SIZE - 0x1000,
				AVAIL_GPA, USED_GPA, 0, &why), -EINVAL);
	cr_assert(strstr(why, "outside"));
	/* The used ring's trailing avail_event must fit with EVENT_IDX. */
	cr_assert_eq(virtq_init(&vq, &f.gm, QSZ, DESC_GPA, AVAIL_GPA,
				GPA_BASE + MEM_SIZE - (4 + 8 * QSZ), 0, &why),
		     0);
	cr_assert_eq(virtq_init(&vq, &f.gm, QSZ, DESC_GPA, AVAIL_GPA,
				GPA_BASE + MEM_SIZE - (4 + 8 * QSZ),
				VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX), &why),
		     -EINVAL);
}

Test(virtqueue, need_event_matches_the_spec)
{
	/* Interrupt when used idx moved past the driver's used_event. */
	cr_assert(virtq_need_event(0, 1, 0));
	cr_assert_not(virtq_need_event(1, 1, 0));
	cr_assert(virtq_need_event(5, 10, 3));
	cr_assert_not(virtq_need_event(12, 10, 3));
	/* Wrap-around. */
	cr_assert(virtq_need_event(0xffff, 2, 0xfffe));
	cr_assert_not(virtq_need_event(3, 2, 0xfffe));
}

Test(virtqueue, event_idx_interrupts_only_when_asked)
{
	setup(VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	uint16_t *used_event = &avail()[2 + QSZ];

	for (unsigned i = 0; i < 4; i++) {
		set_desc(i, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
		make_avail((uint16_t)i);
	}
	/* Driver wants an interrupt once used idx passes 2. */
	*used_event = 2;
	cr_assert_eq(pop(), 1);
	virtq_push(&f.vq, f.c.head, 0);
	virtq_publish(&f.vq);
	cr_assert(virtq_need_interrupt(&f.vq), "first is always signalled");
	cr_assert_eq(pop(), 1);
	virtq_push(&f.vq, f.c.head, 0);
	virtq_publish(&f.vq);
	cr_assert_not(virtq_need_interrupt(&f.vq)); /* idx 2: not past 2 */
	cr_assert_eq(pop(), 1);
	virtq_push(&f.vq, f.c.head, 0);
	virtq_publish(&f.vq);
	cr_assert(virtq_need_interrupt(&f.vq)); /* idx 3 passes 2 */
	cr_assert_not(virtq_need_interrupt(&f.vq)); /* nothing new */
}

Test(virtqueue, no_interrupt_flag_without_event_idx)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(pop(), 1);
	virtq_push(&f.vq, 0, 0);
	virtq_publish(&f.vq);
	avail()[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	cr_assert_not(virtq_need_interrupt(&f.vq));
	avail()[0] = 0;
	cr_assert(virtq_need_interrupt(&f.vq));
}

Test(virtqueue, notify_suppression)
{
	virtq_notify_disable(&f.vq);
	cr_assert_eq(used()[0], VIRTQ_USED_F_NO_NOTIFY);
	cr_assert_not(virtq_notify_enable(&f.vq));
	cr_assert_eq(used()[0], 0);
	make_avail(0);
	cr_assert(virtq_notify_enable(&f.vq), "missed a new buffer");

	setup(VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	cr_assert_eq(pop(), 1);
	cr_assert_not(virtq_notify_enable(&f.vq));
	/* avail_event sits after the used elements. */
	cr_assert_eq(used()[2 + 4 * QSZ], 1);
}

Test(virtqueue, peek_walks_without_taking)
{
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	set_desc(1, DATA_GPA + 8, 24, VIRTQ_DESC_F_WRITE, 0);
	set_desc(2, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 2); /* loops */
	make_avail(0);
	make_avail(1);
	make_avail(2);
	cr_assert_eq(virtq_peek(&f.vq, 1, &f.c, f.iov, 64), 1);
	cr_assert_eq(f.c.head, 1);
	cr_assert_eq(f.c.in_len, 24);
	cr_assert_eq(virtq_peek(&f.vq, 2, &f.c, f.iov, 64), -EBADMSG);
	cr_assert_eq(virtq_peek(&f.vq, 3, &f.c, f.iov, 64), 0, "past the end");
	cr_assert_eq(virtq_pending(&f.vq), 3, "peek took a chain");
	cr_assert_eq(pop(), 1);
	cr_assert_eq(f.c.head, 0);
	/* A driver more than a ring ahead is refused at any skip. */
	avail()[1] = (uint16_t)(f.vq.last_avail + QSZ + 1);
	cr_assert_eq(virtq_peek(&f.vq, 1, &f.c, f.iov, 64), -EPROTO);
	cr_assert_eq(f.vq.last_avail, 1);
}

Test(virtqueue, event_idx_kick_for_buffers_added_after_ones_left)
{
	setup(VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	set_desc(0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	make_avail(0);
	make_avail(0);
	/*
	 * Two buffers left on the ring (too few for the device): the driver
	 * must still kick when it adds a third, so avail_event is 2, not the
	 * next slot the device has not taken.
	 */
	cr_assert(virtq_notify_enable(&f.vq));
	cr_assert_eq(used()[2 + 4 * QSZ], 2);
	cr_assert(virtq_need_event(used()[2 + 4 * QSZ], 3, 2));
}

Test(virtqueue, iov_helpers)
{
	uint8_t a[3] = { 1, 2, 3 }, b[5] = { 4, 5, 6, 7, 8 }, out[8];
	struct iovec iov[2] = { { a, 3 }, { b, 5 } }, s[2];
	uint8_t v[4] = { 9, 9, 9, 9 };

	cr_assert_eq(iov_length(iov, 2), 8);
	cr_assert_eq(iov_to_buf(iov, 2, 2, out, 3), 3);
	cr_assert_eq(out[0], 3);
	cr_assert_eq(out[2], 5);
	cr_assert_eq(iov_to_buf(iov, 2, 6, out, 8), 2);
	cr_assert_eq(iov_from_buf(iov, 2, 1, v, 4), 4);
	cr_assert_eq(a[1], 9);
	cr_assert_eq(b[1], 9);
	cr_assert_eq(b[2], 6);
	cr_assert_eq(iov_slice(iov, 2, 1, 4, s, 2), 2);
	cr_assert_eq(s[0].iov_base, a + 1);
	cr_assert_eq(s[0].iov_len, 2);
	cr_assert_eq(s[1].iov_len, 2);
	cr_assert_eq(iov_slice(iov, 2, 1, 4, s, 1), -1);
	cr_assert_eq(iov_slice(iov, 2, 4, 10, s, 2), -1);
}
