/*
 * The checkpoints (mvm's extension, include/mvm/vmm_checkpoint.h):
 * PUT /checkpoints/config, GET /checkpoints, PUT and DELETE
 * /checkpoints/{name}, PUT /checkpoints/{name}/apply.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_checkpoint.h"

#include "handlers.h"
#include "shapes.h"

/* "2024-05-01T12:00:00.123Z", or null when unknown. */
static struct json_object *utc(uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	char day[32], out[48];
	struct tm tm;

	if (!ns || !gmtime_r(&sec, &tm) ||
	    !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
		return NULL;
	snprintf(out, sizeof(out), "%s.%03uZ", day,
		 (unsigned)(ns % 1000000000u / 1000000u));
	return json_object_new_string(out);
}

static struct json_object *info_json(const struct vmm_checkpoint_info *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "created", utc(c->created_ns));
	json_object_object_add(o, "size_bytes",
			       json_object_new_int64((int64_t)c->size_bytes));
	json_object_object_add(o, "memory_bytes",
			       json_object_new_int64((int64_t)c->memory_bytes));
	json_object_object_add(o, "disk_bytes",
			       json_object_new_int64((int64_t)c->disk_bytes));
	json_object_object_add(o, "disks", json_object_new_int(
						   (int32_t)c->disks));
	if (c->created_ns) {
		json_object_object_add(o, "vcpu_count", json_object_new_int(
							(int32_t)c->vcpus));
		json_object_object_add(o, "mem_size_mib", json_object_new_int64(
							(int64_t)c->mem_mib));
	}
	if (c->problem[0])
		json_object_object_add(o, "error",
				       json_object_new_string(c->problem));
	return o;
}

int h_put_checkpoints_config(struct vmm *v, const struct api_request *q,
			     struct api_response *r, struct mvm_err *err)
{
	const char *dir;
	int ret = shape_checkpoint_config(q->body, &dir, err);

	(void)r;
	if (!ret)
		ret = vmm_checkpoint_config(v, dir, err);
	return api_status_of(ret, err);
}

int h_get_checkpoints(struct vmm *v, const struct api_request *q,
		      struct api_response *r, struct mvm_err *err)
{
	struct vmm_checkpoint_info *all;
	struct json_object *list;
	unsigned n;
	int ret = vmm_checkpoint_list(v, &all, &n, err);

	(void)q;
	if (ret)
		return api_status_of(ret, err);
	list = json_object_new_array();
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(list, info_json(&all[i]));
	free(all);
	r->body = json_object_new_object();
	json_object_object_add(r->body, "dir",
			       json_object_new_string(v->checkpoint_dir));
	json_object_object_add(r->body, "checkpoints", list);
	return 200;
}

int h_put_checkpoint(struct vmm *v, const struct api_request *q,
		     struct api_response *r, struct mvm_err *err)
{
	struct vmm_checkpoint_info info;
	int ret = vmm_checkpoint_create(v, q->id, &info, err);

	if (ret)
		return api_status_of(ret, err);
	r->body = info_json(&info);
	json_object_object_add(r->body, "reflinked",
			       json_object_new_boolean(info.reflinked));
	return 201;
}

int h_delete_checkpoint(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return api_status_of(vmm_checkpoint_delete(v, q->id, err), err);
}

int h_put_checkpoint_apply(struct vmm *v, const struct api_request *q,
			   struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return api_status_of(vmm_checkpoint_apply(v, q->id, err), err);
}
