/*
 * Shapes of PUT /snapshot/create and PUT /snapshot/load, as Firecracker's
 * swagger gives them (SnapshotCreateParams, SnapshotLoadParams). The
 * requests they fill borrow their strings from the JSON body.
 */
#include <stdio.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm_snapshot.h"

#include "handlers.h"
#include "json_in.h"
#include "shapes.h"

static int nonempty(struct jr *r, const char *key, const char *v)
{
	return v && !*v ? jr_fail(r, key, -EINVAL, "must not be empty") : 0;
}

int shape_snapshot_create(struct json_object *o,
			  struct vmm_snapshot_create *rq, struct mvm_err *err)
{
	static const char *const known[] = { "snapshot_type", "snapshot_path",
					     "mem_file_path", "version",
					     "allow_nested_state", NULL };
	static const char *const types[] = { "Full", "Diff", NULL };
	const char *version = NULL;
	int type = SNAP_FULL;
	struct jr r;
	int ret;

	memset(rq, 0, sizeof(*rq));
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_enum(&r, "snapshot_type", false, types, &type);
	if (ret >= 0)
		ret = jr_str(&r, "snapshot_path", true, &rq->state_path);
	if (ret >= 0)
		ret = jr_str(&r, "mem_file_path", true, &rq->mem_path);
	/* Older Firecracker clients send the format version they want. */
	if (ret >= 0)
		ret = jr_str(&r, "version", false, &version);
	/* mvm's: a VM hosting guests, saved with their nested state. */
	if (ret >= 0)
		ret = jr_bool(&r, "allow_nested_state", false,
			      &rq->allow_nested_state);
	if (ret < 0)
		return ret;
	ret = nonempty(&r, "snapshot_path", rq->state_path);
	if (!ret)
		ret = nonempty(&r, "mem_file_path", rq->mem_path);
	if (!ret && !strcmp(rq->state_path, rq->mem_path))
		ret = jr_fail(&r, "mem_file_path", -EINVAL, "is the same file "
			      "as snapshot_path");
	if (!ret && version)
		ret = jr_fail(&r, "version", -ENOTSUP, "mvm writes one "
			      "snapshot format, version %u; leave version out",
			      SNAP_FORMAT_VERSION);
	rq->type = (enum snap_type)type;
	return ret;
}

static int shape_backend(struct jr *r, struct vmm_snapshot_load *rq)
{
	static const char *const known[] = { "backend_type", "backend_path",
					     NULL };
	static const char *const types[] = { "File", "Uffd", NULL };
	struct jr b;
	int type = 0;
	int ret = jr_obj(r, "mem_backend", false, known, &b);

	if (ret <= 0)
		return ret;
	ret = jr_enum(&b, "backend_type", true, types, &type);
	if (ret >= 0)
		ret = jr_str(&b, "backend_path", true, &rq->backend_path);
	if (ret < 0)
		return ret;
	rq->backend = type ? VM_MEM_UFFD : VM_MEM_FILE;
	return nonempty(&b, "backend_path", rq->backend_path) ? -EINVAL : 1;
}

static int shape_override(struct jr *r, struct json_object *item,
			  unsigned i, struct vmm_net_override *o)
{
	static const char *const known[] = { "iface_id", "host_dev_name",
					     NULL };
	const char *id = NULL, *tap = NULL;
	char path[64];
	struct jr e;
	int ret;

	snprintf(path, sizeof(path), "network_overrides[%u]", i);
	ret = jr_open(&e, item, path, known, r->err);
	if (!ret)
		ret = jr_str(&e, "iface_id", true, &id);
	if (ret >= 0)
		ret = jr_str(&e, "host_dev_name", true, &tap);
	if (ret < 0)
		return ret;
	ret = shape_check_id(&e, "iface_id", id);
	if (ret < 0)
		return ret;
	if (!*tap || strlen(tap) >= sizeof(o->host_dev_name))
		return jr_fail(&e, "host_dev_name", -EINVAL, "a tap name is 1 "
			       "to %zu characters", sizeof(o->host_dev_name) - 1);
	snprintf(o->iface_id, sizeof(o->iface_id), "%s", id);
	snprintf(o->host_dev_name, sizeof(o->host_dev_name), "%s", tap);
	return 0;
}

