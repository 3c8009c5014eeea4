/*
 * The plan of `mvm nested enable|disable`: config JSON in, the list of
 * changes, the warnings and the new JSON out.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/nested.h"

static const struct nested_plan_opts enable = {
	.enable = true, .mac_spoofing = true,
	.default_vcpus = 1, .default_mem_mib = 128,
};
static const struct nested_plan_opts disable = {
	.enable = false, .mac_spoofing = true,
	.default_vcpus = 1, .default_mem_mib = 128,
};

struct result {
	struct nested_plan plan;
	struct json_object *in, *out;
};

static void plan(const char *json, const struct nested_plan_opts *o,
		 struct result *r)
{
	struct mvm_err err = { .msg = "" };

	r->in = json_tokener_parse(json);
	cr_assert_not_null(r->in, "bad test JSON");
	cr_assert_eq(nested_plan_make(r->in, o, &r->plan, &r->out, &err), 0,
		     "%s", err.msg);
	cr_assert_not_null(r->out);
	cr_assert_neq(r->in, r->out);
}

static void done(struct result *r)
{
	json_object_put(r->in);
	json_object_put(r->out);
}

/* The value at a dotted path ("machine-config.nested_virt"), as JSON. */
static const char *at(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static const struct nested_change *change(const struct result *r,
					  const char *path)
{
	for (unsigned i = 0; i < r->plan.nr_changes; i++)
		if (!strcmp(r->plan.changes[i].path, path))
			return &r->plan.changes[i];
	return NULL;
}

static bool warned(const struct result *r, const char *text)
{
	for (unsigned i = 0; i < r->plan.nr_warnings; i++)
		if (strstr(r->plan.warnings[i], text))
			return true;
	return false;
}

#define BOOT "\"boot-source\": {\"kernel_image_path\": \"/k\"}"

Test(nested_plan, enable_sets_nested_virt_and_spoofing)
{
	struct result r;
	const struct nested_change *c;

	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 2, "
	     "\"mem_size_mib\": 2048}, \"network-interfaces\": ["
	     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"},"
	     "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
	     "\"mac_spoofing\": true},"
	     "{\"iface_id\": \"eth2\", \"host_dev_name\": \"tap2\", "
	     "\"mac_spoofing\": false}]}", &enable, &r);
	cr_assert_eq(r.plan.nr_changes, 3);
	c = change(&r, "machine-config.nested_virt");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->from, "(absent)");
	cr_assert_str_eq(c->to, "true");
	c = change(&r, "network-interfaces[0].mac_spoofing");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->from, "(absent)");
	cr_assert_not_null(strstr(c->why, "eth0"));
	c = change(&r, "network-interfaces[2].mac_spoofing");
	cr_assert_not_null(c);
	cr_assert_str_eq(c->from, "false");
	cr_assert_null(change(&r, "network-interfaces[1].mac_spoofing"));
	cr_assert_eq(r.plan.nr_warnings, 0);

	cr_assert_str_eq(at(r.out, "machine-config", "nested_virt"), "true");
	cr_assert_str_eq(json_object_to_json_string_ext(
		json_object_array_get_idx(json_object_object_get(
			r.out, "network-interfaces"), 0),
		JSON_C_TO_STRING_PLAIN),
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\","
		"\"mac_spoofing\":true}");
	/* The input is not touched. */
	cr_assert_null(at(r.in, "machine-config", "nested_virt"));
	done(&r);
}

Test(nested_plan, keep_mac_spoofing_warns_instead)
{
	struct nested_plan_opts o = enable;
	struct result r;

	o.mac_spoofing = false;
	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, "
	     "\"mem_size_mib\": 1024}, \"network-interfaces\": ["
	     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}]}",
	     &o, &r);
	cr_assert_eq(r.plan.nr_changes, 1);
	cr_assert(warned(&r, "network-interfaces[0].mac_spoofing (eth0) is "
			 "off"));
	cr_assert_str_eq(at(r.out, "network-interfaces", NULL),
			 "[{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\"}]");
	done(&r);
}

Test(nested_plan, memory_below_the_minimum_warns)
{
	struct result r;

	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, "
	     "\"mem_size_mib\": 1023}}", &enable, &r);
	cr_assert(warned(&r, "1023 MiB is below the 1024 MiB"));
	cr_assert_str_eq(at(r.out, "machine-config", "mem_size_mib"), "1023");
	done(&r);

	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, "
	     "\"mem_size_mib\": 1024}}", &enable, &r);
	cr_assert_eq(r.plan.nr_warnings, 0);
	done(&r);
}

