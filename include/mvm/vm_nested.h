/*
 * Nesting, as the VM layer sees it (src/vm/nested_query.c,
 * src/vm/nested_monitor.c): per-VM sources, the query of every vCPU, the
 * monitor that logs changes, and the start policy. The pure parts (the
 * judgement of one vCPU, the facts' JSON) are the nested layer's, in
 * mvm/nested.h.
 */
#ifndef MVM_VM_NESTED_H
#define MVM_VM_NESTED_H

#include <stdbool.h>

#include "mvm/nested.h"

struct vm;
struct mvm_err;

/*
 * Per-VM sources: the nested-state size, each vCPU's stats file. Called
 * once the vCPUs exist (vm_create), undone by vm_nested_fini (vm_destroy).
 * Nothing here can make a VM fail to start: a missing source is recorded
 * and the query uses the others.
 */
int vm_nested_init(struct vm *vm, struct mvm_err *err);
void vm_nested_fini(struct vm *vm);

/*
 * Query every vCPU on its own thread now and update vm->nested.facts
 * (since moves when l1_hypervisor_active or l2_running change; a change of
 * l1_hypervisor_active is logged to stderr before this returns, "mvm:
 * nested: L1 hypervisor active (svm)" / "... inactive"). Costs one
 * kick per vCPU when nesting is exposed, nothing otherwise; runs on the
 * loop thread.
 */
int vm_nested_query(struct vm *vm, struct vm_nested_facts *out,
		    struct mvm_err *err);

/* Facts of a VM not built yet: the host probe and the setting alone. */
int nested_facts_unbooted(bool exposed, struct vm_nested_facts *out,
			  struct mvm_err *err);

/*
 * The START policy for a VM about to boot, from its config alone (nesting,
 * NICs and their mac_spoofing): the verdict, whose warning mvm prints on
 * stderr when the VM starts. Pure.
 */
struct vm_config;
struct policy_verdict;
void nested_start_policy(const struct vm_config *cfg,
			 struct policy_verdict *v);

/*
 * Run the query every NESTED_MONITOR_MS on the VM's loop with a timerfd,
 * so that changes of l1_hypervisor_active are logged without an API. Only when nesting is
 * exposed, or when the state round-trip test hook is on (README, "Test
 * hooks"): MVM_TEST_STATE_ROUNDTRIP=N.
 */
#define NESTED_MONITOR_MS 500
int vm_nested_monitor_start(struct vm *vm, struct mvm_err *err);
void vm_nested_monitor_stop(struct vm *vm);

#endif
