/*
 * The nesting query's pure half: what one vCPU's readings say (nested
 * state, EFER/CR4, statistics, alone and together), where the binary
 * statistics keep their counters, and the JSON of GET /vm/nested.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vm_nested.h"
#include "mvm/policy.h"
#include "mvm/vm.h"

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	fprintf(stderr, "[NOTE] needs an Intel host with kvm_intel nested=1: "
		"the VMX query paths (VMXON in KVM_GET_NESTED_STATE, CR4.VMXE "
		"without it) run here on synthetic readings only\n");
}

static struct nested_vcpu_reading none(void)
{
	struct nested_vcpu_reading r;

	memset(&r, 0, sizeof(r));
	return r;
}

static void judge(enum host_vendor v, const struct nested_vcpu_reading *r,
		  const uint64_t *prev, bool want_l1, bool want_l2)
{
	bool l1 = !want_l1, l2 = !want_l2;

	nested_vcpu_judge(v, r, prev, &l1, &l2);
	cr_assert_eq(l1, want_l1, "l1");
	cr_assert_eq(l2, want_l2, "l2");
}

Test(nested_query, nothing_known_means_nothing_runs)
{
	struct nested_vcpu_reading r = none();

	judge(HOST_VENDOR_AMD, &r, NULL, false, false);
	judge(HOST_VENDOR_INTEL, &r, NULL, false, false);
	judge(HOST_VENDOR_OTHER, &r, NULL, false, false);
}

Test(nested_query, svm_efer_svme_without_nested_state)
{
	struct nested_vcpu_reading r = none();

	r.have_sregs = true;
	r.efer = 0xd01; /* LME, LMA, SCE, NXE: an ordinary 64-bit kernel */
	judge(HOST_VENDOR_AMD, &r, NULL, false, false);
	r.efer |= NESTED_EFER_SVME;
	judge(HOST_VENDOR_AMD, &r, NULL, true, false);
	/* SVME means nothing to an Intel vCPU (KVM would refuse it). */
	judge(HOST_VENDOR_INTEL, &r, NULL, false, false);
}

Test(nested_query, vmx_cr4_without_nested_state)
{
	struct nested_vcpu_reading r = none();

	r.have_sregs = true;
	r.cr4 = 0x3406f0;
	judge(HOST_VENDOR_INTEL, &r, NULL, false, false);
	r.cr4 |= NESTED_CR4_VMXE;
	judge(HOST_VENDOR_INTEL, &r, NULL, true, false);
	judge(HOST_VENDOR_AMD, &r, NULL, false, false);
}

Test(nested_query, nested_state_is_the_authority)
{
	struct nested_vcpu_reading r = none();

	/* VMX: VMXON decides even when CR4.VMXE says otherwise. */
	r.have_sregs = true;
	r.cr4 = NESTED_CR4_VMXE;
	r.have_state = true;
	r.state.format = NESTED_FORMAT_VMX;
	r.state.l1_known = true;
	r.state.l1_hypervisor_active = false; /* VMXE set, no VMXON yet */
	judge(HOST_VENDOR_INTEL, &r, NULL, false, false);
	r.state.l1_hypervisor_active = true;
	r.cr4 = 0;
	judge(HOST_VENDOR_INTEL, &r, NULL, true, false);

	/* SVM state parsed without EFER: fall back to EFER from sregs. */
	r = none();
	r.have_state = true;
	r.state.format = NESTED_FORMAT_SVM;
	r.state.l1_known = false;
	r.have_sregs = true;
	r.efer = NESTED_EFER_SVME;
	judge(HOST_VENDOR_AMD, &r, NULL, true, false);
}

Test(nested_query, guest_mode_from_either_source)
{
	struct nested_vcpu_reading r = none();

	r.have_state = true;
	r.state.guest_mode = true;
	r.state.l1_known = true;
	r.state.l1_hypervisor_active = true;
	judge(HOST_VENDOR_AMD, &r, NULL, true, true);

	/* Statistics alone (no nested state on this kernel). */
	r = none();
	r.have_guest_mode = true;
	r.guest_mode = true;
	judge(HOST_VENDOR_AMD, &r, NULL, true, true);
	judge(HOST_VENDOR_INTEL, &r, NULL, true, true);
	r.guest_mode = false;
	judge(HOST_VENDOR_AMD, &r, NULL, false, false);
}