Test(nested_plan, missing_machine_config_is_written_out)
{
	struct result r;

	plan("{" BOOT "}", &enable, &r);
	cr_assert_eq(r.plan.nr_changes, 3);
	cr_assert_not_null(change(&r, "machine-config.vcpu_count"));
	cr_assert_not_null(change(&r, "machine-config.mem_size_mib"));
	cr_assert_not_null(change(&r, "machine-config.nested_virt"));
	cr_assert_str_eq(at(r.out, "machine-config", NULL),
			 "{\"vcpu_count\":1,\"mem_size_mib\":128,"
			 "\"nested_virt\":true}");
	/* 128 MiB, the default, is below the recommendation. */
	cr_assert(warned(&r, "128 MiB"));
	done(&r);
}

Test(nested_plan, already_on_changes_nothing)
{
	struct result r;

	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, "
	     "\"mem_size_mib\": 4096, \"nested_virt\": true}}", &enable, &r);
	cr_assert_eq(r.plan.nr_changes, 0);
	cr_assert(json_object_equal(r.in, r.out));
	done(&r);
}

Test(nested_plan, disable)
{
	struct result r;
	const struct nested_change *c;

	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, "
	     "\"mem_size_mib\": 256, \"nested_virt\": true}, "
	     "\"network-interfaces\": [{\"iface_id\": \"eth0\", "
	     "\"host_dev_name\": \"tap0\"}]}", &disable, &r);
	cr_assert_eq(r.plan.nr_changes, 1);
	c = change(&r, "machine-config.nested_virt");
	cr_assert_str_eq(c->from, "true");
	cr_assert_str_eq(c->to, "false");
	/* Disabling neither warns about memory nor touches NICs. */
	cr_assert_eq(r.plan.nr_warnings, 0);
	cr_assert_null(at(json_object_array_get_idx(json_object_object_get(
				  r.out, "network-interfaces"), 0),
			  "mac_spoofing", NULL));
	done(&r);

	/* Off already, or never mentioned: nothing to do. */
	plan("{" BOOT "}", &disable, &r);
	cr_assert_eq(r.plan.nr_changes, 0);
	cr_assert(json_object_equal(r.in, r.out));
	done(&r);
	plan("{" BOOT ", \"machine-config\": {\"vcpu_count\": 1, "
	     "\"mem_size_mib\": 256, \"nested_virt\": false}}", &disable, &r);
	cr_assert_eq(r.plan.nr_changes, 0);
	done(&r);
}

Test(nested_plan, unknown_content_is_kept)
{
	struct result r;

	plan("{\"logger\": {\"log_path\": \"/tmp/l\", \"level\": \"Info\"}, "
	     BOOT ", \"drives\": [{\"drive_id\": \"root\", \"path_on_host\": "
	     "\"/r.img\", \"is_root_device\": true, \"is_read_only\": false}], "
	     "\"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 2048, "
	     "\"smt\": false}}", &enable, &r);
	cr_assert_str_eq(json_object_to_json_string_ext(r.out,
			 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			 "{\"logger\":{\"log_path\":\"/tmp/l\",\"level\":"
			 "\"Info\"},\"boot-source\":{\"kernel_image_path\":"
			 "\"/k\"},\"drives\":[{\"drive_id\":\"root\","
			 "\"path_on_host\":\"/r.img\",\"is_root_device\":true,"
			 "\"is_read_only\":false}],\"machine-config\":{"
			 "\"vcpu_count\":4,\"mem_size_mib\":2048,\"smt\":false,"
			 "\"nested_virt\":true}}");
	done(&r);
}

Test(nested_plan, bad_shapes_are_refused)
{
	static const char *const bad[] = {
		"[]",
		"{\"machine-config\": 5}",
		"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		"2048}, \"network-interfaces\": {}}",
		"{\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		"2048}, \"network-interfaces\": [3]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *in = json_tokener_parse(bad[i]), *out;
		struct nested_plan p;
		struct mvm_err err = { .msg = "" };

		cr_assert_not_null(in);
		cr_assert_eq(nested_plan_make(in, &enable, &p, &out, &err),
			     -EINVAL, "%s", bad[i]);
		cr_assert_null(out);
		cr_assert_str_not_empty(err.msg);
		json_object_put(in);
	}
}
