/*
 * Hotpluggable memory (Firecracker's /hotplug/memory): its configuration
 * in the spec before boot, and on a running VM the size asked of the
 * guest, which its virtio-mem driver then plugs or unplugs itself.
 * Resizing is the policy's memory_resize: refused while the guest hosts
 * guests of its own (the rule is the policy's, src/policy).
 */
#include <string.h>

#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "mvm/vm.h"
#include "mvm/vmm.h"
#include "mvm/vmm_hotplug.h"

#include "vmm_priv.h"

#define MIB (UINT64_C(1) << 20)

static int problem(const struct mem_hotplug_config *c, uint64_t mem_mib,
		   struct mvm_err *err)
{
	enum vm_hotplug_field f;
	char buf[192];
	const char *why = vm_hotplug_problem(c, mem_mib, &f, buf,
					     sizeof(buf));

	return why ? mvm_fail(err, -EINVAL, "%s: %s",
			      vm_hotplug_field_name(f), why) : 0;
}

int vmm_hotplug_set(struct vmm *v, const struct mem_hotplug_config *c,
		    struct mvm_err *err)
{
	struct mem_hotplug_config h = *c;
	int ret;

	/* Firecracker: the region starts with nothing plugged or asked. */
	h.requested_mib = 0;
	/* RAM may still change: its place is checked at InstanceStart. */
	ret = problem(&h, 0, err);
	if (ret)
		return ret;
	v->spec.mem_hotplug = h;
	return 0;
}

static int not_configured(struct mvm_err *err)
{
	return mvm_fail(err, -EINVAL, "memory hotplug is not configured "
			"(PUT /hotplug/memory before InstanceStart)");
}

int vmm_hotplug_apply(struct vmm *v, uint64_t requested_mib,
		      struct mvm_err *err)
{
	int ret = 0;

	if (!v->dry_run)
		ret = vm_mem_resize(&v->vm, requested_mib * MIB, err);
	if (ret)
		return ret;
	/* A reboot's VM asks the same; a snapshot's machine says it too. */
	v->spec.mem_hotplug.requested_mib = requested_mib;
	if (v->have_vm)
		v->vm.cfg.mem_hotplug.requested_mib = requested_mib;
	return 0;
}

/* While dynamic memory is on, the request is its controller's. */
static int not_dynamic(const struct vmm *v, struct mvm_err *err)
{
	if (v->spec.dynmem.enabled)
		return mvm_fail(err, -EINVAL, "requested_size_mib: dynamic "
				"memory sets it while it is on (PATCH "
				"/dynamic-memory {\"enabled\": false} first)");
	return 0;
}

int vmm_hotplug_resize(struct vmm *v, uint64_t requested_mib,
		       struct mvm_err *err)
{
	struct mem_hotplug_config h = v->spec.mem_hotplug;
	int ret;

	if (!h.total_mib)
		return not_configured(err);
	h.requested_mib = requested_mib;
	ret = problem(&h, 0, err);
	if (!ret && !v->dry_run && !v->have_vm)
		ret = mvm_fail(err, -EINVAL, "memory hotplug: no VM is "
			       "running");
	if (!ret && !v->dry_run)
		ret = vmm_policy_ask_now(v, POLICY_OP_MEMORY_RESIZE, err);
	if (!ret)
		ret = not_dynamic(v, err);
	if (!ret)
		ret = vmm_hotplug_apply(v, requested_mib, err);
	if (ret)
		return ret;
	vmm_log(v, API_LOG_INFO, "hotplug", "memory: %llu MiB of %llu MiB "
		"requested of the guest", (unsigned long long)requested_mib,
		(unsigned long long)h.total_mib);
	return 0;
}

int vmm_hotplug_status(struct vmm *v, struct vmm_hotplug_status *st,
		       struct mvm_err *err)
{
	const struct mem_hotplug_config *h = &v->spec.mem_hotplug;
	struct virtio_mem_status d;
	int ret;

	if (!h->total_mib)
		return not_configured(err);
	*st = (struct vmm_hotplug_status){
		.total_mib = h->total_mib,
		.slot_mib = h->slot_mib,
		.block_mib = h->block_mib,
		.requested_mib = h->requested_mib,
	};
	if (!v->have_vm || v->dry_run)
		return 0;
	ret = vm_mem_status(&v->vm, &d, err);
	if (ret)
		return ret;
	st->plugged_mib = d.plugged / MIB;
	st->requested_mib = d.requested / MIB;
	return 0;
}
