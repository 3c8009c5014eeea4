/* The policy table: every rule, and that each refusal lifts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/policy.h"

static const enum policy_op l1_ops[] = {
	POLICY_OP_MEMORY_RESIZE, POLICY_OP_DYNAMIC_MEMORY,
	POLICY_OP_CHECKPOINT_APPLY, POLICY_OP_SNAPSHOT_CREATE,
	POLICY_OP_SNAPSHOT_LOAD, POLICY_OP_LIVE_MIGRATION,
};

/* A running VM with nesting on and a NIC that allows MAC spoofing. */
static struct policy_facts nested_vm(void)
{
	struct policy_facts f;

	memset(&f, 0, sizeof(f));
	f.vm_running = true;
	f.nested_exposed = true;
	f.nics = 1;
	f.nics_mac_spoofing = 1;
	return f;
}

static void refused(enum policy_op op, const struct policy_facts *f,
		    const char *rule, const char *text)
{
	struct policy_verdict v;

	cr_assert_eq(policy_check(op, f, &v), 0);
	cr_assert_not(v.allowed, "%s should be refused", policy_op_name(op));
	cr_assert_not(v.warning);
	cr_assert_str_eq(v.rule, rule);
	cr_assert_not_null(strstr(v.reason, rule), "%s", v.reason);
	cr_assert_not_null(strstr(v.reason, policy_op_name(op)), "%s",
			   v.reason);
	if (text)
		cr_assert_not_null(strstr(v.reason, text), "%s", v.reason);
}

static void allowed(enum policy_op op, const struct policy_facts *f)
{
	struct policy_verdict v;

	cr_assert_eq(policy_check(op, f, &v), 0);
	cr_assert(v.allowed, "%s: %s", policy_op_name(op), v.reason);
	cr_assert_not(v.warning, "%s", v.reason);
	cr_assert_null(v.rule);
	cr_assert_str_empty(v.reason);
}

Test(policy, nested_toggle_only_while_off)
{
	struct policy_facts f = nested_vm();

	refused(POLICY_OP_NESTED_TOGGLE, &f, "nested_toggle_requires_off",
		"nested virtualization can only be changed while the VM is "
		"off");
	f.nested_exposed = false;
	refused(POLICY_OP_NESTED_TOGGLE, &f, "nested_toggle_requires_off",
		NULL);
	f.vm_running = false;
	allowed(POLICY_OP_NESTED_TOGGLE, &f);
	f.nested_exposed = true;
	allowed(POLICY_OP_NESTED_TOGGLE, &f);
}

/*
 * Hyper-V's later rule: nesting has no effect on dynamic memory. Both may
 * be on, turned on in either order, and such a VM starts.
 */
Test(policy, nesting_and_dynamic_memory_may_both_be_on)
{
	struct policy_facts f;

	memset(&f, 0, sizeof(f));
	f.dynamic_memory_enabled = true;
	allowed(POLICY_OP_NESTED_TOGGLE, &f);
	allowed(POLICY_OP_START, &f);
	f.dynamic_memory_enabled = false;
	f.nested_exposed = true;
	allowed(POLICY_OP_DYNAMIC_MEMORY, &f);
	f.dynamic_memory_enabled = true;
	allowed(POLICY_OP_DYNAMIC_MEMORY, &f);
	allowed(POLICY_OP_START, &f);
	/* Running, nesting on, L1 idle: dynamic memory moves freely. */
	f.vm_running = true;
	allowed(POLICY_OP_DYNAMIC_MEMORY, &f);
	allowed(POLICY_OP_MEMORY_RESIZE, &f);
}

/* The 2015 preview's rule is gone, whatever the facts. */
Test(policy, no_rule_excludes_dynamic_memory_by_nesting_alone)
{
	struct policy_facts f;
	struct policy_verdict v;

	for (unsigned bits = 0; bits < 8; bits++) {
		memset(&f, 0, sizeof(f));
		f.vm_running = bits & 1;
		f.nested_exposed = bits & 2;
		f.dynamic_memory_enabled = bits & 4;
		for (int op = 0; op < POLICY_OP_COUNT; op++) {
			cr_assert_eq(policy_check(op, &f, &v), 0);
			if (op == POLICY_OP_NESTED_TOGGLE && f.vm_running)
				continue; /* only while off, as ever */
			cr_assert(v.allowed, "%s with facts %u: %s",
				  policy_op_name(op), bits, v.reason);
		}
	}
}

