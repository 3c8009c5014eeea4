/*
 * Snapshots, as the VMM takes and loads them (src/vmm/snapshot.c): the
 * API's PUT /snapshot/create and PUT /snapshot/load, already validated,
 * become these requests. The files' formats are the snapshot layer's
 * (include/mvm/snapshot.h) and the core's (include/mvm/mem_file.h).
 */
#ifndef MVM_VMM_SNAPSHOT_H
#define MVM_VMM_SNAPSHOT_H

#include <stdbool.h>

#include "mvm/snapshot.h"
#include "mvm/vm_config.h"

struct mvm_err;
struct vmm;

struct vmm_snapshot_create {
	enum snap_type type;
	const char *state_path; /* snapshot_path */
	const char *mem_path;   /* mem_file_path */
	/*
	 * mvm's override of Hyper-V's rule: a guest hosting guests of its
	 * own is saved with KVM's nested state (this host must have it).
	 */
	bool allow_nested_state;
};

/* network_overrides[]: the NIC iface_id gets the tap host_dev_name. */
struct vmm_net_override {
	char iface_id[VM_ID_MAX];
	char host_dev_name[16]; /* IFNAMSIZ */
};

struct vmm_snapshot_load {
	const char *state_path;       /* snapshot_path */
	enum vm_mem_backend backend;  /* VM_MEM_FILE or VM_MEM_UFFD */
	const char *backend_path;     /* memory file, or the handler's socket */
	bool track_dirty_pages;
	bool resume_vm;
	bool clock_realtime;
	/* The snapshot's guest hosted guests: their nested state loads. */
	bool allow_nested_state;
	struct vmm_net_override overrides[VM_MAX_NETS];
	unsigned nr_overrides;
	/* vsock_override's uds_path: the vsock's socket; NULL: as saved. */
	const char *vsock_uds_path;
};

/*
 * Take a snapshot of the paused VM: the memory file first, then the state
 * file, which names it (its appearance marks a complete snapshot). The
 * policy is asked with the VM already paused: -EPERM (409) with its rule
 * while the guest hosts guests of its own. -EINVAL (400) for a VM that is
 * not paused, a Diff without dirty page tracking, or a path that cannot
 * be written. The VM stays paused, whatever happens.
 */
int vmm_snapshot_create(struct vmm *v, const struct vmm_snapshot_create *rq,
			struct mvm_err *err);

/*
 * Build the VM of a snapshot in this (fresh) mvm and load its state; it
 * is then Paused, or Running with resume_vm. -EINVAL (400) for a file
 * that is corrupt, truncated or not a snapshot, a snapshot this host
 * cannot restore (nested state without nesting), or an mvm that has been
 * configured already; -EPERM (409) when the policy refuses. A load that
 * fails half way leaves mvm Not started, without a VM.
 */
int vmm_snapshot_load(struct vmm *v, const struct vmm_snapshot_load *rq,
		      struct mvm_err *err);

#endif
