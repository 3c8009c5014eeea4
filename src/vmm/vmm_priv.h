/* What the VMM's own files share (src/vmm/): not an interface to others. */
#ifndef MVM_VMM_PRIV_H
#define MVM_VMM_PRIV_H

#include "mvm/policy.h"
#include "mvm/snapshot.h"
#include "mvm/vmm.h"
#include "mvm/vmm_snapshot.h"

/* MMDS's store (src/vmm/mmds.c): made by vmm_init, freed by vmm_fini. */
int vmm_mmds_init(struct vmm *v, struct mvm_err *err);
void vmm_mmds_fini(struct vmm *v);

/* The metrics' groups in Firecracker's names (metrics_fc.c). */
struct json_object;
void vmm_metrics_fc_add(struct vmm *v, struct json_object *root);
void vmm_metrics_fc_vcpu(struct vmm *v, struct json_object *vcpu);
/* The VMM's part of a successful op since start_ns, for latencies_us. */
void vmm_latency_vmm(struct vmm *v, enum vmm_latency op, uint64_t start_ns);

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

/* The paused VM's state file in memory (*buf malloc'd): a migration's. */
int vmm_state_encode(struct vmm *v, void **buf, size_t *len,
		     struct mvm_err *err);
/*
 * What was configured in this mvm besides its logger, metrics and serial
 * output (a snapshot or a migration comes only into an mvm without), or
 * NULL.
 */
const char *vmm_spec_configured(const struct vm_spec *s);
/* rq's network_overrides[] into cfg's NICs (-EINVAL naming an unknown). */
int vmm_net_overrides_apply(struct vm_config *cfg,
			    const struct vmm_snapshot_load *rq,
			    struct mvm_err *err);
/*
 * The spec takes a restored (or migrated) VM's machine, so that GET
 * /vm/config shows it and PATCH /drives finds its drives.
 */
int vmm_take_machine(struct vmm *v, const struct vm_config *cfg,
		     struct mvm_err *err);
/* An outgoing migration of a VM that stops is abandoned (teardown). */
void vmm_migration_vm_gone(struct vmm *v);

/*
 * A new balloon target, a new virtio-mem request: the device asked, the
 * spec and the VM's configuration following, with no check (dynamic
 * memory's controller, and the API's PATCHes once checked).
 */
int vmm_balloon_apply(struct vmm *v, uint32_t amount_mib,
		      struct mvm_err *err);
int vmm_hotplug_apply(struct vmm *v, uint64_t requested_mib,
		      struct mvm_err *err);

/*
 * Dynamic memory (src/vmm/dynmem.c). complete: a boot's cfg gets what
 * dynamic memory needs and the user left out (a balloon with statistics,
 * hotpluggable memory up to max_mib), logged, and starts at the boot
 * memory. start: the controller's timer, once the VM is built (a boot, a
 * restore, a migration's destination); the spec takes what complete
 * added. stop: before the VM goes. fini: at mvm's end.
 */
void vmm_dynmem_complete(struct vmm *v, struct vm_config *cfg);
int vmm_dynmem_start(struct vmm *v, struct mvm_err *err);
void vmm_dynmem_stop(struct vmm *v);
/* The VM's state changed under the controller: wait as after a change. */
void vmm_dynmem_rewait(struct vmm *v);
/* The running VM's devices and statistics as dynmem_decide() sees them. */
struct dynmem_view;
int vmm_dynmem_view(struct vmm *v, struct dynmem_view *w,
		    struct mvm_err *err);

#endif
