/*
 * The policy table. Each rule names the operations it governs, a predicate
 * over the VM's facts and what to tell the user. Keeping every rule in one
 * table makes the whole policy reviewable at a glance and lets
 * GET /vm/policy list verdicts without duplicating any logic.
 */
#include <errno.h>
#include <stdio.h>

#include "mvm/policy.h"

#define OP(o) (1u << (o))

struct policy_rule {
	const char *name;
	unsigned int ops; /* OP() mask */
	bool warn_only;   /* true: allow, but tell the user */
	bool (*applies)(enum policy_op op, const struct policy_facts *f);
	const char *why;  /* includes how the refusal lifts, when it does */
};

static bool vm_not_off(enum policy_op op, const struct policy_facts *f)
{
	(void)op;
	return f->vm_running;
}

/*
 * While L1 hosts guests, their state (VMCS/VMCB, nested page tables) lives
 * partly inside KVM and partly in guest RAM; moving or shrinking that RAM,
 * or capturing or replacing it, risks handing L1 an inconsistent world.
 * Hyper-V's later rule (its 2015 preview refused dynamic memory with
 * nesting altogether): nesting and dynamic memory may both be on, and only
 * while L1 hosts guests does its memory stay put, resized by nobody.
 */
static bool l1_hosting(enum policy_op op, const struct policy_facts *f)
{
	(void)op;
	return f->l1_hypervisor_active || f->l2_running;
}

/* The ops whose nested state KVM can carry (KVM_GET/SET_NESTED_STATE). */
#define NESTED_STATE_OPS (OP(POLICY_OP_SNAPSHOT_CREATE) | \
			  OP(POLICY_OP_SNAPSHOT_LOAD) | \
			  OP(POLICY_OP_LIVE_MIGRATION))

static bool overridden(enum policy_op op, const struct policy_facts *f)
{
	return f->nested_state_override && (NESTED_STATE_OPS & OP(op));
}

/* Hyper-V's rule, unless the caller took the documented override. */
static bool l1_hosting_refused(enum policy_op op, const struct policy_facts *f)
{
	return l1_hosting(op, f) && !overridden(op, f);
}

static bool l1_hosting_overridden(enum policy_op op,
				  const struct policy_facts *f)
{
	return l1_hosting(op, f) && overridden(op, f);
}

/* Nested guests bridge with their own MACs, which the NIC would drop. */
static bool no_nested_network(enum policy_op op, const struct policy_facts *f)
{
	(void)op;
	return f->nested_exposed && f->nics > 0 &&
	       f->nics_mac_spoofing == 0 && !f->nat;
}

static const struct policy_rule rules[] = {
	{
		.name = "nested_toggle_requires_off",
		.ops = OP(POLICY_OP_NESTED_TOGGLE),
		.applies = vm_not_off,
		.why = "nested virtualization can only be changed while the "
		       "VM is off",
	},
	{
		.name = "nested_guest_hypervisor_active",
		.ops = OP(POLICY_OP_MEMORY_RESIZE) |
		       OP(POLICY_OP_DYNAMIC_MEMORY) |
		       OP(POLICY_OP_CHECKPOINT_APPLY) |
		       OP(POLICY_OP_SNAPSHOT_CREATE) |
		       OP(POLICY_OP_SNAPSHOT_LOAD) |
		       OP(POLICY_OP_LIVE_MIGRATION),
		.applies = l1_hosting_refused,
		.why = "the guest is hosting virtual machines of its own; "
		       "allowed again once it stops",
	},
	{
		.name = "nested_state_override",
		.ops = NESTED_STATE_OPS,
		.warn_only = true,
		.applies = l1_hosting_overridden,
		.why = "allowed by allow_nested_state: the guest's own guests "
		       "travel in KVM's nested state, which Hyper-V would "
		       "refuse",
	},
	{
		.name = "nested_no_bridged_network",
		.ops = OP(POLICY_OP_START),
		.warn_only = true,
		.applies = no_nested_network,
		.why = "nested guests will have no bridged network: turn on "
		       "mac_spoofing on a NIC or use NAT",
	},
};

const char *policy_op_name(enum policy_op op)
{
	static const char *const names[POLICY_OP_COUNT] = {
		[POLICY_OP_NESTED_TOGGLE] = "nested_toggle",
		[POLICY_OP_MEMORY_RESIZE] = "memory_resize",
		[POLICY_OP_DYNAMIC_MEMORY] = "dynamic_memory",
		[POLICY_OP_CHECKPOINT_APPLY] = "checkpoint_apply",
		[POLICY_OP_SNAPSHOT_CREATE] = "snapshot_create",
		[POLICY_OP_SNAPSHOT_LOAD] = "snapshot_load",
		[POLICY_OP_LIVE_MIGRATION] = "live_migration",
		[POLICY_OP_START] = "start",
	};

	if ((unsigned int)op >= POLICY_OP_COUNT)
		return NULL;
	return names[op];
}

int policy_check(enum policy_op op, const struct policy_facts *f,
		 struct policy_verdict *v)
{
	const struct policy_rule *warn = NULL;
	size_t i;

	v->allowed = true;
	v->warning = false;
	v->rule = NULL;
	v->reason[0] = '\0';
	if ((unsigned int)op >= POLICY_OP_COUNT)
		return -EINVAL;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct policy_rule *r = &rules[i];

		if (!(r->ops & OP(op)) || !r->applies(op, f))
			continue;
		if (r->warn_only) {
			if (!warn)
				warn = r;
			continue;
		}
		v->allowed = false;
		v->rule = r->name;
		snprintf(v->reason, sizeof(v->reason),
			 "%s refused by rule %s: %s", policy_op_name(op),
			 r->name, r->why);
		return 0;
	}
	if (warn) {
		v->warning = true;
		v->rule = warn->name;
		snprintf(v->reason, sizeof(v->reason), "warning (rule %s): %s",
			 warn->name, warn->why);
	}
	return 0;
}
