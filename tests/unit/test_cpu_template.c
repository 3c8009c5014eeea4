/*
 * CPU templates in-process: the parser of Firecracker's custom template
 * (its number and bitmap formats, the field named in each refusal), the
 * export that reads back what was parsed, the static templates' vendor
 * rule and contents, and their application to a CPUID table.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/nested.h"

static struct json_object *J(const char *text)
{
	struct mvm_err err;
	struct json_object *o;

	cr_assert_eq(api_json_parse(text, strlen(text), &o, &err), 0,
		     "%s: %s", text, err.msg);
	return o;
}

static int parse(const char *text, struct cpu_template *t,
		 struct mvm_err *err)
{
	struct json_object *o = J(text);
	int ret = shape_cpu_config(t, o, "", err);

	json_object_put(o);
	return ret;
}

static void refused(const char *text, const char *want)
{
	static struct cpu_template t;
	struct mvm_err err;

	cr_assert_neq(parse(text, &t, &err), 0, "%s accepted", text);
	cr_assert(strstr(err.msg, want), "want '%s' in '%s'", want, err.msg);
}

Test(cpu_template, bitmaps_are_firecrackers)
{
	uint64_t f, v;
	char why[64];

	cr_assert_eq(cpu_bitmap_parse("0b1x0", 32, &f, &v, why, sizeof(why)),
		     0);
	cr_assert_eq(f, 0x5);
	cr_assert_eq(v, 0x4);
	/* '_' groups digits; no prefix is taken too, as Firecracker does. */
	cr_assert_eq(cpu_bitmap_parse("1_0000_0000", 32, &f, &v, why,
				      sizeof(why)), 0);
	cr_assert_eq(f, 0x1ff);
	cr_assert_eq(v, 0x100);
	cr_assert_eq(cpu_bitmap_parse("0b", 32, &f, &v, why, sizeof(why)), 0);
	cr_assert_eq(f, 0);
	/* 64 characters fill an MSR's, and are one too many for CPUID. */
	{
		char s[2 + 65] = "0b";

		memset(s + 2, '1', 64);
		s[66] = '\0';
		cr_assert_eq(cpu_bitmap_parse(s, 64, &f, &v, why, sizeof(why)),
			     0);
		cr_assert_eq(f, UINT64_MAX);
		cr_assert_eq(v, UINT64_MAX);
		cr_assert_neq(cpu_bitmap_parse(s, 32, &f, &v, why,
					       sizeof(why)), 0);
		cr_assert_str_eq(why, "longer than 32 bits");
	}
	cr_assert_neq(cpu_bitmap_parse("0b1y", 32, &f, &v, why, sizeof(why)),
		      0);
	cr_assert_str_eq(why, "'y' is not 0, 1 or x");
}

