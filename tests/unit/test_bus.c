#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "mvm/bus.h"

struct hit {
	uint64_t off;
	uint32_t len;
	bool write;
	int calls;
};

static void rec(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct hit *h = ctx;

	h->off = off;
	h->len = len;
	h->write = is_write;
	h->calls++;
	if (!is_write)
		memset(data, 0xab, len);
}

Test(bus, dispatches_to_the_owning_range_with_relative_offset)
{
	struct bus b;
	struct hit a = { 0 }, c = { 0 };
	uint8_t data[4] = { 0 };

	bus_init(&b);
	cr_assert_eq(bus_add(&b, 0x3f8, 8, rec, &a), 0);
	cr_assert_eq(bus_add(&b, 0x60, 5, rec, &c), 0);
	cr_assert(bus_dispatch(&b, 0x3fd, data, 1, false));
	cr_assert_eq(a.off, 5);
	cr_assert_eq(data[0], 0xab);
	cr_assert_eq(c.calls, 0);
	cr_assert(bus_dispatch(&b, 0x64, data, 1, true));
	cr_assert_eq(c.off, 4);
	cr_assert(c.write);
	bus_fini(&b);
}

Test(bus, unclaimed_addresses_are_reported)
{
	struct bus b;
	struct hit a = { 0 };
	uint8_t d = 0;

	bus_init(&b);
	cr_assert_eq(bus_add(&b, 0x100, 0x10, rec, &a), 0);
	cr_assert_not(bus_dispatch(&b, 0xff, &d, 1, false));
	cr_assert_not(bus_dispatch(&b, 0x110, &d, 1, false));
	cr_assert(bus_dispatch(&b, 0x10f, &d, 1, false));
	cr_assert_eq(a.calls, 1);
	bus_fini(&b);
}

Test(bus, overlaps_are_refused_and_ranges_can_be_removed)
{
	struct bus b;
	struct hit a = { 0 };
	uint8_t d = 0;

	bus_init(&b);
	cr_assert_eq(bus_add(&b, 0x1000, 0x100, rec, &a), 0);
	cr_assert_eq(bus_add(&b, 0x10ff, 1, rec, &a), -EEXIST);
	cr_assert_eq(bus_add(&b, 0xf00, 0x101, rec, &a), -EEXIST);
	cr_assert_eq(bus_add(&b, 0xf00, 0x100, rec, &a), 0);
	cr_assert_eq(bus_add(&b, 0, 0, rec, &a), -EINVAL);
	cr_assert_eq(bus_add(&b, UINT64_MAX, 2, rec, &a), -EINVAL);
	cr_assert_eq(bus_del(&b, 0x1000), 0);
	cr_assert_not(bus_dispatch(&b, 0x1000, &d, 1, false));
	cr_assert_eq(bus_del(&b, 0x1000), -ENOENT);
	bus_fini(&b);
}

Test(bus, many_ranges_stay_sorted)
{
	struct bus b;
	struct hit h[64] = { 0 };
	uint8_t d;

	bus_init(&b);
	/* Insert in a scrambled order to exercise the sorted insert. */
	for (int i = 0; i < 64; i++) {
		int k = (i * 37) % 64;
		cr_assert_eq(bus_add(&b, (uint64_t)k * 16, 8, rec, &h[k]), 0);
	}
	for (int k = 0; k < 64; k++) {
		cr_assert(bus_dispatch(&b, (uint64_t)k * 16 + 3, &d, 1, false));
		cr_assert_not(bus_dispatch(&b, (uint64_t)k * 16 + 8, &d, 1,
					   false));
		cr_assert_eq(h[k].calls, 1);
	}
	bus_fini(&b);
}
