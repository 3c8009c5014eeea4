/*
 * Hotpluggable memory (virtio-mem) in the VM: where its region goes, the
 * rules its sizes follow, and its KVM memory slots. The region sits above
 * RAM, on a 1 GiB boundary above 4 GiB (or its block's, if larger), and
 * ends below the 64-bit PCI window. It is reserved when the VM is built
 * and registered in slot_mib slots, as Firecracker does, but nothing is
 * populated: the guest's first touch of a plugged block does that, and
 * an unplug gives the pages back (the device, gm_discard). It is not RAM
 * for the firmware tables (e820): the guest learns of it from the device.
 */
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/vm.h"

#include "dirty.h"
#include "hotplug.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
/* The most the region can hold: from 4 GiB to the 64-bit PCI window. */
#define MAX_TOTAL_MIB ((LAYOUT_PCI_MMIO64 - MEM_HOLE_END) / MIB)
/* KVM slots of the region come after those of RAM (slot i: gm.r[i]). */
#define SLOT_BASE MEM_MAX_REGIONS

uint64_t vm_hotplug_gpa(uint64_t mem_mib, uint64_t block_mib)
{
	uint64_t ram = mem_mib * MIB, end = MEM_HOLE_END, align = GIB;

	if (ram > MEM_HOLE_START)
		end += ram - MEM_HOLE_START;
	if (block_mib * MIB > align)
		align = block_mib * MIB;
	return (end + align - 1) / align * align;
}

static const char *sizes_problem(const struct mem_hotplug_config *c,
				 enum vm_hotplug_field *field, char *buf,
				 size_t cap)
{
	*field = VM_HOTPLUG_BLOCK;
	if (c->block_mib < 2 || c->block_mib & (c->block_mib - 1))
		return "must be a power of two of at least 2 MiB";
	*field = VM_HOTPLUG_SLOT;
	if (c->slot_mib < 128)
		return "must be at least 128 MiB";
	if (c->slot_mib % c->block_mib) {
		snprintf(buf, cap, "must be a whole number of blocks (%llu "
			 "MiB)", (unsigned long long)c->block_mib);
		return buf;
	}
	*field = VM_HOTPLUG_TOTAL;
	if (!c->total_mib || c->total_mib % c->slot_mib) {
		snprintf(buf, cap, "must be a positive whole number of slots "
			 "(%llu MiB)", (unsigned long long)c->slot_mib);
		return buf;
	}
	if (c->total_mib > MAX_TOTAL_MIB) {
		snprintf(buf, cap, "is more than mvm can place (%llu MiB)",
			 (unsigned long long)MAX_TOTAL_MIB);
		return buf;
	}
	return NULL;
}

const char *vm_hotplug_problem(const struct mem_hotplug_config *c,
			       uint64_t mem_mib, enum vm_hotplug_field *field,
			       char *buf, size_t cap)
{
	const char *why = sizes_problem(c, field, buf, cap);
	uint64_t gpa;

	if (why)
		return why;
	*field = VM_HOTPLUG_REQUESTED;
	if (c->requested_mib > c->total_mib) {
		snprintf(buf, cap, "must not be more than the total size (%llu "
			 "MiB)", (unsigned long long)c->total_mib);
		return buf;
	}
	if (c->requested_mib % c->block_mib) {
		snprintf(buf, cap, "must be a whole number of blocks (%llu "
			 "MiB)", (unsigned long long)c->block_mib);
		return buf;
	}
	*field = VM_HOTPLUG_TOTAL;
	if (!mem_mib || mem_mib > MAX_TOTAL_MIB)
		return NULL; /* the machine's own check speaks for mem_mib */
	gpa = vm_hotplug_gpa(mem_mib, c->block_mib);
	if (gpa + c->total_mib * MIB > LAYOUT_PCI_MMIO64) {
		snprintf(buf, cap, "%llu MiB at %#llx (above %llu MiB of RAM) "
			 "would reach the 64-bit PCI window at %#llx",
			 (unsigned long long)c->total_mib,
			 (unsigned long long)gpa,
			 (unsigned long long)mem_mib,
			 (unsigned long long)LAYOUT_PCI_MMIO64);
		return buf;
	}
	return NULL;
}

