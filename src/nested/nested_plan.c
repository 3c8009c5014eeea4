/*
 * The plan of `mvm nested enable|disable`: which settings of a VM config
 * file must change, what else to warn about, and the changed document.
 * Pure (JSON in, JSON out) so every case is a unit test; the command
 * (src/cli/nested_cmd.c) does the asking and the writing.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "mvm/err.h"
#include "mvm/nested.h"

static int add_change(struct nested_plan *p, const char *path,
		      struct json_object *from, const char *to,
		      const char *why, struct mvm_err *err)
{
	struct nested_change *c;

	if (p->nr_changes >= NESTED_PLAN_MAX_CHANGES)
		return mvm_fail(err, -E2BIG, "too many changes");
	c = &p->changes[p->nr_changes++];
	snprintf(c->path, sizeof(c->path), "%s", path);
	snprintf(c->from, sizeof(c->from), "%s",
		 from ? json_object_to_json_string_ext(from,
						       JSON_C_TO_STRING_PLAIN) :
			"(absent)");
	snprintf(c->to, sizeof(c->to), "%s", to);
	snprintf(c->why, sizeof(c->why), "%s", why);
	return 0;
}

__attribute__((format(printf, 2, 3)))
static void add_warning(struct nested_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->nr_warnings >= NESTED_PLAN_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(p->warnings[p->nr_warnings++], sizeof(p->warnings[0]), fmt,
		  ap);
	va_end(ap);
}

/* Set key in o; json-c keeps val on failure, so drop it there. */
static int set(struct json_object *o, const char *key,
	       struct json_object *val, struct mvm_err *err)
{
	if (!val || json_object_object_add(o, key, val)) {
		json_object_put(val);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static bool get_bool(struct json_object *o, const char *key,
		     struct json_object **val)
{
	*val = NULL;
	return json_object_object_get_ex(o, key, val) &&
	       json_object_get_boolean(*val);
}

/* machine-config, created with the loader's defaults when missing. */
static int machine_config(struct json_object *root,
			  const struct nested_plan_opts *o,
			  struct nested_plan *p, struct json_object **mc,
			  struct mvm_err *err)
{
	static const char why[] = "the file has no machine-config to hold "
				  "nested_virt; the default is written out";
	char v[32];
	int ret;

	if (json_object_object_get_ex(root, "machine-config", mc) &&
	    !json_object_is_type(*mc, json_type_null)) {
		if (!json_object_is_type(*mc, json_type_object))
			return mvm_fail(err, -EINVAL, "machine-config: expected "
					"an object");
		return 0;
	}
	*mc = json_object_new_object();
	ret = set(root, "machine-config", *mc, err);
	if (!ret)
		ret = set(*mc, "vcpu_count",
			  json_object_new_int64(o->default_vcpus), err);
	if (!ret)
		ret = set(*mc, "mem_size_mib",
			  json_object_new_int64((int64_t)o->default_mem_mib),
			  err);
	snprintf(v, sizeof(v), "%u", o->default_vcpus);
	if (!ret)
		ret = add_change(p, "machine-config.vcpu_count", NULL, v, why,
				 err);
	snprintf(v, sizeof(v), "%" PRIu64, o->default_mem_mib);
	if (!ret)
		ret = add_change(p, "machine-config.mem_size_mib", NULL, v, why,
				 err);
	return ret;
}

static void check_memory(struct json_object *mc,
			 const struct nested_plan_opts *o,
			 struct nested_plan *p)
{
	struct json_object *m;
	int64_t mib = (int64_t)o->default_mem_mib;

	if (json_object_object_get_ex(mc, "mem_size_mib", &m) &&
	    json_object_is_type(m, json_type_int))
		mib = json_object_get_int64(m);
	if (mib < NESTED_MIN_MEM_MIB)
		add_warning(p, "machine-config.mem_size_mib: %" PRId64 " MiB "
			    "is below the %d MiB mvm recommends for a guest "
			    "that runs VMs of its own (their memory comes out "
			    "of the guest's)", mib, NESTED_MIN_MEM_MIB);
}

static int check_nics(struct json_object *root,
		      const struct nested_plan_opts *o,
		      struct nested_plan *p, struct mvm_err *err)
{
	struct json_object *nics, *id, *cur;
	char path[64], why[160];
	size_t n;
	int ret;

	if (!json_object_object_get_ex(root, "network-interfaces", &nics) ||
	    json_object_is_type(nics, json_type_null))
		return 0;
	if (!json_object_is_type(nics, json_type_array))
		return mvm_fail(err, -EINVAL, "network-interfaces: expected an "
				"array");
	n = json_object_array_length(nics);
	for (size_t i = 0; i < n; i++) {
		struct json_object *nic = json_object_array_get_idx(nics, i);
		const char *name = "?";

		if (!json_object_is_type(nic, json_type_object))
			return mvm_fail(err, -EINVAL, "network-interfaces[%zu]: "
					"expected an object", i);
		if (json_object_object_get_ex(nic, "iface_id", &id))
			name = json_object_get_string(id);
		if (get_bool(nic, "mac_spoofing", &cur))
			continue;
		snprintf(path, sizeof(path), "network-interfaces[%zu]."
			 "mac_spoofing", i);
		if (!o->mac_spoofing) {
			add_warning(p, "%s (%s) is off: guests of the guest "
				    "bridged on it will have no network (NAT "
				    "inside the guest still works)", path,
				    name);
			continue;
		}
		snprintf(why, sizeof(why), "guests of the guest bridged on "
			 "%s send frames from their own MACs, which the NIC "
			 "would drop", name);
		ret = add_change(p, path, cur, "true", why, err);
		if (!ret)
			ret = set(nic, "mac_spoofing",
				  json_object_new_boolean(1), err);
		if (ret)
			return ret;
	}
	return 0;
}

int nested_plan_make(struct json_object *cfg,
		     const struct nested_plan_opts *o, struct nested_plan *p,
		     struct json_object **out, struct mvm_err *err)
{
	struct json_object *root = NULL, *mc, *cur;
	bool on;
	int ret;

	memset(p, 0, sizeof(*p));
	*out = NULL;
	if (!json_object_is_type(cfg, json_type_object))
		return mvm_fail(err, -EINVAL, "the config is not a JSON "
				"object");
	if (json_object_deep_copy(cfg, &root, NULL) || !root)
		return mvm_fail(err, -ENOMEM, "out of memory");

	/* Disabling on a file that never enabled it changes nothing. */
	ret = 0;
	if (!o->enable &&
	    (!json_object_object_get_ex(root, "machine-config", &mc) ||
	     !json_object_is_type(mc, json_type_object)))
		goto done;
	ret = machine_config(root, o, p, &mc, err);
	if (ret)
		goto done;
	on = get_bool(mc, "nested_virt", &cur);
	if (on != o->enable) {
		ret = add_change(p, "machine-config.nested_virt", cur,
				 o->enable ? "true" : "false",
				 o->enable ? "expose VMX/SVM so the guest can "
					     "run its own hypervisor" :
					     "hide VMX/SVM from the guest",
				 err);
		if (!ret)
			ret = set(mc, "nested_virt",
				  json_object_new_boolean(o->enable), err);
	}
	if (ret || !o->enable)
		goto done;
	check_memory(mc, o, p);
	ret = check_nics(root, o, p, err);
done:
	if (ret) {
		json_object_put(root);
		memset(p, 0, sizeof(*p));
		return ret;
	}
	*out = root;
	return 0;
}
