/*
 * The route table: method + path -> handler + when it may run. Every rule
 * about phases lives here, so no handler repeats it and the table is the
 * whole API at a glance (api/openapi.yaml describes the same set).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm.h"

#include "handlers.h"

enum when {
	ANY,
	PRE_BOOT,  /* only before InstanceStart */
	POST_BOOT, /* only once the VM runs (or is paused) */
};

/* A request's body: none (false), JSON (true), or JSON if there is one. */
enum body { BODY_OPTIONAL = 2 };

struct route {
	const char *method;
	const char *path;  /* with has_id, the prefix before {id} */
	bool has_id;
	int body;          /* false, true or BODY_OPTIONAL */
	enum when when;
	const char *name;  /* metrics key */
	api_handler fn;
	const char *suffix; /* with has_id, what follows {id} ("/apply") */
};

static const struct route routes[] = {
	{ "GET", "/", false, false, ANY, "instance_info",
	  h_get_instance, NULL },
	{ "GET", "/version", false, false, ANY, "vmm_version",
	  h_get_version, NULL },
	{ "GET", "/vm/config", false, false, ANY, "vm_config",
	  h_get_vm_config, NULL },
	{ "GET", "/machine-config", false, false, ANY, "machine_cfg",
	  h_get_machine, NULL },
	/* After boot the handlers explain the nested_virt case themselves. */
	{ "PUT", "/machine-config", false, true, ANY, "machine_cfg",
	  h_put_machine, NULL },
	{ "PATCH", "/machine-config", false, true, ANY, "machine_cfg",
	  h_patch_machine, NULL },
	{ "PUT", "/boot-source", false, true, PRE_BOOT, "boot_source",
	  h_put_boot_source, NULL },
	{ "PUT", "/drives/", true, true, PRE_BOOT, "drive", h_put_drive, NULL },
	{ "PATCH", "/drives/", true, true, POST_BOOT, "drive",
	  h_patch_drive, NULL },
	{ "PUT", "/pmem/", true, true, PRE_BOOT, "pmem", h_put_pmem, NULL },
	{ "PATCH", "/pmem/", true, true, POST_BOOT, "pmem", h_patch_pmem,
	  NULL },
	/* Firecracker answers 409 after boot: the handler does. */
	{ "PUT", "/vsock", false, true, ANY, "vsock", h_put_vsock, NULL },
	{ "PUT", "/network-interfaces/", true, true, PRE_BOOT, "network",
	  h_put_net, NULL },
	{ "PATCH", "/network-interfaces/", true, true, POST_BOOT, "network",
	  h_patch_net, NULL },
	{ "PATCH", "/vm", false, true, POST_BOOT, "vm", h_patch_vm, NULL },
	/* Each action has its own phase rule, checked by the handler. */
	{ "PUT", "/actions", false, true, ANY, "actions", h_put_actions, NULL },
	{ "PUT", "/logger", false, true, PRE_BOOT, "logger",
	  h_put_logger, NULL },
	{ "PUT", "/metrics", false, true, PRE_BOOT, "metrics",
	  h_put_metrics, NULL },
	{ "PUT", "/cpu-config", false, true, PRE_BOOT, "cpu_cfg",
	  h_put_cpu_config, NULL },
	{ "PUT", "/entropy", false, true, PRE_BOOT, "entropy",
	  h_put_entropy, NULL },
	{ "PUT", "/serial", false, true, PRE_BOOT, "serial",
	  h_put_serial, NULL },
	/* virtio-mem: configured before boot, resized after. */
	{ "PUT", "/hotplug/memory", false, true, PRE_BOOT, "hotplug_memory",
	  h_put_hotplug, NULL },
	{ "PATCH", "/hotplug/memory", false, true, POST_BOOT,
	  "hotplug_memory", h_patch_hotplug, NULL },
	{ "GET", "/hotplug/memory", false, false, ANY, "hotplug_memory",
	  h_get_hotplug, NULL },
	/* mvm's dynamic memory: configured before boot, changed after. */
	{ "PUT", "/dynamic-memory", false, true, PRE_BOOT, "dynamic_memory",
	  h_put_dynmem, NULL },
	{ "PATCH", "/dynamic-memory", false, true, POST_BOOT,
	  "dynamic_memory", h_patch_dynmem, NULL },
	{ "GET", "/dynamic-memory", false, false, ANY, "dynamic_memory",
	  h_get_dynmem, NULL },
	{ "GET", "/vm/policy", false, false, ANY, "vm_policy",
	  h_get_policy, NULL },
	{ "GET", "/vm/nested", false, false, ANY, "vm_nested",
	  h_get_nested, NULL },
	{ "PUT", "/snapshot/create", false, true, POST_BOOT, "create_snapshot",
	  h_put_snapshot_create, NULL },
	{ "PUT", "/snapshot/load", false, true, PRE_BOOT, "load_snapshot",
	  h_put_snapshot_load, NULL },
	/* mvm's checkpoints; "config" is before the {name} it would be. */
	{ "PUT", "/checkpoints/config", false, true, ANY, "checkpoints_config",
	  h_put_checkpoints_config, NULL },
	{ "GET", "/checkpoints", false, false, ANY, "checkpoints",
	  h_get_checkpoints, NULL },
	{ "PUT", "/checkpoints/", true, false, POST_BOOT, "checkpoint_create",
	  h_put_checkpoint, NULL },
	{ "DELETE", "/checkpoints/", true, false, ANY, "checkpoint_delete",
	  h_delete_checkpoint, NULL },
	{ "PUT", "/checkpoints/", true, false, POST_BOOT, "checkpoint_apply",
	  h_put_checkpoint_apply, "/apply" },
	/* The balloon, Firecracker's paths and phases. */
	{ "PUT", "/balloon", false, true, PRE_BOOT, "balloon", h_put_balloon,
	  NULL },
	{ "GET", "/balloon", false, false, ANY, "balloon", h_get_balloon,
	  NULL },
	{ "PATCH", "/balloon", false, true, POST_BOOT, "balloon",
	  h_patch_balloon, NULL },
	{ "GET", "/balloon/statistics", false, false, POST_BOOT,
	  "balloon_stats", h_get_balloon_stats, NULL },
	{ "PATCH", "/balloon/statistics", false, true, POST_BOOT,
	  "balloon_stats", h_patch_balloon_stats, NULL },
	{ "PATCH", "/balloon/hinting/start", false, BODY_OPTIONAL, POST_BOOT,
	  "balloon_hinting_start", h_patch_balloon_hint_start, NULL },
	{ "GET", "/balloon/hinting/status", false, false, POST_BOOT,
	  "balloon_hinting_status", h_get_balloon_hint_status, NULL },
	{ "PATCH", "/balloon/hinting/stop", false, BODY_OPTIONAL, POST_BOOT,
	  "balloon_hinting_stop", h_patch_balloon_hint_stop, NULL },
	/* MMDS, Firecracker's: the store any time, its config pre-boot. */
	{ "PUT", "/mmds", false, true, ANY, "mmds", h_put_mmds, NULL },
	{ "PATCH", "/mmds", false, true, ANY, "mmds", h_patch_mmds, NULL },
	{ "GET", "/mmds", false, false, ANY, "mmds", h_get_mmds, NULL },
	{ "PUT", "/mmds/config", false, true, PRE_BOOT, "mmds_config",
	  h_put_mmds_config, NULL },
	/* mvm's live migration; the VMM checks the states itself. */
	{ "PUT", "/migration", false, true, ANY, "migration",
	  h_put_migration, NULL },
	{ "PUT", "/migration/incoming", false, true, ANY,
	  "migration_incoming", h_put_migration_incoming, NULL },
	{ "GET", "/migration", false, false, ANY, "migration",
	  h_get_migration, NULL },
	{ "DELETE", "/migration", false, false, ANY, "migration",
	  h_delete_migration, NULL },
};

