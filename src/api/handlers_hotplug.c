/* PUT, PATCH and GET /hotplug/memory: virtio-mem's hotpluggable memory. */
#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_hotplug.h"

#include "handlers.h"
#include "shapes.h"

int h_put_hotplug(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	struct mem_hotplug_config c;
	int ret = shape_hotplug(q->body, "", &c, err);

	(void)r;
	if (!ret)
		ret = vmm_hotplug_set(v, &c, err);
	return api_status_of(ret, err);
}

/* 409 when the policy refuses (memory_resize), with its rule's reason. */
int h_patch_hotplug(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err)
{
	uint64_t requested;
	int ret = shape_hotplug_patch(q->body, &requested, err);

	(void)r;
	if (!ret)
		ret = vmm_hotplug_resize(v, requested, err);
	return api_status_of(ret, err);
}

static void put_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

int h_get_hotplug(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	struct vmm_hotplug_status st;
	int ret = vmm_hotplug_status(v, &st, err);

	(void)q;
	if (ret)
		return api_status_of(ret, err);
	r->body = json_object_new_object();
	put_u64(r->body, "total_size_mib", st.total_mib);
	put_u64(r->body, "slot_size_mib", st.slot_mib);
	put_u64(r->body, "block_size_mib", st.block_mib);
	put_u64(r->body, "plugged_size_mib", st.plugged_mib);
	put_u64(r->body, "requested_size_mib", st.requested_mib);
	return 200;
}