Test(policy, state_operations_refused_while_l1_hosts_guests)
{
	struct policy_facts f = nested_vm();
	size_t i;

	for (i = 0; i < sizeof(l1_ops) / sizeof(l1_ops[0]); i++) {
		enum policy_op op = l1_ops[i];

		f.l1_hypervisor_active = true;
		f.l2_running = false;
		refused(op, &f, "nested_guest_hypervisor_active",
			"allowed again once it stops");
		f.l2_running = true;
		refused(op, &f, "nested_guest_hypervisor_active", NULL);
		/* Lift: L1 stops hosting guests. */
		f.l1_hypervisor_active = false;
		f.l2_running = false;
		allowed(op, &f);
	}
}

Test(policy, l2_alone_counts_as_hosting)
{
	struct policy_facts f = nested_vm();

	f.l2_running = true;
	refused(POLICY_OP_LIVE_MIGRATION, &f, "nested_guest_hypervisor_active",
		NULL);
}

Test(policy, dynamic_memory_frozen_while_l1_hosts_guests)
{
	struct policy_facts f = nested_vm();

	/* On or off, a change waits for L1 to stop hosting. */
	f.dynamic_memory_enabled = true;
	f.l1_hypervisor_active = true;
	refused(POLICY_OP_DYNAMIC_MEMORY, &f, "nested_guest_hypervisor_active",
		"the guest is hosting virtual machines of its own; allowed "
		"again once it stops");
	f.l1_hypervisor_active = false;
	f.l2_running = true;
	refused(POLICY_OP_DYNAMIC_MEMORY, &f, "nested_guest_hypervisor_active",
		NULL);
	f.l2_running = false;
	allowed(POLICY_OP_DYNAMIC_MEMORY, &f);
	f.dynamic_memory_enabled = false;
	f.l1_hypervisor_active = true;
	refused(POLICY_OP_DYNAMIC_MEMORY, &f, "nested_guest_hypervisor_active",
		NULL);
}

Test(policy, nested_exposed_but_idle_l1_allows_everything)
{
	struct policy_facts f = nested_vm();
	size_t i;

	for (i = 0; i < sizeof(l1_ops) / sizeof(l1_ops[0]); i++)
		allowed(l1_ops[i], &f);
	allowed(POLICY_OP_START, &f);
	f.dynamic_memory_enabled = true;
	for (i = 0; i < sizeof(l1_ops) / sizeof(l1_ops[0]); i++)
		allowed(l1_ops[i], &f);
}

Test(policy, start_warns_when_nested_guests_have_no_network)
{
	struct policy_facts f = nested_vm();
	struct policy_verdict v;

	f.vm_running = false;
	f.nics = 2;
	f.nics_mac_spoofing = 0;
	cr_assert_eq(policy_check(POLICY_OP_START, &f, &v), 0);
	cr_assert(v.allowed);
	cr_assert(v.warning);
	cr_assert_str_eq(v.rule, "nested_no_bridged_network");
	cr_assert_not_null(strstr(v.reason, "nested guests will have no "
				  "bridged network: turn on mac_spoofing on "
				  "a NIC or use NAT"));

	f.nics_mac_spoofing = 1; /* lift: one NIC spoofs */
	allowed(POLICY_OP_START, &f);
	f.nics_mac_spoofing = 0;
	f.nat = true; /* lift: NAT */
	allowed(POLICY_OP_START, &f);
	f.nat = false;
	f.nested_exposed = false; /* lift: no nesting */
	allowed(POLICY_OP_START, &f);
	f.nested_exposed = true;
	f.nics = 0; /* no network at all was asked for */
	allowed(POLICY_OP_START, &f);
}

/* Nesting with dynamic memory starts; the network warning still shows. */
Test(policy, start_with_nesting_and_dynamic_memory)
{
	struct policy_facts f = nested_vm();
	struct policy_verdict v;

	f.vm_running = false;
	f.dynamic_memory_enabled = true;
	allowed(POLICY_OP_START, &f);
	f.nics_mac_spoofing = 0;
	cr_assert_eq(policy_check(POLICY_OP_START, &f, &v), 0);
	cr_assert(v.allowed);
	cr_assert(v.warning);
	cr_assert_str_eq(v.rule, "nested_no_bridged_network");
}

