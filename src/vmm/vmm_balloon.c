/*
 * The balloon's endpoints for the VMM controller (include/mvm/vmm_balloon.h):
 * checks that need the VM's configuration (its RAM, what the balloon was
 * configured with), the policy's say on a new target, then the device.
 * Without a VM (a dry run, or one that has stopped) only the spec changes.
 */
#include <string.h>

#include "mvm/err.h"
#include "mvm/vmm_balloon.h"

#include "vmm_priv.h"

static bool live(const struct vmm *v)
{
	return v->have_vm && !v->dry_run;
}

static int configured(const struct vmm *v, struct mvm_err *err)
{
	if (!v->spec.balloon.enabled)
		return mvm_fail(err, -ENOENT, "balloon: no balloon device is "
				"configured (PUT /balloon before boot)");
	return 0;
}

static int fits_ram(const struct vmm *v, uint32_t amount_mib,
		    struct mvm_err *err)
{
	if (amount_mib > v->spec.mem_size_mib)
		return mvm_fail(err, -EINVAL, "amount_mib: %u is more than the "
				"VM's memory (%llu MiB)", amount_mib,
				(unsigned long long)v->spec.mem_size_mib);
	return 0;
}

int vmm_balloon_get(struct vmm *v, struct balloon_info *out,
		    struct mvm_err *err)
{
	int ret = configured(v, err);

	if (ret)
		return ret;
	if (live(v))
		return virtio_balloon_info(&v->vm.dev_ctx, out, err);
	memset(out, 0, sizeof(*out));
	out->cfg = v->spec.balloon;
	out->target_pages = v->spec.balloon.amount_mib * BALLOON_PAGES_PER_MIB;
	return 0;
}

/* The spec and the running VM's configuration follow the device. */
static struct balloon_config *vm_cfg(struct vmm *v)
{
	return v->have_vm ? &v->vm.cfg.balloon : NULL;
}

int vmm_balloon_apply(struct vmm *v, uint32_t amount_mib,
		      struct mvm_err *err)
{
	int ret = 0;

	if (live(v))
		ret = virtio_balloon_set_target(&v->vm.dev_ctx, amount_mib,
						err);
	if (ret)
		return ret;
	v->spec.balloon.amount_mib = amount_mib;
	if (vm_cfg(v))
		vm_cfg(v)->amount_mib = amount_mib;
	return 0;
}

/* While dynamic memory is on, the target is its controller's. */
static int not_dynamic(const struct vmm *v, struct mvm_err *err)
{
	if (v->spec.dynmem.enabled)
		return mvm_fail(err, -EINVAL, "amount_mib: dynamic memory "
				"sets the balloon's target while it is on "
				"(PATCH /dynamic-memory {\"enabled\": false} "
				"first)");
	return 0;
}

int vmm_balloon_patch(struct vmm *v, uint32_t amount_mib,
		      struct mvm_err *err)
{
	struct balloon_info now;
	int ret = vmm_balloon_get(v, &now, err);

	if (!ret)
		ret = fits_ram(v, amount_mib, err);
	if (ret || now.target_pages == amount_mib * BALLOON_PAGES_PER_MIB)
		return ret;
	ret = vmm_policy_ask_now(v, POLICY_OP_MEMORY_RESIZE, err);
	if (!ret)
		ret = not_dynamic(v, err);
	if (!ret)
		ret = vmm_balloon_apply(v, amount_mib, err);
	if (ret)
		return ret;
	vmm_log(v, API_LOG_INFO, "balloon", "target %u MiB", amount_mib);
	return 0;
}

int vmm_balloon_stats_patch(struct vmm *v, uint16_t interval_s,
			    struct mvm_err *err)
{
	uint16_t now = v->spec.balloon.stats_interval_s;
	int ret = configured(v, err);

	if (ret || interval_s == now)
		return ret;
	if (!now)
		return mvm_fail(err, -EINVAL, "stats_polling_interval_s: "
				"statistics were not enabled when the balloon "
				"was configured, and cannot be after boot");
	if (!interval_s)
		return mvm_fail(err, -EINVAL, "stats_polling_interval_s: "
				"statistics cannot be disabled after boot (0)");
	if (live(v))
		ret = virtio_balloon_set_stats_interval(&v->vm.dev_ctx,
							interval_s, err);
	if (ret)
		return ret;
	v->spec.balloon.stats_interval_s = interval_s;
	if (vm_cfg(v))
		vm_cfg(v)->stats_interval_s = interval_s;
	return 0;
}

static int hinting(const struct vmm *v, struct mvm_err *err)
{
	int ret = configured(v, err);

	if (!ret && !v->spec.balloon.free_page_hinting)
		ret = mvm_fail(err, -EINVAL, "balloon: free page hinting was "
			       "not enabled when the balloon was configured "
			       "(free_page_hinting)");
	return ret;
}

int vmm_balloon_hint_start(struct vmm *v, bool ack_on_stop,
			   struct mvm_err *err)
{
	int ret = hinting(v, err);

	if (!ret && live(v))
		ret = virtio_balloon_hint_start(&v->vm.dev_ctx, ack_on_stop,
						err);
	return ret;
}

int vmm_balloon_hint_stop(struct vmm *v, struct mvm_err *err)
{
	int ret = hinting(v, err);

	if (!ret && live(v))
		ret = virtio_balloon_hint_stop(&v->vm.dev_ctx, err);
	return ret;
}
