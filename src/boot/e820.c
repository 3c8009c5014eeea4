/*
 * The guest memory map, derived from the RAM regions (virtio-mem's
 * region is not RAM here: virtio 1.2, 5.15). [LAYOUT_EBDA, 1 MiB)
 * is reported reserved whatever backs it: mvm keeps the ACPI tables there,
 * and OSes expect the legacy BIOS area not to be handed out as RAM. The
 * LAPIC and IOAPIC pages are not RAM and are not listed: an OS learns of
 * them from the MADT.
 */
#include <string.h>

#include "mvm/e820.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#define MAX_PIECES (2 * MEM_MAX_REGIONS + 1)

struct pieces {
	struct e820_entry e[MAX_PIECES];
	int nr;
};

static void add(struct pieces *p, uint64_t lo, uint64_t hi, uint32_t type)
{
	if (hi <= lo || p->nr >= MAX_PIECES)
		return;
	p->e[p->nr++] = (struct e820_entry){ .addr = lo, .size = hi - lo,
					     .type = type };
}

static void sort(struct pieces *p)
{
	for (int i = 1; i < p->nr; i++) {
		struct e820_entry t = p->e[i];
		int j = i - 1;

		for (; j >= 0 && p->e[j].addr > t.addr; j--)
			p->e[j + 1] = p->e[j];
		p->e[j + 1] = t;
	}
}

void e820_build(struct e820_map *map, const struct guest_mem *gm)
{
	struct pieces p = { .nr = 0 };

	memset(map, 0, sizeof(*map));
	for (int i = 0; i < gm->nr; i++) {
		uint64_t lo = gm->r[i].gpa, hi = lo + gm->r[i].size;

		/* virtio-mem's region: its device tells the guest. */
		if (gm->r[i].hotplug)
			continue;

		/* Cut the reserved window out of whatever region spans it. */
		add(&p, lo, hi < LAYOUT_EBDA ? hi : LAYOUT_EBDA, E820_RAM);
		add(&p, lo > LAYOUT_HIGH ? lo : LAYOUT_HIGH, hi, E820_RAM);
	}
	add(&p, LAYOUT_EBDA, LAYOUT_HIGH, E820_RESERVED);
	sort(&p);

	/* Merge touching entries of one type: regions may abut. */
	for (int i = 0; i < p.nr; i++) {
		struct e820_entry *last = map->nr ? &map->e[map->nr - 1] : NULL;

		if (last && last->type == p.e[i].type &&
		    last->addr + last->size == p.e[i].addr) {
			last->size += p.e[i].size;
			continue;
		}
		if (map->nr == E820_MAX)
			break;
		map->e[map->nr++] = p.e[i];
	}
}