#define NR_ROUTES (sizeof(routes) / sizeof(routes[0]))
_Static_assert(NR_ROUTES <= VMM_MAX_ROUTES, "grow VMM_MAX_ROUTES");

void api_name_routes(struct vmm *v)
{
	v->routes.n = NR_ROUTES;
	for (unsigned i = 0; i < NR_ROUTES; i++) {
		v->routes.method[i] = routes[i].method;
		v->routes.name[i] = routes[i].name;
	}
}

void api_response_clear(struct api_response *r)
{
	json_object_put(r->body);
	memset(r, 0, sizeof(*r));
	r->route = -1;
}

static void fault(struct api_response *r, int status, const char *msg)
{
	json_object_put(r->body);
	r->status = status;
	r->body = json_object_new_object();
	json_object_object_add(r->body, "fault_message",
			       json_object_new_string(msg));
}

/*
 * {id}: one non-empty segment, then the route's suffix if it has one; its
 * syntax is the shape's business. *id points into url, *id_len long.
 */
static bool path_matches(const struct route *rt, const char *url,
			 const char **id, size_t *id_len)
{
	size_t n = strlen(rt->path), seg;

	*id = NULL;
	*id_len = 0;
	if (!rt->has_id)
		return !strcmp(url, rt->path);
	if (strncmp(url, rt->path, n))
		return false;
	seg = strcspn(url + n, "/");
	if (!seg || strcmp(url + n + seg, rt->suffix ? rt->suffix : ""))
		return false;
	*id = url + n;
	*id_len = seg;
	return true;
}

