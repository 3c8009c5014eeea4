/*
 * The VM lifecycle: one state, one transition table. Every API action, CLI
 * action and internal event (a guest reboot, a power-off, a signal) asks
 * this table first; what it refuses never reaches the VMM. Pure: no KVM,
 * no I/O, so it is unit-tested on its own (tests/unit/test_lifecycle.c)
 * and the same table answers the API and the CLI.
 *
 *   NotStarted|Rebooting --start--> Starting --started--> Running
 *                         Starting --start_failed--> NotStarted
 *   Running --pause--> Paused --resume--> Running
 *   Paused --snapshot--> Snapshotting --snapshot_done--> Paused
 *   NotStarted|Paused --restore--> Restoring --restore_done--> Paused
 *                                  Restoring --restore_failed--> NotStarted
 *   Running|Paused --migrate_out--> MigratingOut --migrate_out_done-->
 *       Destroyed (--migrate_out_failed--> Paused: the caller resumes)
 *   NotStarted --migrate_in--> MigratingIn --migrate_in_done--> Running
 *   Running|Paused --reboot--> Rebooting (the next VM then starts)
 *   (any live state) --stop--> ShuttingDown --stopped--> Destroyed
 *
 * The full table is in src/vmm/lifecycle.c; docs/architecture.md draws it.
 */
#ifndef MVM_LIFECYCLE_H
#define MVM_LIFECYCLE_H

#include <stdbool.h>

struct mvm_err;

enum vm_state {
	VM_STATE_NOT_STARTED,
	VM_STATE_STARTING,
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,
	VM_STATE_SNAPSHOTTING,
	VM_STATE_RESTORING,
	VM_STATE_MIGRATING_OUT,
	VM_STATE_MIGRATING_IN,
	VM_STATE_REBOOTING,
	VM_STATE_SHUTTING_DOWN,
	VM_STATE_DESTROYED,
	VM_STATE_COUNT
};

enum vm_event {
	VM_EV_START,
	VM_EV_STARTED,
	VM_EV_START_FAILED,
	VM_EV_PAUSE,
	VM_EV_RESUME,
	VM_EV_SNAPSHOT,
	VM_EV_SNAPSHOT_DONE,
	VM_EV_RESTORE,
	VM_EV_RESTORE_DONE,
	VM_EV_RESTORE_FAILED,
	VM_EV_MIGRATE_OUT,
	VM_EV_MIGRATE_OUT_DONE,
	VM_EV_MIGRATE_OUT_FAILED,
	VM_EV_MIGRATE_IN,
	VM_EV_MIGRATE_IN_DONE,
	VM_EV_MIGRATE_IN_FAILED,
	VM_EV_REBOOT,
	VM_EV_STOP,
	VM_EV_STOPPED,
	VM_EV_COUNT
};

/* "Not started", "Running", "Paused" as Firecracker says them; the rest
 * in the same style ("Snapshotting", "Migrating out", ...). */
const char *vm_state_name(enum vm_state s);
/* "start", "pause", "snapshot_done", ... */
const char *vm_event_name(enum vm_event e);

/*
 * Where e leads from s: 0 and *to set, or -EINVAL when the table has no
 * such transition (with a message naming the event and the state).
 */
int vm_state_next(enum vm_state s, enum vm_event e, enum vm_state *to,
		  struct mvm_err *err);

/* Has a VM been built (the API's post-boot phase)? */
bool vm_state_booted(enum vm_state s);

#endif
