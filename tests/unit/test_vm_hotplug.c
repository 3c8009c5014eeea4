/*
 * Where hotpluggable memory goes and the rules of its sizes (src/vm/
 * hotplug.c), which the API, the command line, the config file and
 * snapshots all use: each broken rule names its field.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mvm/layout.h"
#include "mvm/vm.h"

#define GIB (UINT64_C(1) << 30)

static struct mem_hotplug_config cfg(uint64_t total, uint64_t slot,
				     uint64_t block, uint64_t requested)
{
	return (struct mem_hotplug_config){ .total_mib = total,
					    .slot_mib = slot,
					    .block_mib = block,
					    .requested_mib = requested };
}

static void refused(struct mem_hotplug_config c, uint64_t mem,
		    enum vm_hotplug_field want, const char *text)
{
	enum vm_hotplug_field f;
	char buf[192];
	const char *why = vm_hotplug_problem(&c, mem, &f, buf, sizeof(buf));

	cr_assert_not_null(why, "accepted %llu/%llu/%llu/%llu",
			   (unsigned long long)c.total_mib,
			   (unsigned long long)c.slot_mib,
			   (unsigned long long)c.block_mib,
			   (unsigned long long)c.requested_mib);
	cr_assert_eq(f, want, "%s: %s", vm_hotplug_field_name(f), why);
	cr_assert(strstr(why, text), "want '%s': %s", text, why);
}

static bool ok(struct mem_hotplug_config c, uint64_t mem)
{
	enum vm_hotplug_field f;
	char buf[192];

	return vm_hotplug_problem(&c, mem, &f, buf, sizeof(buf)) == NULL;
}

Test(vm_hotplug, region_goes_above_ram_on_a_gib)
{
	cr_assert_eq(vm_hotplug_gpa(128, 2), 4 * GIB);
	cr_assert_eq(vm_hotplug_gpa(3072, 2), 4 * GIB, "RAM ends at the hole");
	cr_assert_eq(vm_hotplug_gpa(3073, 2), 5 * GIB);
	cr_assert_eq(vm_hotplug_gpa(4096, 2), 5 * GIB);
	cr_assert_eq(vm_hotplug_gpa(4097, 2), 6 * GIB);
	cr_assert_eq(vm_hotplug_gpa(128, 8192), 8 * GIB, "a block's alignment");
}

Test(vm_hotplug, sizes_follow_firecrackers_rules)
{
	cr_assert(ok(cfg(128, 128, 2, 0), 0));
	cr_assert(ok(cfg(1024, 256, 128, 512), 128));
	refused(cfg(256, 128, 1, 0), 0, VM_HOTPLUG_BLOCK, "power of two");
	refused(cfg(256, 128, 6, 0), 0, VM_HOTPLUG_BLOCK, "power of two");
	refused(cfg(256, 128, 0, 0), 0, VM_HOTPLUG_BLOCK, "at least 2 MiB");
	refused(cfg(256, 64, 2, 0), 0, VM_HOTPLUG_SLOT, "at least 128 MiB");
	refused(cfg(384, 192, 128, 0), 0, VM_HOTPLUG_SLOT,
		"whole number of blocks (128 MiB)");
	refused(cfg(200, 128, 2, 0), 0, VM_HOTPLUG_TOTAL,
		"whole number of slots (128 MiB)");
	refused(cfg(0, 128, 2, 0), 0, VM_HOTPLUG_TOTAL, "positive");
	refused(cfg(UINT64_MAX / 128 * 128, 128, 2, 0), 0, VM_HOTPLUG_TOTAL,
		"more than mvm can place");
	refused(cfg(256, 128, 2, 258), 0, VM_HOTPLUG_REQUESTED,
		"not be more than the total size (256 MiB)");
	refused(cfg(256, 128, 4, 6), 0, VM_HOTPLUG_REQUESTED,
		"whole number of blocks (4 MiB)");
	cr_assert_str_eq(vm_hotplug_field_name(VM_HOTPLUG_SLOT),
			 "slot_size_mib");
}

Test(vm_hotplug, region_ends_below_the_64bit_pci_window)
{
	uint64_t most = (LAYOUT_PCI_MMIO64 - 4 * GIB) >> 20;

	cr_assert(ok(cfg(most, 128, 2, 0), 128), "60 GiB above 128 MiB");
	cr_assert(ok(cfg(most, 128, 2, 0), 0), "RAM not known yet");
	refused(cfg(most, 128, 2, 0), 4096, VM_HOTPLUG_TOTAL,
		"would reach the 64-bit PCI window");
	cr_assert(ok(cfg(most - 1024, 128, 2, 0), 4096));
}