/* The methods a path takes, for 405's Allow header. */
static const char *allowed_methods(const char *url)
{
	/* Index: GET 1, PUT 2, PATCH 4, DELETE 8, in that order. */
	static const char *const sets[16] = {
		NULL, "GET", "PUT", "GET, PUT", "PATCH", "GET, PATCH",
		"PUT, PATCH", "GET, PUT, PATCH", "DELETE", "GET, DELETE",
		"PUT, DELETE", "GET, PUT, DELETE", "PATCH, DELETE",
		"GET, PATCH, DELETE", "PUT, PATCH, DELETE",
		"GET, PUT, PATCH, DELETE" };
	static const char *const bits[] = { "GET", "PUT", "PATCH", "DELETE" };
	unsigned set = 0;
	const char *id;
	size_t len;

	for (unsigned i = 0; i < NR_ROUTES; i++) {
		if (!path_matches(&routes[i], url, &id, &len))
			continue;
		for (unsigned b = 0; b < 4; b++)
			if (!strcmp(routes[i].method, bits[b]))
				set |= 1u << b;
	}
	return sets[set];
}

/* {id} as a string of its own; a longer one is cut, too long still. */
static const char *copy_id(const char *id, size_t len, char *buf, size_t cap)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(buf, id, len);
	buf[len] = '\0';
	return buf;
}

static bool phase_ok(const struct route *rt, const struct vmm *v,
		     struct api_response *r)
{
	bool booted = vm_state_booted(v->state);

	if (rt->when == PRE_BOOT && booted) {
		fault(r, 400, API_MSG_AFTER_BOOT);
		return false;
	}
	if (rt->when == POST_BOOT && !booted) {
		fault(r, 400, API_MSG_BEFORE_BOOT);
		return false;
	}
	return true;
}

void api_dispatch(struct vmm *v, const char *method, const char *url,
		  const char *body, size_t len, struct api_response *r)
{
	struct mvm_err err = { .msg = "" };
	struct api_request q = { 0 };
	const struct route *rt = NULL;
	const char *id = NULL, *allow;
	char id_buf[256];
	size_t id_len = 0;

	memset(r, 0, sizeof(*r));
	r->route = -1;
	for (unsigned i = 0; i < NR_ROUTES && !rt; i++)
		if (!strcmp(routes[i].method, method) &&
		    path_matches(&routes[i], url, &id, &id_len)) {
			rt = &routes[i];
			r->route = (int)i;
		}
	if (!rt) {
		allow = allowed_methods(url);
		if (!allow) {
			fault(r, 404, "Invalid request path: no such resource");
			return;
		}
		r->allow = allow;
		fault(r, 405, "Invalid request method for this path (allowed: "
		      "see the Allow header)");
		return;
	}
	if (!phase_ok(rt, v, r))
		return;
	q.id = id ? copy_id(id, id_len, id_buf, sizeof(id_buf)) : NULL;
	if (rt->body == true || (rt->body == BODY_OPTIONAL && len)) {
		if (api_json_parse(body, len, &q.body, &err)) {
			fault(r, 400, err.msg);
			return;
		}
	} else if (len) {
		fault(r, 400, "this request takes no body");
		return;
	}
	r->status = rt->fn(v, &q, r, &err);
	json_object_put(q.body);
	if (r->status >= 400)
		fault(r, r->status, err.msg[0] ? err.msg : "internal error");
	else if (r->status == 204 && r->body) {
		json_object_put(r->body);
		r->body = NULL;
	}
}