Test(nested_query, nested_runs_between_samples_count)
{
	struct nested_vcpu_reading r = none();
	uint64_t prev = 10;

	r.have_sregs = true;
	r.efer = NESTED_EFER_SVME;
	r.have_guest_mode = true; /* sampled while in L1 */
	r.have_nested_run = true;
	r.nested_run = 10;
	judge(HOST_VENDOR_AMD, &r, &prev, true, false);
	r.nested_run = 11;
	judge(HOST_VENDOR_AMD, &r, &prev, true, true);
	/* No previous reading: a counter alone proves nothing about now. */
	judge(HOST_VENDOR_AMD, &r, NULL, true, false);
	/* A counter that went backwards is a new stats file, not a run. */
	r.nested_run = 3;
	judge(HOST_VENDOR_AMD, &r, &prev, true, false);
}

/* ---- the statistics file -------------------------------------------- */

struct stat_def {
	const char *name;
	uint16_t size;
	uint32_t offset;
};

/* A stats file as KVM lays it out: header, id, descriptors, data. */
static size_t make_stats(unsigned char *buf, size_t cap,
			 const struct stat_def *defs, unsigned n,
			 uint32_t name_size)
{
	struct kvm_stats_header h = {
		.name_size = name_size,
		.num_desc = n,
		.id_offset = sizeof(h),
		.desc_offset = sizeof(h) + 64,
	};
	size_t dsz = sizeof(struct kvm_stats_desc) + name_size;

	h.data_offset = h.desc_offset + n * dsz;
	cr_assert_leq(h.data_offset + 4096, cap);
	memset(buf, 0, cap);
	memcpy(buf, &h, sizeof(h));
	snprintf((char *)buf + h.id_offset, 64, "kvm-1234/vcpu-0");
	for (unsigned i = 0; i < n; i++) {
		struct kvm_stats_desc d = {
			.flags = KVM_STATS_TYPE_INSTANT,
			.size = defs[i].size,
			.offset = defs[i].offset,
		};
		unsigned char *p = buf + h.desc_offset + i * dsz;

		memcpy(p, &d, sizeof(d));
		strncpy((char *)p + sizeof(d), defs[i].name, name_size);
	}
	return h.data_offset + 4096;
}

Test(nested_query, stats_layout_found)
{
	static const struct stat_def defs[] = {
		{ "halt_exits", 1, 0 }, { "nested_run", 1, 1048 },
		{ "halt_poll_fail_hist", 32, 8 }, { "guest_mode", 1, 1088 },
	};
	unsigned char buf[8192];
	struct nested_stats_layout lay;
	struct mvm_err err = { .msg = "" };
	size_t len = make_stats(buf, sizeof(buf), defs, 4, 48), need;

	cr_assert_eq(nested_stats_prefix_len(buf, 24, &need, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(need, 24 + 64 + 4 * (16 + 48));
	cr_assert_eq(nested_stats_layout_parse(buf, need, &lay, &err), 0, "%s",
		     err.msg);
	cr_assert(lay.has_guest_mode);
	cr_assert(lay.has_nested_run);
	cr_assert_eq(lay.guest_mode_off, need + 1088);
	cr_assert_eq(lay.nested_run_off, need + 1048);
	(void)len;
}

Test(nested_query, stats_without_nesting_counters)
{
	static const struct stat_def defs[] = { { "halt_exits", 1, 0 } };
	unsigned char buf[8192];
	struct nested_stats_layout lay;
	struct mvm_err err = { .msg = "" };

	make_stats(buf, sizeof(buf), defs, 1, 48);
	cr_assert_eq(nested_stats_layout_parse(buf, sizeof(buf), &lay, &err),
		     0, "%s", err.msg);
	cr_assert_not(lay.has_guest_mode);
	cr_assert_not(lay.has_nested_run);
}

Test(nested_query, stats_malformed)
{
	static const struct stat_def defs[] = { { "guest_mode", 1, 0 } };
	static const struct stat_def wide[] = { { "guest_mode", 4, 0 } };
	unsigned char buf[8192] = { 0 };
	struct kvm_stats_header h;
	struct nested_stats_layout lay;
	struct mvm_err err;
	size_t need;

	cr_assert_eq(nested_stats_layout_parse(buf, 10, &lay, &err), -EINVAL);
	make_stats(buf, sizeof(buf), defs, 1, 48);
	memcpy(&h, buf, sizeof(h));

	/* Descriptors cut short. */
	cr_assert_eq(nested_stats_layout_parse(buf, 24 + 64 + 10, &lay, &err),
		     -EINVAL);
	/* Absurd counts and sizes. */
	h.num_desc = 0x7fffffff;
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(nested_stats_prefix_len(buf, sizeof(h), &need, &err),
		     -EINVAL);
	h.num_desc = 1;
	h.name_size = 0;
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(nested_stats_prefix_len(buf, sizeof(h), &need, &err),
		     -EINVAL);
	h.name_size = 48;
	h.desc_offset = 8; /* inside the header */
	memcpy(buf, &h, sizeof(h));
	cr_assert_eq(nested_stats_prefix_len(buf, sizeof(h), &need, &err),
		     -EINVAL);

	/* A name without a terminating NUL is cut, not run past. */
	make_stats(buf, sizeof(buf), defs, 1, 10);
	memset(buf + 24 + 64 + 16, 'x', 10);
	cr_assert_eq(nested_stats_layout_parse(buf, sizeof(buf), &lay, &err),
		     0);
	cr_assert_not(lay.has_guest_mode);

	/* Our counters are single values. */
	make_stats(buf, sizeof(buf), wide, 1, 48);
	cr_assert_eq(nested_stats_layout_parse(buf, sizeof(buf), &lay, &err),
		     -EINVAL);
}

/* ---- GET /vm/nested ------------------------------------------------- */

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "%s missing", key);
	return v ? json_object_get_string(v) : NULL;
}

