/* host-check output: the text lines and the JSON keys scripts rely on. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/nested.h"

static struct host_facts pvm(void)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	strcpy(f.vendor_id, "AuthenticAMD");
	f.host_hypervisor = true;
	f.mod_kvm = f.mod_pvm = true;
	f.kvm_api_version = 12;
	f.cap_irqchip = 1;
	return f;
}

static struct host_facts amd_nested_off(void)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	strcpy(f.vendor_id, "AuthenticAMD");
	f.host_svm = true;
	f.mod_kvm = f.mod_amd = true;
	f.amd_nested.present = true;
	strcpy(f.amd_nested.raw, "0");
	f.amd_npt.present = true;
	strcpy(f.amd_npt.raw, "1");
	f.kvm_api_version = 12;
	f.cap_nested_state = 4224;
	f.cap_irqchip = 1;
	return f;
}

/* Render p into a malloc'd string. */
static char *render(const struct host_probe *p, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	cr_assert_not_null(out);
	cr_assert_eq(nested_host_check_print(p, out, json), 0);
	fclose(out);
	return buf;
}

static struct json_object *get(struct json_object *o, const char *key,
			       enum json_type type)
{
	struct json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, key, &v), "missing %s", key);
	cr_assert(json_object_is_type(v, type), "%s has type %s", key,
		  json_type_to_name(json_object_get_type(v)));
	return v;
}

Test(nested_print, text_names_every_check_with_reason_and_fix)
{
	struct host_facts f = amd_nested_off();
	struct host_probe p;
	char *s;

	nested_probe_decide(&f, &p);
	s = render(&p, false);
	cr_assert_not_null(strstr(s, "vendor:        amd (AuthenticAMD)\n"));
	cr_assert_not_null(strstr(s, "kvm kind:      hardware (kvm_amd)\n"));
	cr_assert_not_null(strstr(s, "cpuid_virt"));
	cr_assert_not_null(strstr(s, "nested_param       no      kvm_amd is "
				     "loaded with nested=0\n"));
	cr_assert_not_null(strstr(s, "fix: load kvm_amd with nested=1"));
	cr_assert_not_null(strstr(s, "ept_npt            yes     kvm_amd "
				     "npt=1\n"));
	cr_assert_not_null(strstr(s, "nested virtualization: no\n"));
	cr_assert_not_null(strstr(s, "stock kernels: yes: hardware KVM"));
	free(s);
}

Test(nested_print, text_marks_skipped_checks)
{
	struct host_facts f = pvm();
	struct host_probe p;
	char *s;

	f.kvm_open_errno = EACCES;
	nested_probe_decide(&f, &p);
	s = render(&p, false);
	cr_assert_not_null(strstr(s, "cpuid_virt         skipped"));
	cr_assert_not_null(strstr(s, "stock kernels: no: KVM is not usable"));
	cr_assert_not_null(strstr(s, "  fix: add the user to the kvm group"));
	free(s);
}

Test(nested_print, json_has_stable_keys)
{
	struct host_facts f = pvm();
	struct host_probe p;
	struct json_object *o, *checks, *c, *reasons;
	const char *names[] = { "cpuid_virt", "nested_param",
				"nested_state_size", "ept_npt",
				"kvm_device", "hardware_kvm" };
	size_t i;
	char *s;

	nested_probe_decide(&f, &p);
	s = render(&p, true);
	o = json_tokener_parse(s);
	cr_assert_not_null(o, "not JSON: %s", s);
	cr_assert_str_eq(json_object_get_string(get(o, "vendor",
						    json_type_string)), "amd");
	cr_assert_str_eq(json_object_get_string(get(o, "kvm_kind",
						    json_type_string)),
			 "software");
	cr_assert_str_eq(json_object_get_string(get(o, "kvm_module",
						    json_type_string)),
			 "kvm_pvm");
	cr_assert_not(json_object_get_boolean(get(o, "nested_supported",
						  json_type_boolean)));
	reasons = get(o, "nested_reasons", json_type_array);
	cr_assert_eq(json_object_array_length(reasons), 5);
	cr_assert_not(json_object_get_boolean(get(o, "stock_kernels",
						  json_type_boolean)));
	cr_assert_not_null(strstr(json_object_get_string(
		get(o, "stock_kernels_reason", json_type_string)), "PVM"));
	checks = get(o, "checks", json_type_object);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		c = get(checks, names[i], json_type_object);
		get(c, "ok", json_type_boolean);
		get(c, "checked", json_type_boolean);
		get(c, "reason", json_type_string);
		cr_assert(json_object_object_get_ex(c, "fix", NULL));
		cr_assert(json_object_object_get_ex(c, "value", NULL));
	}
	c = get(checks, "nested_state_size", json_type_object);
	cr_assert_eq(json_object_get_int(get(c, "value", json_type_int)), 0);
	c = get(checks, "nested_param", json_type_object);
	cr_assert(json_object_is_type(json_object_object_get(c, "value"),
				      json_type_null));
	json_object_put(o);
	free(s);
}

Test(nested_print, json_values_on_a_good_amd_host)
{
	struct host_facts f = amd_nested_off();
	struct host_probe p;
	struct json_object *o, *checks, *c;
	char *s;

	f.amd_nested.raw[0] = '1';
	f.sup_svm = true;
	nested_probe_decide(&f, &p);
	s = render(&p, true);
	o = json_tokener_parse(s);
	cr_assert_not_null(o);
	cr_assert(json_object_get_boolean(get(o, "nested_supported",
					      json_type_boolean)));
	cr_assert_eq(json_object_array_length(get(o, "nested_reasons",
						  json_type_array)), 0);
	checks = get(o, "checks", json_type_object);
	c = get(checks, "nested_param", json_type_object);
	cr_assert_str_eq(json_object_get_string(get(c, "value",
						    json_type_string)), "1");
	cr_assert(json_object_is_type(json_object_object_get(c, "fix"),
				      json_type_null));
	c = get(checks, "nested_state_size", json_type_object);
	cr_assert_eq(json_object_get_int(get(c, "value", json_type_int)), 4224);
	c = get(checks, "cpuid_virt", json_type_object);
	cr_assert(json_object_get_boolean(get(c, "value", json_type_boolean)));
	json_object_put(o);
	free(s);
}