const char *vm_hotplug_field_name(enum vm_hotplug_field f)
{
	static const char *const names[] = {
		[VM_HOTPLUG_TOTAL] = "total_size_mib",
		[VM_HOTPLUG_SLOT] = "slot_size_mib",
		[VM_HOTPLUG_BLOCK] = "block_size_mib",
		[VM_HOTPLUG_REQUESTED] = "requested_size_mib",
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

uint32_t vm_hotplug_slots_end(const struct mem_hotplug_config *c)
{
	if (!c->total_mib || !c->slot_mib)
		return SLOT_BASE;
	return (uint32_t)(SLOT_BASE + c->total_mib / c->slot_mib);
}

/* KVM must have a slot for each piece of the region. */
static int check_slots(struct vm *vm, struct mvm_err *err)
{
	const struct mem_hotplug_config *c = &vm->cfg.mem_hotplug;
	int have = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	uint64_t need = SLOT_BASE + c->total_mib / c->slot_mib;

	/* api.rst: without the capability, assume 32 slots. */
	if (have <= 0)
		have = 32;
	if (need > (uint64_t)have)
		return mvm_fail_host(err, -ENOSPC, "memory hotplug: %llu MiB "
				     "in slots of %llu MiB needs %llu KVM "
				     "memory slots; this host's KVM has %d "
				     "(use a larger slot_size_mib)",
				     (unsigned long long)c->total_mib,
				     (unsigned long long)c->slot_mib,
				     (unsigned long long)need, have);
	return 0;
}

/*
 * A restored or migrated VM's region: the snapshot's (or the one the
 * migration's destination made), where the config puts it.
 */
static int mark_restored(struct vm *vm, uint64_t gpa, uint64_t size,
			 struct mvm_err *err)
{
	for (int i = 0; i < vm->mem.nr; i++) {
		struct mem_region *r = &vm->mem.r[i];

		if (r->gpa == gpa && r->size == size) {
			r->hotplug = true;
			return 0;
		}
	}
	return mvm_fail(err, -EINVAL, "memory: the restored memory has no "
			"region of %llu MiB at %#llx for its hotpluggable "
			"memory",
			(unsigned long long)(size / MIB),
			(unsigned long long)gpa);
}

int vm_hotplug_add(struct guest_mem *gm, uint64_t mem_mib,
		   enum gm_pages pages, const struct mem_hotplug_config *c,
		   struct mvm_err *err)
{
	if (!c->total_mib)
		return 0;
	return gm_add_hotplug(gm, vm_hotplug_gpa(mem_mib, c->block_mib),
			      c->total_mib * MIB, pages, err);
}

int vm_hotplug_memory(struct vm *vm, struct mvm_err *err)
{
	const struct mem_hotplug_config *c = &vm->cfg.mem_hotplug;
	int ret;

	if (!c->total_mib)
		return 0;
	ret = check_slots(vm, err);
	if (ret)
		return ret;
	/* A snapshot's or a migration's memory has the region already. */
	if (vm->cfg.mem_source)
		return mark_restored(vm, vm_hotplug_gpa(vm->cfg.mem_mib,
							c->block_mib),
				     c->total_mib * MIB, err);
	return vm_hotplug_add(&vm->mem, vm->cfg.mem_mib, vm->cfg.pages, c,
			      err);
}

int vm_hotplug_slots_set(struct vm *vm, int i, uint32_t flags,
			 struct mvm_err *err)
{
	const struct mem_region *r = &vm->mem.r[i];
	uint64_t slot = vm->cfg.mem_hotplug.slot_mib * MIB;

	for (uint64_t k = 0; slot && k < r->size / slot; k++) {
		struct kvm_userspace_memory_region kr = {
			.slot = (uint32_t)(SLOT_BASE + k),
			.flags = flags,
			.guest_phys_addr = r->gpa + k * slot,
			.memory_size = slot,
			.userspace_addr = (uint64_t)(uintptr_t)(r->hva +
								k * slot),
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return mvm_fail_host(err, -errno, "memory hotplug: "
					     "slot %u: KVM_SET_USER_MEMORY_"
					     "REGION: %s", kr.slot,
					     strerror(errno));
	}
	return 0;
}
