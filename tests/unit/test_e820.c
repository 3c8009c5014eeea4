/* The guest e820 map built from the RAM regions. */
#include <criterion/criterion.h>
#include <string.h>

#include "mvm/e820.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static void expect(const struct e820_map *m, int i, uint64_t addr,
		   uint64_t size, uint32_t type)
{
	cr_assert_lt(i, m->nr, "entry %d missing", i);
	cr_assert_eq(m->e[i].addr, addr, "entry %d addr 0x%llx", i,
		     (unsigned long long)m->e[i].addr);
	cr_assert_eq(m->e[i].size, size, "entry %d size 0x%llx", i,
		     (unsigned long long)m->e[i].size);
	cr_assert_eq(m->e[i].type, type, "entry %d type %u", i, m->e[i].type);
}

/* e820_build reads only the region table, so no memory needs to exist. */
static void add(struct guest_mem *gm, uint64_t gpa, uint64_t size)
{
	static uint8_t dummy;

	cr_assert_eq(gm_add_host(gm, gpa, &dummy, size), 0);
}

Test(e820, small_guest)
{
	struct guest_mem gm;
	struct e820_map m;

	memset(&gm, 0, sizeof(gm));
	add(&gm, 0, 64 * MiB);
	e820_build(&m, &gm);
	cr_assert_eq(m.nr, 3);
	expect(&m, 0, 0, LAYOUT_EBDA, E820_RAM);
	expect(&m, 1, LAYOUT_EBDA, MiB - LAYOUT_EBDA, E820_RESERVED);
	expect(&m, 2, MiB, 63 * MiB, E820_RAM);
}

Test(e820, high_ram_above_4g)
{
	struct guest_mem gm;
	struct e820_map m;

	memset(&gm, 0, sizeof(gm));
	add(&gm, 0, MEM_HOLE_START);
	add(&gm, MEM_HOLE_END, 5 * GiB);
	e820_build(&m, &gm);
	cr_assert_eq(m.nr, 4);
	expect(&m, 2, MiB, MEM_HOLE_START - MiB, E820_RAM);
	expect(&m, 3, 4 * GiB, 5 * GiB, E820_RAM);
	/* Nothing in the hole: the LAPIC/IOAPIC are not RAM. */
	for (int i = 0; i < m.nr; i++)
		cr_assert(m.e[i].addr + m.e[i].size <= MEM_HOLE_START ||
			  m.e[i].addr >= MEM_HOLE_END);
}

Test(e820, regions_out_of_order_and_abutting)
{
	struct guest_mem gm;
	struct e820_map m;

	memset(&gm, 0, sizeof(gm));
	add(&gm, 8 * MiB, 8 * MiB);
	add(&gm, 0, 2 * MiB);
	add(&gm, 2 * MiB, 6 * MiB);
	e820_build(&m, &gm);
	cr_assert_eq(m.nr, 3, "abutting regions merge into one entry");
	expect(&m, 2, MiB, 15 * MiB, E820_RAM);
}

Test(e820, hole_between_regions_stays_a_hole)
{
	struct guest_mem gm;
	struct e820_map m;

	memset(&gm, 0, sizeof(gm));
	add(&gm, 0, 4 * MiB);
	add(&gm, 8 * MiB, 4 * MiB);
	e820_build(&m, &gm);
	cr_assert_eq(m.nr, 4);
	expect(&m, 2, MiB, 3 * MiB, E820_RAM);
	expect(&m, 3, 8 * MiB, 4 * MiB, E820_RAM);
}

Test(e820, real_allocation)
{
	struct guest_mem gm;
	struct e820_map m;

	cr_assert_eq(gm_alloc(&gm, 32 * MiB, GM_PAGES_TRANSPARENT, NULL), 0);
	e820_build(&m, &gm);
	cr_assert_eq(m.nr, 3);
	expect(&m, 2, MiB, 31 * MiB, E820_RAM);
	gm_free(&gm);
}

/* virtio-mem's region is the device's to tell of, not the firmware's. */
Test(e820, hotplug_region_is_not_listed)
{
	struct guest_mem gm;
	struct e820_map m;

	memset(&gm, 0, sizeof(gm));
	add(&gm, 0, 64 * MiB);
	add(&gm, 4 * GiB, 256 * MiB);
	gm.r[1].hotplug = true;
	e820_build(&m, &gm);
	cr_assert_eq(m.nr, 3);
	for (int i = 0; i < m.nr; i++)
		cr_assert_lt(m.e[i].addr + m.e[i].size, 4 * GiB,
			     "entry %d reaches the hotplug region", i);
}
