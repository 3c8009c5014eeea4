/* What the VMM's own files share (src/vmm/): not an interface to others. */
#ifndef MVM_VMM_PRIV_H
#define MVM_VMM_PRIV_H

#include "mvm/policy.h"
#include "mvm/snapshot.h"
#include "mvm/vmm.h"

/* An internal event the table must allow: a refusal is logged as a bug. */
void vmm_must_transition(struct vmm *v, enum vm_event e);
/*
 * Ask the policy about op on facts: 0, or -EPERM with the rule's reason
 * (the API's 409). A warning is logged.
 */
int vmm_policy_ask(struct vmm *v, enum policy_op op,
		   const struct policy_facts *f, struct mvm_err *err);
/*
 * Build the VM and start it: from the spec (from NULL, a boot), or from a
 * snapshot's configuration, with its vCPUs parked. A failure leaves the
 * VM to be discarded (vmm_discard_vm has been called).
 */
int vmm_build_vm(struct vmm *v, const struct vm_config *from,
		 struct mvm_err *err);
/* A VM that failed to start or load: torn down as a stopped one is. */
void vmm_discard_vm(struct vmm *v);
/*
 * The VM's configuration borrows its strings (kernel, command line, disk
 * paths): point them at the spec's, after whatever freed the ones it had
 * (a drive's media swap, the snapshot file a load built the VM from).
 */
void vmm_config_rebind(struct vmm *v);

/* The policy asked about op on the VM as it stands (paused, for state). */
int vmm_policy_ask_now(struct vmm *v, enum policy_op op, struct mvm_err *err);
/*
 * What a snapshot's (or checkpoint's) machine and vCPUs say for the
 * policy: nesting exposed, and whether L1 was hosting when it was taken.
 */
void vmm_snapshot_facts(const struct snap_file *s, struct policy_facts *f);
/*
 * The paused VM's state file at path (src/vmm/snapshot.c): its machine,
 * vm_save_all's state and the memory file's layout; mem_file is what the
 * file names as its memory file.
 */
int vmm_save_state_file(struct vmm *v, const char *path,
			const char *mem_file, enum snap_type type,
			struct mvm_err *err);

#endif
