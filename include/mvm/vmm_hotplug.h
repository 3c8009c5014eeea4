/*
 * Hotpluggable memory as the VMM handles it (src/vmm/hotplug.c): the
 * API's /hotplug/memory (Firecracker's shapes), already parsed, becomes
 * these calls. The device is virtio-mem (include/mvm/virtio_dev.h); the
 * rules of the sizes are the VM's (vm_hotplug_problem).
 */
#ifndef MVM_VMM_HOTPLUG_H
#define MVM_VMM_HOTPLUG_H

#include <stdint.h>

#include "mvm/dev_config.h"

struct mvm_err;
struct vmm;

/* GET /hotplug/memory, in MiB. */
struct vmm_hotplug_status {
	uint64_t total_mib;
	uint64_t slot_mib;
	uint64_t block_mib;
	uint64_t plugged_mib;   /* what the guest has plugged */
	uint64_t requested_mib; /* what the host asks of it */
};

/*
 * PUT, before boot: c (its requested_mib ignored: the guest starts with
 * nothing plugged and nothing asked) becomes the spec's hotpluggable
 * memory. -EINVAL naming the field (total_size_mib, slot_size_mib,
 * block_size_mib) when the sizes break a rule.
 */
int vmm_hotplug_set(struct vmm *v, const struct mem_hotplug_config *c,
		    struct mvm_err *err);
/*
 * PATCH, on a booted VM: ask the guest for requested_mib. The policy is
 * asked first (memory_resize: -EPERM, the API's 409, with its rule's
 * reason while the guest hosts guests of its own). -EINVAL when nothing
 * is configured or requested_size_mib breaks a rule (more than
 * total_size_mib, not whole blocks). The guest plugs or unplugs at its
 * own pace: GET shows how far it got.
 */
int vmm_hotplug_resize(struct vmm *v, uint64_t requested_mib,
		       struct mvm_err *err);
/*
 * GET: the configuration and, once a VM runs, its device's sizes (before
 * boot nothing is plugged). -EINVAL when nothing is configured.
 */
int vmm_hotplug_status(struct vmm *v, struct vmm_hotplug_status *st,
		       struct mvm_err *err);

#endif
