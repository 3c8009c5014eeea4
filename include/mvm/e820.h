/* The guest memory map, shared by every boot protocol and by ACPI. */
#ifndef MVM_E820_H
#define MVM_E820_H

#include <stdint.h>

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_MAX 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct e820_map {
	struct e820_entry e[E820_MAX];
	int nr;
};

struct guest_mem;
/* Build the map for gm: low RAM, the BIOS/ACPI area, high RAM. */
void e820_build(struct e820_map *map, const struct guest_mem *gm);

#endif
