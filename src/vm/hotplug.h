/* virtio-mem's region in the VM (hotplug.c), for vm.c and dirty.c. */
#ifndef MVM_VM_HOTPLUG_H
#define MVM_VM_HOTPLUG_H

#include <stdint.h>

struct vm;
struct mvm_err;

/*
 * The region in guest memory: a fresh one for a boot (vm_hotplug_add),
 * or, for a restore or a migration's destination (cfg.mem_source), the
 * memory's region at the place the configuration puts it, marked as the
 * hotplug region. Nothing without hotpluggable memory.
 */
int vm_hotplug_memory(struct vm *vm, struct mvm_err *err);
/* The first KVM slot after RAM's and the hotplug region's (pmem's). */
struct mem_hotplug_config;
uint32_t vm_hotplug_slots_end(const struct mem_hotplug_config *c);
/* Register region i, the hotplug region, as slot_mib KVM slots. */
int vm_hotplug_slots_set(struct vm *vm, int i, uint32_t flags,
			 struct mvm_err *err);
/* KVM's dirty log of every such slot into out, region i's bitmap. */
int vm_hotplug_dirty_log(struct vm *vm, int i, unsigned long *out,
			 struct mvm_err *err);

#endif
