/*
 * The VMM's MMDS: the data store it owns and hands down to the NICs that
 * serve it, and the checks of PUT /mmds/config. Firecracker's rules: the
 * store exists once any MMDS call was made before boot (or --metadata
 * filled it); a booted VM without one answers "not initialized".
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/mmds.h"
#include "mvm/vmm.h"
#include "mvm/vmm_mmds.h"

/* Firecracker's prefixes (VmmActionError), its "MMMDS" typo included. */
#define MSG_MMDS "MMDS error: "
#define MSG_LIMIT "MMDS limit exceeded error: "
#define MSG_CONFIG "MMMDS config error: "

/* After boot, only a store the VM was built with answers. */
static int usable(struct vmm *v, struct mvm_err *err)
{
	if (!v->mmds) /* vmm_init makes it: only a failed init has none */
		return mvm_fail(err, -ENOMEM, "mmds: no data store");
	if (vm_state_booted(v->state) && !v->mmds_touched)
		return mvm_fail(err, -ENODATA, MSG_MMDS MMDS_MSG_NOT_INIT);
	v->mmds_touched = true;
	return 0;
}

/* The store's refusal, with Firecracker's prefix for its kind. */
static int change_failed(int ret, struct mvm_err *err)
{
	return mvm_wrap(err, ret, "%s", ret == -EFBIG ? MSG_LIMIT :
			MSG_MMDS);
}

int vmm_mmds_put(struct vmm *v, struct json_object *value,
		 struct mvm_err *err)
{
	int ret = usable(v, err);

	if (ret)
		return ret;
	ret = mmds_put(v->mmds, value, err);
	return ret ? change_failed(ret, err) : 0;
}

int vmm_mmds_patch(struct vmm *v, struct json_object *patch,
		   struct mvm_err *err)
{
	int ret = usable(v, err);

	if (ret)
		return ret;
	ret = mmds_patch(v->mmds, patch, err);
	return ret ? change_failed(ret, err) : 0;
}

int vmm_mmds_get(struct vmm *v, struct json_object **out,
		 struct mvm_err *err)
{
	struct json_object *d;
	int ret = usable(v, err);

	if (ret)
		return ret;
	d = mmds_data(v->mmds);
	/* Firecracker shows an empty store as {}, not null. */
	*out = d ? json_object_get(d) : json_object_new_object();
	return *out ? 0 : mvm_fail(err, -ENOMEM, "out of memory");
}

static bool has_nic(const struct vm_spec *s, const char *id)
{
	for (unsigned i = 0; i < s->nr_nets; i++)
		if (!strcmp(s->nets[i].id, id))
			return true;
	return false;
}

int vmm_mmds_check(const struct vm_spec *s, const struct spec_mmds *cfg,
		   struct mvm_err *err)
{
	if (!mmds_ipv4_link_local(cfg->ipv4))
		return mvm_fail(err, -EINVAL, MSG_CONFIG "The MMDS IPv4 "
				"address is not link local.");
	if (!cfg->nr_ifaces)
		return mvm_fail(err, -EINVAL, MSG_CONFIG "The list of "
				"network interface IDs that allow forwarding "
				"MMDS requests is empty.");
	for (unsigned i = 0; i < cfg->nr_ifaces; i++)
		if (!has_nic(s, cfg->ifaces[i]))
			return mvm_fail(err, -EINVAL, MSG_CONFIG "The list of "
					"network interface IDs provided "
					"contains at least one ID that does "
					"not correspond to any existing "
					"network interface. (no NIC '%.64s')",
					cfg->ifaces[i]);
	return 0;
}

int vmm_mmds_config(struct vmm *v, const struct spec_mmds *cfg,
		    struct mvm_err *err)
{
	int ret = vmm_mmds_check(&v->spec, cfg, err);

	if (!ret)
		ret = usable(v, err);
	if (ret)
		return ret;
	v->spec.mmds = *cfg;
	v->spec.mmds.set = true;
	mmds_set_version(v->mmds, cfg->version);
	mmds_set_imds_compat(v->mmds, cfg->imds_compat);
	return 0;
}

void vmm_mmds_set_limit(struct vmm *v, size_t limit)
{
	if (v->mmds)
		mmds_set_limit(v->mmds, limit);
}

/* vmm_init: the store, configured as a config file's spec says. */
int vmm_mmds_init(struct vmm *v, struct mvm_err *err)
{
	int ret = mmds_new(&v->mmds, MMDS_DEFAULT_LIMIT, err);

	if (ret || !v->spec.mmds.set)
		return ret;
	v->mmds_touched = true;
	mmds_set_version(v->mmds, v->spec.mmds.version);
	mmds_set_imds_compat(v->mmds, v->spec.mmds.imds_compat);
	return 0;
}

void vmm_mmds_fini(struct vmm *v)
{
	mmds_free(v->mmds);
	v->mmds = NULL;
}
