/*
 * Dirty page tracking for Diff snapshots. KVM logs the pages the guest
 * writes, per memory slot (slot i is gm.r[i]; the hotplug region's are
 * slots of their own, hotplug.c); the VMM's own writes into
 * guest RAM (devices, through gm_ptr) are logged by guest memory itself
 * (mvm/mem_file.h). A collect ORs the two, so that a Diff misses neither.
 */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/err.h"
#include "mvm/mem_file.h"
#include "mvm/vm.h"
#include "dirty.h"
#include "hotplug.h"

int vm_memslot_set(struct vm *vm, int i, uint32_t flags, struct mvm_err *err)
{
	const struct mem_region *r = &vm->mem.r[i];
	struct kvm_userspace_memory_region kr;

	if (r->hotplug)
		return vm_hotplug_slots_set(vm, i, flags, err);
	kr = (struct kvm_userspace_memory_region){
		.slot = (uint32_t)i,
		.flags = flags,
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uint64_t)(uintptr_t)r->hva,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
		return mvm_fail_host(err, -errno, "memory: slot %d: "
				     "KVM_SET_USER_MEMORY_REGION: %s", i,
				     strerror(errno));
	return 0;
}

/*
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 where the host has it: a collect then
 * reads the log (KVM_GET_DIRTY_LOG no longer write-protects) and clears
 * it (KVM_CLEAR_DIRTY_LOG re-protects just those pages), so a page the
 * guest writes between the two is not reported twice over the passes of
 * a migration, and KVM's MMU lock is held per call, not per slot scan.
 */
static void manual_protect(struct vm *vm)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
	};
	int has = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

	vm->dirty_manual = has > 0 &&
			   (has & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) &&
			   ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

int vm_slot_dirty_log(struct vm *vm, uint32_t slot, unsigned long *bm,
		      uint64_t pages, struct mvm_err *err)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bm };
	struct kvm_clear_dirty_log clear = {
		.slot = slot, .num_pages = (uint32_t)pages, .dirty_bitmap = bm,
	};

	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return mvm_fail_host(err, -errno, "dirty pages: slot %u: "
				     "KVM_GET_DIRTY_LOG: %s", slot,
				     strerror(errno));
	if (vm->dirty_manual &&
	    ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear) < 0)
		return mvm_fail_host(err, -errno, "dirty pages: slot %u: "
				     "KVM_CLEAR_DIRTY_LOG: %s", slot,
				     strerror(errno));
	return 0;
}

int vm_dirty_start(struct vm *vm, struct mvm_err *err)
{
	int ret;

	if (!gm_dirty_tracking(&vm->mem))
		manual_protect(vm);

	for (int i = 0; i < vm->mem.nr; i++) {
		ret = vm_memslot_set(vm, i, KVM_MEM_LOG_DIRTY_PAGES, err);
		if (ret)
			return mvm_wrap(err, ret, "dirty page tracking: ");
	}
	return gm_dirty_track(&vm->mem, err);
}

static void free_all(unsigned long *out[MEM_MAX_REGIONS])
{
	for (int i = 0; i < MEM_MAX_REGIONS; i++) {
		free(out[i]);
		out[i] = NULL;
	}
}

/*
 * The hotplug region's log: its slots, slot_mib each, are KVM slots of
 * their own from MEM_MAX_REGIONS on (hotplug.c).
 */
int vm_hotplug_dirty_log(struct vm *vm, int i, unsigned long *out,
			 struct mvm_err *err)
{
	const struct mem_region *r = &vm->mem.r[i];
	uint64_t slot = vm->cfg.mem_hotplug.slot_mib << 20;
	/* A slot is 128 MiB or more: its bits start on a word. */
	uint64_t words = slot / 4096 / (8 * sizeof(long));

	for (uint64_t k = 0; slot && k < r->size / slot; k++) {
		int ret = vm_slot_dirty_log(vm, (uint32_t)(MEM_MAX_REGIONS + k),
					    out + k * words, slot / 4096, err);

		if (ret)
			return ret;
	}
	return 0;
}

int vm_dirty_collect(struct vm *vm, unsigned long *out[MEM_MAX_REGIONS],
		     struct mvm_err *err)
{
	memset(out, 0, MEM_MAX_REGIONS * sizeof(out[0]));
	if (!gm_dirty_tracking(&vm->mem))
		return mvm_fail(err, -EINVAL, "dirty pages: not tracked "
				"(track_dirty_pages is off)");
	for (int i = 0; i < vm->mem.nr; i++) {
		int ret;

		/* KVM's bitmap: a bit per page, rounded up to 64 bits. */
		out[i] = calloc(1, gm_dirty_bitmap_bytes(vm->mem.r[i].size));
		if (!out[i]) {
			free_all(out);
			return mvm_fail(err, -ENOMEM, "out of memory");
		}
		ret = vm->mem.r[i].hotplug ?
			      vm_hotplug_dirty_log(vm, i, out[i], err) :
			      vm_slot_dirty_log(vm, (uint32_t)i, out[i],
						vm->mem.r[i].size / 4096, err);
		if (ret) {
			free_all(out);
			return ret;
		}
		gm_dirty_take(&vm->mem, i, out[i]);
	}
	return 0;
}
