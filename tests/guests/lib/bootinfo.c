#include "bootinfo.h"

/* From the linker scripts: the image's first byte and the end of its stack. */
extern char __image_start[], __image_end[];

void bi_set_cmdline(struct bootinfo *bi, uint64_t pa, uint32_t max)
{
	bi->cmdline[0] = '\0';
	if (!pa || !phys_reachable(pa, 1))
		return;
	const char *s = phys_ptr(pa);
	uint32_t n = 0;
	while (n < max && n < BI_CMDLINE_MAX - 1 && s[n]) {
		bi->cmdline[n] = s[n];
		n++;
	}
	bi->cmdline[n] = '\0';
	bi->cmdline_truncated = n < max && s[n] != '\0';
}

void bi_add_region(struct bootinfo *bi, uint64_t addr, uint64_t size,
		   uint32_t type)
{
	if (bi->nmmap >= BI_MMAP_MAX) {
		bi->mmap_truncated = true;
		return;
	}
	bi->mmap[bi->nmmap].addr = addr;
	bi->mmap[bi->nmmap].size = size;
	bi->mmap[bi->nmmap].type = type;
	bi->nmmap++;
}

void bi_set_image(struct bootinfo *bi)
{
	bi->image_start = (uintptr_t)__image_start;
	bi->image_end = (uintptr_t)__image_end;
}

const char *e820_type_name(uint32_t type)
{
	switch (type) {
	case E820_RAM:
		return "ram";
	case E820_RESERVED:
		return "reserved";
	case E820_ACPI:
		return "acpi";
	case E820_NVS:
		return "nvs";
	case E820_UNUSABLE:
		return "unusable";
	default:
		return "other";
	}
}