Test(policy, unknown_op)
{
	struct policy_facts f = nested_vm();
	struct policy_verdict v;

	cr_assert_eq(policy_check(POLICY_OP_COUNT, &f, &v), -EINVAL);
	cr_assert_eq(policy_check((enum policy_op)-1, &f, &v), -EINVAL);
	cr_assert_null(policy_op_name(POLICY_OP_COUNT));
}

Test(policy, op_names_are_stable_and_unique)
{
	static const char *const want[POLICY_OP_COUNT] = {
		"nested_toggle", "memory_resize", "dynamic_memory",
		"checkpoint_apply", "snapshot_create", "snapshot_load",
		"live_migration", "start",
	};
	int i;

	for (i = 0; i < POLICY_OP_COUNT; i++)
		cr_assert_str_eq(policy_op_name(i), want[i]);
}

Test(policy, list_json_matches_policy_check)
{
	struct policy_facts f = nested_vm();
	struct json_object *root, *ops, *o, *v;
	struct mvm_err err;
	size_t i;

	f.l1_hypervisor_active = true;
	cr_assert_eq(policy_list_json(&f, &root, &err), 0, "%s", err.msg);
	cr_assert(json_object_object_get_ex(root, "ops", &ops));
	cr_assert_eq(json_object_array_length(ops), POLICY_OP_COUNT);
	for (i = 0; i < POLICY_OP_COUNT; i++) {
		struct policy_verdict pv;

		policy_check(i, &f, &pv);
		o = json_object_array_get_idx(ops, i);
		cr_assert(json_object_object_get_ex(o, "op", &v));
		cr_assert_str_eq(json_object_get_string(v), policy_op_name(i));
		cr_assert(json_object_object_get_ex(o, "allowed", &v));
		cr_assert_eq(json_object_get_boolean(v), pv.allowed);
		cr_assert(json_object_object_get_ex(o, "warning", &v));
		cr_assert_eq(json_object_get_boolean(v), pv.warning);
		cr_assert(json_object_object_get_ex(o, "rule", &v));
		if (pv.rule)
			cr_assert_str_eq(json_object_get_string(v), pv.rule);
		else
			cr_assert_null(v);
		cr_assert(json_object_object_get_ex(o, "reason", &v));
	}
	/* Spot-check: migration refused, start allowed. */
	o = json_object_array_get_idx(ops, POLICY_OP_LIVE_MIGRATION);
	json_object_object_get_ex(o, "allowed", &v);
	cr_assert_not(json_object_get_boolean(v));
	o = json_object_array_get_idx(ops, POLICY_OP_START);
	json_object_object_get_ex(o, "allowed", &v);
	cr_assert(json_object_get_boolean(v));
	json_object_put(root);
}

/* allow_nested_state: saving and moving carry the nested state... */
Test(policy, nested_state_override_lets_a_hosting_guest_be_saved_and_moved)
{
	static const enum policy_op carried[] = {
		POLICY_OP_SNAPSHOT_CREATE, POLICY_OP_SNAPSHOT_LOAD,
		POLICY_OP_LIVE_MIGRATION,
	};
	struct policy_facts f = nested_vm();
	struct policy_verdict v;

	f.l1_hypervisor_active = true;
	f.nested_state_override = true;
	for (size_t i = 0; i < sizeof(carried) / sizeof(carried[0]); i++) {
		cr_assert_eq(policy_check(carried[i], &f, &v), 0);
		cr_assert(v.allowed, "%s: %s", policy_op_name(carried[i]),
			  v.reason);
		cr_assert(v.warning);
		cr_assert_str_eq(v.rule, "nested_state_override");
		cr_assert_not_null(strstr(v.reason, "allow_nested_state"));
	}
	/* ...but nothing else: RAM still may not change under L1. */
	refused(POLICY_OP_MEMORY_RESIZE, &f, "nested_guest_hypervisor_active",
		NULL);
	refused(POLICY_OP_CHECKPOINT_APPLY, &f,
		"nested_guest_hypervisor_active", NULL);
	/* Not hosting: the override changes nothing, warns of nothing. */
	f.l1_hypervisor_active = false;
	allowed(POLICY_OP_LIVE_MIGRATION, &f);
}