static bool boolean(struct json_object *o, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "%s missing", key);
	cr_assert(json_object_is_type(v, json_type_boolean), "%s", key);
	return json_object_get_boolean(v);
}

Test(nested_query, facts_json)
{
	struct vm_nested_facts f = {
		.exposed = true,
		.host_supported = true,
		.mechanism = "svm",
		.l1_hypervisor_active = true,
		.l2_running = false,
		.since = { .tv_sec = 1700000000, .tv_nsec = 123456789 },
	};
	struct json_object *o;
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(nested_facts_json(&f, &o, &err), 0, "%s", err.msg);
	cr_assert(boolean(o, "exposed"));
	cr_assert(boolean(o, "host_supported"));
	cr_assert(boolean(o, "l1_hypervisor_active"));
	cr_assert_not(boolean(o, "l2_running"));
	cr_assert_str_eq(str(o, "mechanism"), "svm");
	cr_assert_str_eq(str(o, "since"), "2023-11-14T22:13:20.123Z");
	cr_assert_eq(json_object_object_length(o), 6);
	json_object_put(o);

	/* Before boot: no since; another vendor: no mechanism. */
	memset(&f, 0, sizeof(f));
	cr_assert_eq(nested_facts_json(&f, &o, &err), 0, "%s", err.msg);
	cr_assert_null(str(o, "since"));
	cr_assert_null(str(o, "mechanism"));
	json_object_put(o);
}

Test(nested_query, mechanism_names)
{
	cr_assert_str_eq(nested_mechanism_name(HOST_VENDOR_INTEL), "vmx");
	cr_assert_str_eq(nested_mechanism_name(HOST_VENDOR_AMD), "svm");
	cr_assert_null(nested_mechanism_name(HOST_VENDOR_OTHER));
}

/* ---- the start-time warning ----------------------------------------- */

Test(nested_query, start_policy_from_the_config)
{
	struct vm_config cfg;
	struct policy_verdict v;

	memset(&cfg, 0, sizeof(cfg));
	cfg.nested = true;
	cfg.nr_nets = 2;
	nested_start_policy(&cfg, &v);
	cr_assert(v.allowed);
	cr_assert(v.warning);
	cr_assert_str_eq(v.rule, "nested_no_bridged_network");
	cr_assert_not_null(strstr(v.reason, "turn on mac_spoofing"));

	cfg.nets[1].mac_spoofing = true; /* one NIC is enough */
	nested_start_policy(&cfg, &v);
	cr_assert_not(v.warning, "%s", v.reason);
	cfg.nets[1].mac_spoofing = false;
	cfg.nets[0].user = true; /* NAT: nested guests go out through it */
	nested_start_policy(&cfg, &v);
	cr_assert_not(v.warning, "%s", v.reason);
	cfg.nets[0].user = false;
	cfg.nested = false;
	nested_start_policy(&cfg, &v);
	cr_assert_not(v.warning, "%s", v.reason);
	cfg.nested = true;
	cfg.nr_nets = 0; /* no network asked for, none missing */
	nested_start_policy(&cfg, &v);
	cr_assert_not(v.warning, "%s", v.reason);
}
