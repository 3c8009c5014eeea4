/*
 * `mvm host-check` output: lines for people, or JSON with stable keys for
 * scripts and the lab's test harness. Both are renderings of the same
 * struct host_probe; no judgement happens here.
 */
#include <errno.h>
#include <stdio.h>

#include <json-c/json.h>

#include "mvm/nested.h"

static const char *yes_no(const struct host_check *c)
{
	if (!c->checked)
		return "skipped";
	return c->ok ? "yes" : "no";
}

static int print_text(const struct host_probe *p, FILE *out)
{
	const char *mod = host_kvm_module_name(p->kvm_module);
	int i;

	fprintf(out, "vendor:        %s (%s)\n", host_vendor_name(p->vendor),
		p->facts.vendor_id[0] ? p->facts.vendor_id : "unknown");
	fprintf(out, "kvm kind:      %s (%s)\n",
		host_kvm_kind_name(p->kvm_kind), mod ? mod : "no module");
	for (i = 0; i < HOST_CHECK_COUNT; i++) {
		const struct host_check *c = &p->checks[i];

		fprintf(out, "  %-18s %-7s %s\n", host_check_name(i),
			yes_no(c), c->reason);
		if (c->fix[0])
			fprintf(out, "  %-18s %-7s fix: %s\n", "", "", c->fix);
	}
	fprintf(out, "nested virtualization: %s\n",
		p->nested_supported ? "yes" : "no");
	fprintf(out, "stock kernels: %s: %s\n", p->stock_kernels ? "yes" : "no",
		p->stock_kernels_reason);
	if (p->stock_kernels_fix[0])
		fprintf(out, "  fix: %s\n", p->stock_kernels_fix);
	return ferror(out) ? -EIO : 0;
}

/* json-c keeps val on a failed add; the caller's error path frees obj. */
static int add(struct json_object *o, const char *key, struct json_object *val)
{
	if (json_object_object_add(o, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

static const struct host_param *param_of(const struct host_probe *p,
					 bool paging)
{
	if (p->kvm_module == HOST_KVM_MOD_INTEL)
		return paging ? &p->facts.intel_ept : &p->facts.intel_nested;
	if (p->kvm_module == HOST_KVM_MOD_AMD)
		return paging ? &p->facts.amd_npt : &p->facts.amd_nested;
	return NULL;
}

/* The observed value behind each check, typed for scripts. */
static struct json_object *check_value(const struct host_probe *p, int id)
{
	const struct host_facts *f = &p->facts;
	const struct host_param *hp;

	switch (id) {
	case HOST_CHECK_KVM_DEVICE:
		return p->checks[id].ok || f->kvm_api_version ?
		       json_object_new_int(f->kvm_api_version) : NULL;
	case HOST_CHECK_HARDWARE_KVM:
		return str_or_null(host_kvm_module_name(p->kvm_module));
	case HOST_CHECK_CPUID_VIRT:
		if (!p->checks[id].checked)
			return NULL;
		return json_object_new_boolean(p->checks[id].ok);
	case HOST_CHECK_NESTED_PARAM:
	case HOST_CHECK_EPT_NPT:
		hp = param_of(p, id == HOST_CHECK_EPT_NPT);
		return hp && hp->present ? json_object_new_string(hp->raw) :
		       NULL;
	case HOST_CHECK_NESTED_STATE_SIZE:
		if (!p->checks[id].checked)
			return NULL;
		return json_object_new_int(f->cap_nested_state);
	default:
		return NULL;
	}
}

static struct json_object *check_json(const struct host_probe *p, int id)
{
	const struct host_check *c = &p->checks[id];
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (add(o, "ok", json_object_new_boolean(c->ok)) ||
	    add(o, "checked", json_object_new_boolean(c->checked)) ||
	    add(o, "value", check_value(p, id)) ||
	    add(o, "reason", json_object_new_string(c->reason)) ||
	    add(o, "fix", str_or_null(c->fix))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *reasons_json(const struct host_probe *p)
{
	struct json_object *a = json_object_new_array();
	int i;

	if (!a)
		return NULL;
	/* Skipped checks only echo an earlier failure; list root causes. */
	for (i = 0; i < HOST_CHECK_COUNT; i++) {
		const struct host_check *c = &p->checks[i];
		struct json_object *s;

		if (!c->checked || c->ok)
			continue;
		s = json_object_new_string(c->reason);
		if (!s || json_object_array_add(a, s)) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

static struct json_object *probe_json(const struct host_probe *p)
{
	struct json_object *o, *checks;
	int i;

	checks = json_object_new_object();
	if (!checks)
		return NULL;
	for (i = 0; i < HOST_CHECK_COUNT; i++) {
		struct json_object *c = check_json(p, i);

		if (!c || add(checks, host_check_name(i), c)) {
			json_object_put(checks);
			return NULL;
		}
	}
	o = json_object_new_object();
	if (!o || add(o, "vendor",
		      json_object_new_string(host_vendor_name(p->vendor))) ||
	    add(o, "vendor_id", json_object_new_string(p->facts.vendor_id)) ||
	    add(o, "kvm_kind",
		json_object_new_string(host_kvm_kind_name(p->kvm_kind))) ||
	    add(o, "kvm_module",
		str_or_null(host_kvm_module_name(p->kvm_module))) ||
	    add(o, "nested_supported",
		json_object_new_boolean(p->nested_supported)) ||
	    add(o, "nested_reasons", reasons_json(p)) ||
	    add(o, "stock_kernels",
		json_object_new_boolean(p->stock_kernels)) ||
	    add(o, "stock_kernels_reason",
		json_object_new_string(p->stock_kernels_reason)) ||
	    add(o, "stock_kernels_fix", str_or_null(p->stock_kernels_fix))) {
		json_object_put(o);
		json_object_put(checks);
		return NULL;
	}
	/* add() frees checks itself if this fails. */
	if (add(o, "checks", checks)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int nested_host_check_print(const struct host_probe *p, FILE *out, bool json)
{
	struct json_object *o;

	if (!json)
		return print_text(p, out);
	o = probe_json(p);
	if (!o)
		return -ENOMEM;
	fprintf(out, "%s\n", json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return ferror(out) ? -EIO : 0;
}
