#include <criterion/criterion.h>
#include <stdlib.h>

#include "mvm/err.h"
#include "mvm/mem.h"

Test(mem, regions_split_around_the_32bit_hole)
{
	struct guest_mem gm;
	struct mvm_err err;

	cr_assert_eq(gm_alloc(&gm, 4ULL << 30, GM_PAGES_TRANSPARENT, &err), 0, "%s", err.msg);
	cr_assert_eq(gm.nr, 2);
	cr_assert_eq(gm.r[0].gpa, 0);
	cr_assert_eq(gm.r[0].size, MEM_HOLE_START);
	cr_assert_eq(gm.r[1].gpa, MEM_HOLE_END);
	cr_assert_eq(gm.r[1].size, (4ULL << 30) - MEM_HOLE_START);
	cr_assert_eq(gm_low_end(&gm), MEM_HOLE_START);
	cr_assert_eq(gm.ram_size, 4ULL << 30);
	cr_assert_null(gm_ptr(&gm, MEM_HOLE_START, 1));
	cr_assert_not_null(gm_ptr(&gm, MEM_HOLE_END, 4096));
	gm_free(&gm);
}

Test(mem, small_memory_is_one_region)
{
	struct guest_mem gm;

	cr_assert_eq(gm_alloc(&gm, 64 << 20, GM_PAGES_TRANSPARENT, NULL), 0);
	cr_assert_eq(gm.nr, 1);
	cr_assert_eq(gm_low_end(&gm), 64 << 20);
	gm_free(&gm);
	cr_assert_lt(gm_alloc(&gm, 4096, GM_PAGES_TRANSPARENT, NULL), 0);
}

Test(mem, hostile_ranges_are_refused)
{
	struct guest_mem gm = { 0 };
	uint8_t *backing = calloc(1, 8192);
	uint8_t v = 7;

	cr_assert_eq(gm_add_host(&gm, 0x1000, backing, 8192), 0);
	cr_assert_eq(gm_ptr(&gm, 0x1000, 8192), backing);
	cr_assert_null(gm_ptr(&gm, 0x1000, 8193));
	cr_assert_null(gm_ptr(&gm, 0xfff, 2));
	cr_assert_null(gm_ptr(&gm, 0x2fff, 2));
	cr_assert_null(gm_ptr(&gm, 0x2000, UINT64_MAX));
	cr_assert_null(gm_ptr(&gm, UINT64_MAX, 2));
	cr_assert_null(gm_ptr(&gm, UINT64_MAX - 0xfff, 0x2000));
	cr_assert_eq(gm_write(&gm, 0x2fff, &v, 1), 0);
	cr_assert_eq(backing[8191], 7);
	cr_assert_eq(gm_write(&gm, 0x3000, &v, 1), -EFAULT);
	cr_assert_eq(gm_read(&gm, 0x2fff, &v, 2), -EFAULT);
	free(backing);
}
