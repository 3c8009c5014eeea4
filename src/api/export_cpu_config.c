/*
 * A CPU template as Firecracker writes one: hex strings for leaves and
 * addresses, bitmaps of 0, 1 and x (x where the filter leaves the bit),
 * one leaf object for each run of modifiers of the same leaf, subleaf
 * and flags.
 */
#include <stdio.h>
#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"

static struct json_object *hex(uint32_t v)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%x", v);
	return json_object_new_string(buf);
}

static struct json_object *bitmap(uint64_t filter, uint64_t value,
				  unsigned bits)
{
	char buf[2 + 64 + 1] = "0b";

	for (unsigned i = 0; i < bits; i++) {
		uint64_t bit = 1ULL << (bits - 1 - i);

		buf[2 + i] = !(filter & bit) ? 'x' : (value & bit) ? '1' : '0';
	}
	buf[2 + bits] = '\0';
	return json_object_new_string(buf);
}

static bool same_leaf(const struct cpuid_modifier *a,
		      const struct cpuid_modifier *b)
{
	return a->leaf == b->leaf && a->subleaf == b->subleaf &&
	       a->flags == b->flags;
}

static struct json_object *cpuid_json(const struct cpu_template *t)
{
	struct json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < t->nr_cpuid;) {
		const struct cpuid_modifier *m = &t->cpuid[i];
		struct json_object *leaf = json_object_new_object();
		struct json_object *mods = json_object_new_array();

		json_object_object_add(leaf, "leaf", hex(m->leaf));
		json_object_object_add(leaf, "subleaf", hex(m->subleaf));
		json_object_object_add(leaf, "flags",
				       json_object_new_int64(m->flags));
		for (; i < t->nr_cpuid && same_leaf(m, &t->cpuid[i]); i++) {
			struct json_object *r = json_object_new_object();

			json_object_object_add(r, "register",
				json_object_new_string(
					cpu_reg_name(t->cpuid[i].reg)));
			json_object_object_add(r, "bitmap",
				bitmap(t->cpuid[i].filter, t->cpuid[i].value,
				       32));
			json_object_array_add(mods, r);
		}
		json_object_object_add(leaf, "modifiers", mods);
		json_object_array_add(arr, leaf);
	}
	return arr;
}

struct json_object *cpu_config_export(const struct cpu_template *t)
{
	struct json_object *o = json_object_new_object();
	struct json_object *caps = json_object_new_array();
	struct json_object *msrs = json_object_new_array();
	char buf[16];

	for (unsigned i = 0; i < t->nr_caps; i++) {
		snprintf(buf, sizeof(buf), "%s%u", t->caps[i].remove ? "!" : "",
			 t->caps[i].cap);
		json_object_array_add(caps, json_object_new_string(buf));
	}
	json_object_object_add(o, "kvm_capabilities", caps);
	json_object_object_add(o, "cpuid_modifiers", cpuid_json(t));
	for (unsigned i = 0; i < t->nr_msrs; i++) {
		struct json_object *m = json_object_new_object();

		json_object_object_add(m, "addr", hex(t->msrs[i].addr));
		json_object_object_add(m, "bitmap", bitmap(t->msrs[i].filter,
							   t->msrs[i].value,
							   64));
		json_object_array_add(msrs, m);
	}
	json_object_object_add(o, "msr_modifiers", msrs);
	return o;
}