Test(cpu_template, a_custom_template_is_parsed_whole)
{
	static struct cpu_template t;
	struct mvm_err err;

	cr_assert_eq(parse("{\"kvm_capabilities\": [\"171\", \"!56\"], "
			   "\"cpuid_modifiers\": [{\"leaf\": \"0x7\", "
			   "\"subleaf\": \"0b0\", \"flags\": 1, \"modifiers\": "
			   "[{\"register\": \"ebx\", \"bitmap\": \"0b1x0\"}, "
			   "{\"register\": \"edx\", \"bitmap\": \"0b1\"}]}], "
			   "\"msr_modifiers\": [{\"addr\": \"266\", "
			   "\"bitmap\": \"0b10\"}]}", &t, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(t.nr_caps, 2);
	cr_assert_eq(t.caps[0].cap, 171);
	cr_assert_not(t.caps[0].remove);
	cr_assert_eq(t.caps[1].cap, 56);
	cr_assert(t.caps[1].remove);
	cr_assert_eq(t.nr_cpuid, 2);
	cr_assert_eq(t.cpuid[0].leaf, 7);
	cr_assert_eq(t.cpuid[0].subleaf, 0);
	cr_assert_eq(t.cpuid[0].flags, 1);
	cr_assert_eq(t.cpuid[0].reg, CPU_REG_EBX);
	cr_assert_eq(t.cpuid[0].filter, 5);
	cr_assert_eq(t.cpuid[0].value, 4);
	cr_assert_eq(t.cpuid[1].reg, CPU_REG_EDX);
	cr_assert_eq(t.nr_msrs, 1);
	cr_assert_eq(t.msrs[0].addr, 0x10a);
	cr_assert_eq(t.msrs[0].filter, 3);
	cr_assert_eq(t.msrs[0].value, 2);
	/* Every section may be left out. */
	cr_assert_eq(parse("{}", &t, &err), 0, "%s", err.msg);
	cr_assert_eq(t.nr_cpuid + t.nr_msrs + t.nr_caps, 0);
}

Test(cpu_template, bad_input_names_the_field)
{
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"7h\", \"subleaf\": \"0x0\","
		" \"flags\": 0, \"modifiers\": []}]}",
		"cpuid_modifiers[0].leaf: \"7h\" is not a 32-bit number (hex "
		"with 0x, binary with 0b, or decimal)");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x\", \"subleaf\": \"0x0\","
		" \"flags\": 0, \"modifiers\": []}]}",
		"cpuid_modifiers[0].leaf: \"0x\" is not");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x100000000\", "
		"\"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": []}]}",
		"cpuid_modifiers[0].leaf");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
		"\"0x0\", \"modifiers\": []}]}",
		"cpuid_modifiers[0].flags: missing required field");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
		"\"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": \"eax\","
		" \"bitmap\": \"0b1z\"}]}]}",
		"cpuid_modifiers[0].modifiers[0].bitmap: \"0b1z\": 'z' is not");
	refused("{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": "
		"\"0x0\", \"flags\": 0, \"modifiers\": [{\"register\": \"rax\","
		" \"bitmap\": \"0b1\"}]}]}",
		"cpuid_modifiers[0].modifiers[0].register: \"rax\" is not one");
	refused("{\"msr_modifiers\": [{\"addr\": \"4294967296\", \"bitmap\": "
		"\"0b1\"}]}", "msr_modifiers[0].addr: \"4294967296\"");
	refused("{\"msr_modifiers\": [{\"addr\": \"0xg\", \"bitmap\": "
		"\"0b1\"}]}", "msr_modifiers[0].addr: \"0xg\"");
	refused("{\"msr_modifiers\": {}}",
		"msr_modifiers: expected an array, got an object");
	refused("{\"kvm_capabilities\": [\"!\"]}",
		"kvm_capabilities[0]: \"!\" is not a KVM capability");
	refused("{\"kvm_capabilities\": [7]}",
		"kvm_capabilities[0]: expected a string");
	refused("{\"vcpu_features\": [{\"index\": 0, \"bitmap\": \"0b1\"}]}",
		"vcpu_features: an aarch64 field");
	refused("{\"cpuid\": []}", "cpuid");
}

Test(cpu_template, too_many_modifiers_are_refused)
{
	static char text[CPU_TMPL_MAX_CPUID * 80 + 256];
	static struct cpu_template t;
	struct mvm_err err;
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"cpuid_modifiers"
			      "\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", "
			      "\"flags\": 0, \"modifiers\": [");
	for (unsigned i = 0; i <= CPU_TMPL_MAX_CPUID; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\""
				      "register\": \"eax\", \"bitmap\": \"0b1\"}",
				      i ? ", " : "");
	snprintf(text + n, sizeof(text) - n, "]}]}");
	cr_assert_neq(parse(text, &t, &err), 0);
	cr_assert(strstr(err.msg, "cpuid_modifiers[0].modifiers: more than"),
		  "%s", err.msg);
}

