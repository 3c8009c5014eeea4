/*
 * VM operation policy: which management operations are allowed given what
 * the VM is doing right now. One table of rules, evaluated by a pure
 * function; callers gather the facts (from the VM, its config and, for
 * l1_hypervisor_active, KVM_GET_NESTED_STATE) and ask before acting.
 */
#ifndef MVM_POLICY_H
#define MVM_POLICY_H

#include <stdbool.h>

struct mvm_err;
struct json_object;

enum policy_op {
	/* Flip the nested virtualization setting from its current value. */
	POLICY_OP_NESTED_TOGGLE,
	/* PATCH /hotplug/memory, PATCH /balloon with a new target. */
	POLICY_OP_MEMORY_RESIZE,
	/*
	 * Dynamic memory changing anything: its controller moving the
	 * guest's memory, PATCH /dynamic-memory. Refused, the controller
	 * frozen, while L1 hosts guests; nesting itself does not matter.
	 */
	POLICY_OP_DYNAMIC_MEMORY,
	POLICY_OP_CHECKPOINT_APPLY,
	POLICY_OP_SNAPSHOT_CREATE, /* save */
	POLICY_OP_SNAPSHOT_LOAD,   /* restore */
	POLICY_OP_LIVE_MIGRATION,
	/* Boot: allowed unless the config is contradictory; may warn. */
	POLICY_OP_START,
	POLICY_OP_COUNT,
};

struct policy_facts {
	bool vm_running;             /* booted: anything but off */
	bool nested_exposed;         /* VMX/SVM shown to the guest */
	bool l1_hypervisor_active;   /* the guest runs VMXON / EFER.SVME */
	bool l2_running;             /* a nested guest is on the CPU now */
	bool dynamic_memory_enabled; /* informative: no rule needs it */
	unsigned int nics;           /* network adapters */
	unsigned int nics_mac_spoofing; /* of which allow foreign MACs */
	bool nat;                    /* a NAT network is attached */
	/*
	 * The caller asked for allow_nested_state (snapshot_create, live
	 * migration) and every host involved can save and restore KVM's
	 * nested state: a VM hosting guests may then be saved or moved.
	 */
	bool nested_state_override;
};

struct policy_verdict {
	bool allowed;
	bool warning;     /* allowed, but reason says what will not work */
	const char *rule; /* name of the deciding rule, NULL if none applied */
	char reason[256]; /* names the rule; "" when allowed cleanly */
};

/*
 * Decide whether op may happen now. Returns 0 with *v filled, or -EINVAL for
 * an unknown op. The first refusing rule wins; with none, the first
 * warning rule is reported.
 */
int policy_check(enum policy_op op, const struct policy_facts *f,
		 struct policy_verdict *v);

/* Stable snake_case name ("memory_resize"), or NULL for an unknown op. */
const char *policy_op_name(enum policy_op op);

/*
 * Every op with its verdict, for GET /vm/policy:
 * {"ops": [{"op": "...", "allowed": b, "warning": b, "rule": s|null,
 *           "reason": s|null}, ...]}
 * On success *out holds a new reference the caller puts.
 */
int policy_list_json(const struct policy_facts *f, struct json_object **out,
		     struct mvm_err *err);

#endif
