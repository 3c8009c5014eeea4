/*
 * PUT /migration, PUT /migration/incoming, GET and DELETE /migration:
 * mvm's live migration (include/mvm/vmm_migration.h).
 */
#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_migration.h"

#include "handlers.h"
#include "shapes.h"

int h_put_migration(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err)
{
	struct vmm_migrate_out rq;
	int ret = shape_migrate_out(q->body, &rq, err);

	(void)r;
	if (!ret)
		ret = vmm_migrate_out(v, &rq, err);
	return api_status_of(ret, err);
}

int h_put_migration_incoming(struct vmm *v, const struct api_request *q,
			     struct api_response *r, struct mvm_err *err)
{
	struct vmm_migrate_in rq;
	int ret = shape_migrate_in(q->body, &rq, err);

	(void)r;
	if (!ret)
		ret = vmm_migrate_in(v, &rq, err);
	return api_status_of(ret, err);
}

int h_delete_migration(struct vmm *v, const struct api_request *q,
		       struct api_response *r, struct mvm_err *err)
{
	(void)q;
	(void)r;
	return api_status_of(vmm_migrate_cancel(v, err), err);
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

int h_get_migration(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err)
{
	struct vmm_migration_info in;
	struct json_object *o, *parts;

	(void)q;
	(void)err;
	vmm_migration_info(v, &in);
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string(
					   mig_status_name(in.status)));
	json_object_object_add(o, "direction", json_object_new_string(
			       in.status == MIG_STATUS_NONE ? "none" :
			       in.incoming ? "incoming" : "outgoing"));
	add_u64(o, "iterations", in.iterations);
	add_u64(o, "transferred_bytes", in.transferred_bytes);
	add_u64(o, "remaining_bytes", in.remaining_bytes);
	add_u64(o, "dirty_rate_mbps", in.dirty_rate_mbps);
	add_u64(o, "downtime_ms", in.downtime_ms);
	add_u64(o, "total_ms", in.total_ms);
	parts = json_object_new_object();
	for (unsigned i = 0; i < in.nr_parts && i < MIG_PARTS_MAX; i++)
		add_u64(parts, in.parts[i].name, in.parts[i].us);
	json_object_object_add(o, "downtime_parts_us", parts);
	json_object_object_add(o, "error", in.error[0] ?
			       json_object_new_string(in.error) : NULL);
	r->body = o;
	return 200;
}