/* What is parsed reads back as Firecracker writes it, and parses again. */
Test(cpu_template, export_reads_back)
{
	static struct cpu_template t, u;
	struct json_object *o;
	struct mvm_err err;
	const char *s;

	cr_assert_eq(parse("{\"kvm_capabilities\": [\"!56\"], "
			   "\"cpuid_modifiers\": [{\"leaf\": \"0x1\", "
			   "\"subleaf\": \"0x0\", \"flags\": 0, \"modifiers\": "
			   "[{\"register\": \"eax\", \"bitmap\": \"0b0101\"}, "
			   "{\"register\": \"ecx\", \"bitmap\": \"0b0xxx\"}]}, "
			   "{\"leaf\": \"0x80000001\", \"subleaf\": \"0x0\", "
			   "\"flags\": 0, \"modifiers\": [{\"register\": "
			   "\"edx\", \"bitmap\": \"0b1\"}]}], "
			   "\"msr_modifiers\": [{\"addr\": \"0x1a0\", "
			   "\"bitmap\": \"0b1\"}]}", &t, &err), 0, "%s",
		     err.msg);
	o = cpu_config_export(&t);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	cr_assert(strstr(s, "\"cpuid_modifiers\":[{\"leaf\":\"0x1\","
			 "\"subleaf\":\"0x0\",\"flags\":0,\"modifiers\":[{"
			 "\"register\":\"eax\",\"bitmap\":\"0bxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxx0101\"},{\"register\":\"ecx\",\"bitmap\":"
			 "\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxx0xxx\"}]},{\"leaf\":"
			 "\"0x80000001\""), "%s", s);
	cr_assert(strstr(s, "\"msr_modifiers\":[{\"addr\":\"0x1a0\",\"bitmap"
			 "\":\"0b" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1\"}]"), "%s", s);
	cr_assert(strstr(s, "\"kvm_capabilities\":[\"!56\"]"), "%s", s);
	cr_assert_eq(shape_cpu_config(&u, o, "", &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(&t, &u, sizeof(t)), 0);
	json_object_put(o);
}

Test(cpu_template, static_templates_are_for_their_vendor)
{
	static struct cpu_template t;
	struct mvm_err err;

	cr_assert_eq(cpu_static_template(CPU_STATIC_T2A, HOST_VENDOR_AMD, &t,
					 &err), 0);
	cr_assert_eq(t.nr_cpuid, 11);
	cr_assert_eq(t.nr_msrs, 0);
	cr_assert_neq(cpu_static_template(CPU_STATIC_T2A, HOST_VENDOR_INTEL,
					  &t, &err), 0);
	cr_assert(strstr(err.msg, "\"T2A\" is for AMD CPUs and this host's "
			 "is Intel"), "%s", err.msg);
	for (int i = CPU_STATIC_C3; i <= CPU_STATIC_T2CL; i++) {
		cr_assert_eq(cpu_static_template(i, HOST_VENDOR_INTEL, &t,
						 &err), 0, "%s",
			     cpu_static_names[i]);
		cr_assert_neq(cpu_static_template(i, HOST_VENDOR_AMD, &t,
						  &err), 0);
		cr_assert(strstr(err.msg, "CPU vendor mismatched"), "%s",
			  err.msg);
	}
	/* T2S sets IA32_ARCH_CAPABILITIES whole; T2CL clears bits of it. */
	cpu_static_template(CPU_STATIC_T2S, HOST_VENDOR_INTEL, &t, &err);
	cr_assert_eq(t.nr_msrs, 1);
	cr_assert_eq(t.msrs[0].addr, 0x10a);
	cr_assert_eq(t.msrs[0].filter, UINT64_MAX);
	cr_assert_eq(t.msrs[0].value, 0x0c0a0c4c);
	cpu_static_template(CPU_STATIC_C3, HOST_VENDOR_INTEL, &t, &err);
	cr_assert_eq(t.nr_cpuid, 10);
	cr_assert_eq(cpu_static_template(CPU_STATIC_NONE, HOST_VENDOR_OTHER,
					 &t, &err), 0);
	cr_assert_eq(t.nr_cpuid, 0);
}

/* A CPUID table of n entries, room for more. */
static struct kvm_cpuid2 *table(const struct kvm_cpuid_entry2 *e, unsigned n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 8 * sizeof(*e));

	memcpy(c->entries, e, n * sizeof(*e));
	c->nent = n;
	return c;
}

Test(cpu_template, modifiers_set_only_the_filtered_bits)
{
	static const struct kvm_cpuid_entry2 e[] = {
		{ .function = 1, .eax = 0xa00f11, .ecx = 0xffffffff },
		{ .function = 7, .index = 0, .flags = 1, .ebx = 0 },
		{ .function = 7, .index = 1, .flags = 1, .ebx = 0xffffffff },
	};
	static struct cpu_template t = {
		.nr_cpuid = 3,
		.cpuid = {
			{ 1, 0, 0, CPU_REG_EAX, 0xf, 0x5 },
			{ 1, 0, 0, CPU_REG_ECX, 0x8, 0x0 },
			{ 7, 0, 1, CPU_REG_EBX, 0x200, 0x200 },
		},
	};
	struct kvm_cpuid2 *c = table(e, 3);
	struct mvm_err err;

	cr_assert_eq(cpu_template_apply_cpuid(&t, c, &err), 0, "%s", err.msg);
	cr_assert_eq(c->entries[0].eax, 0xa00f15);
	cr_assert_eq(c->entries[0].ecx, 0xfffffff7);
	cr_assert_eq(c->entries[1].ebx, 0x200);
	cr_assert_eq(c->entries[2].ebx, 0xffffffff, "subleaf 1 untouched");
	free(c);
}

/* As Firecracker: a leaf the CPU lacks is an error, not a new leaf. */
Test(cpu_template, a_missing_leaf_is_named)
{
	static const struct kvm_cpuid_entry2 e[] = {
		{ .function = 7, .index = 0, .flags = 1 },
	};
	static struct cpu_template t = {
		.nr_cpuid = 1,
		.cpuid = { { 7, 2, 1, CPU_REG_EBX, 1, 1 } },
	};
	struct kvm_cpuid2 *c = table(e, 1);
	struct mvm_err err;

	cr_assert_neq(cpu_template_apply_cpuid(&t, c, &err), 0);
	cr_assert(strstr(err.msg, "CPUID leaf 0x7 subleaf 0x2 is not in"),
		  "%s", err.msg);
	free(c);
}