int shape_net_overrides(struct jr *r, struct vmm_net_override *out,
			unsigned *nr)
{
	struct json_object *a;
	size_t n;

	if (!json_object_object_get_ex(r->o, "network_overrides", &a) ||
	    json_object_is_type(a, json_type_null))
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return jr_fail(r, "network_overrides", -EINVAL, "must be an "
			       "array, not %s", jr_type_name(a));
	n = json_object_array_length(a);
	if (n > VM_MAX_NETS)
		return jr_fail(r, "network_overrides", -EINVAL, "%zu entries; "
			       "a VM has at most %u network interfaces", n,
			       VM_MAX_NETS);
	for (size_t i = 0; i < n; i++) {
		int ret = shape_override(r, json_object_array_get_idx(a, i),
					 (unsigned)i, &out[i]);

		if (ret < 0)
			return ret;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(out[j].iface_id, out[i].iface_id))
				return jr_fail(r, "network_overrides", -EINVAL,
					       "iface_id '%s' is given twice",
					       out[i].iface_id);
	}
	*nr = (unsigned)n;
	return 0;
}

/* The booleans, the deprecated enable_diff_snapshots among them. */
static int shape_load_flags(struct jr *r, struct vmm_snapshot_load *rq)
{
	bool diff = false;
	int ret = jr_bool(r, "track_dirty_pages", false,
			  &rq->track_dirty_pages);

	if (ret >= 0)
		ret = jr_bool(r, "enable_diff_snapshots", false, &diff);
	if (ret >= 0)
		ret = jr_bool(r, "resume_vm", false, &rq->resume_vm);
	if (ret >= 0)
		ret = jr_bool(r, "clock_realtime", false, &rq->clock_realtime);
	/* mvm's: a snapshot taken with allow_nested_state loads so too. */
	if (ret >= 0)
		ret = jr_bool(r, "allow_nested_state", false,
			      &rq->allow_nested_state);
	rq->track_dirty_pages |= diff;
	return ret < 0 ? ret : 0;
}

/* huge_pages: the snapshot's own setting, or a page size mvm can map. */
static int shape_load_pages(struct jr *r)
{
	static const char *const pages[] = { "Snapshot", "None", "Transparent",
					     "2M", NULL };
	int hp = 0;
	int ret = jr_enum(r, "huge_pages", false, pages, &hp);

	if (ret < 0)
		return ret;
	if (hp == 3)
		return jr_fail(r, "huge_pages", -ENOTSUP, "\"2M\" needs a "
			       "memory backend that serves 2 MiB pages; mvm's "
			       "File and Uffd backends map 4 KiB pages");
	return 0;
}

/* Firecracker's VsockOverride: the vsock's new socket path. */
static int shape_vsock_override(struct jr *r, const char **uds_path)
{
	static const char *const known[] = { "uds_path", NULL };
	struct jr sub;
	int ret = jr_obj(r, "vsock_override", false, known, &sub);

	if (ret <= 0)
		return ret;
	ret = jr_str(&sub, "uds_path", true, uds_path);
	if (ret < 0)
		return ret;
	if (!(*uds_path)[0])
		return jr_fail(&sub, "uds_path", -EINVAL, "is empty");
	return 0;
}

int shape_snapshot_load(struct json_object *o, struct vmm_snapshot_load *rq,
			struct mvm_err *err)
{
	static const char *const known[] = {
		"snapshot_path", "mem_file_path", "mem_backend",
		"track_dirty_pages", "enable_diff_snapshots", "resume_vm",
		"network_overrides", "vsock_override", "clock_realtime",
		"huge_pages", "allow_nested_state", NULL };
	const char *mem_file = NULL;
	struct jr r;
	int ret, backend;

	memset(rq, 0, sizeof(*rq));
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_str(&r, "snapshot_path", true, &rq->state_path);
	if (ret >= 0)
		ret = jr_str(&r, "mem_file_path", false, &mem_file);
	if (ret < 0)
		return ret;
	backend = shape_backend(&r, rq);
	if (backend < 0)
		return backend;
	if (backend && mem_file)
		return jr_fail(&r, "mem_file_path", -EINVAL, "is not allowed "
			       "with mem_backend: give one of the two");
	if (!backend && !mem_file)
		return jr_fail(&r, "mem_backend", -EINVAL, "is required (or "
			       "the deprecated mem_file_path)");
	if (mem_file) {
		rq->backend = VM_MEM_FILE;
		rq->backend_path = mem_file;
	}
	ret = nonempty(&r, "snapshot_path", rq->state_path);
	if (!ret)
		ret = nonempty(&r, "mem_file_path", mem_file);
	if (!ret)
		ret = shape_load_flags(&r, rq);
	if (!ret)
		ret = shape_load_pages(&r);
	if (!ret)
		ret = shape_net_overrides(&r, rq->overrides, &rq->nr_overrides);
	if (ret)
		return ret;
	return shape_vsock_override(&r, &rq->vsock_uds_path);
}
