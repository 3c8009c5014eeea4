/*
 * /dynamic-memory (mvm's): PUT before boot, into the spec; GET the
 * controller's view (its sizes, and whether it is frozen and why); PATCH
 * after boot, through the VMM and its policy.
 */
#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_dynmem.h"

#include "handlers.h"
#include "shapes.h"

static void put_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void put_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

int h_put_dynmem(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return api_status_of(shape_dynmem(&v->spec, q->body, "", err), err);
}

/* 409 when the policy refuses (dynamic_memory), with its rule's reason. */
int h_patch_dynmem(struct vmm *v, const struct api_request *q,
		   struct api_response *r, struct mvm_err *err)
{
	struct vmm_dynmem_status st;
	int ret = vmm_dynmem_status(v, &st, err);

	(void)r;
	if (!ret)
		ret = shape_dynmem_patch(q->body, &st.cfg, err);
	if (!ret)
		ret = vmm_dynmem_patch(v, &st.cfg, err);
	return api_status_of(ret, err);
}

int h_get_dynmem(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	struct vmm_dynmem_status st;
	int ret = vmm_dynmem_status(v, &st, err);

	(void)q;
	if (ret)
		return api_status_of(ret, err);
	r->body = json_object_new_object();
	put_bool(r->body, "enabled", st.cfg.enabled);
	put_u64(r->body, "min_mib", st.cfg.min_mib);
	put_u64(r->body, "max_mib", st.cfg.max_mib);
	put_u64(r->body, "buffer_percent", st.cfg.buffer_percent);
	put_u64(r->body, "current_mib", st.current_mib);
	put_u64(r->body, "target_mib", st.target_mib);
	put_bool(r->body, "frozen", st.frozen);
	json_object_object_add(r->body, "reason", st.frozen ?
			       json_object_new_string(st.reason) : NULL);
	return 200;
}
