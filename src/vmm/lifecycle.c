/*
 * The lifecycle's transition table (include/mvm/lifecycle.h). A table, not
 * a switch: one line per allowed transition, so a reader (and the unit
 * test, which walks every state against every event) sees all of them in
 * one place, and anything not listed is refused.
 */
#include <errno.h>

#include "mvm/err.h"
#include "mvm/lifecycle.h"

static const char *const state_names[VM_STATE_COUNT] = {
	[VM_STATE_NOT_STARTED] = "Not started",
	[VM_STATE_STARTING] = "Starting",
	[VM_STATE_RUNNING] = "Running",
	[VM_STATE_PAUSED] = "Paused",
	[VM_STATE_SNAPSHOTTING] = "Snapshotting",
	[VM_STATE_RESTORING] = "Restoring",
	[VM_STATE_MIGRATING_OUT] = "Migrating out",
	[VM_STATE_MIGRATING_IN] = "Migrating in",
	[VM_STATE_REBOOTING] = "Rebooting",
	[VM_STATE_SHUTTING_DOWN] = "Shutting down",
	[VM_STATE_DESTROYED] = "Destroyed",
};

static const char *const event_names[VM_EV_COUNT] = {
	[VM_EV_START] = "start",
	[VM_EV_STARTED] = "started",
	[VM_EV_START_FAILED] = "start_failed",
	[VM_EV_PAUSE] = "pause",
	[VM_EV_RESUME] = "resume",
	[VM_EV_SNAPSHOT] = "snapshot",
	[VM_EV_SNAPSHOT_DONE] = "snapshot_done",
	[VM_EV_RESTORE] = "restore",
	[VM_EV_RESTORE_DONE] = "restore_done",
	[VM_EV_RESTORE_FAILED] = "restore_failed",
	[VM_EV_MIGRATE_OUT] = "migrate_out",
	[VM_EV_MIGRATE_OUT_DONE] = "migrate_out_done",
	[VM_EV_MIGRATE_OUT_FAILED] = "migrate_out_failed",
	[VM_EV_MIGRATE_IN] = "migrate_in",
	[VM_EV_MIGRATE_IN_DONE] = "migrate_in_done",
	[VM_EV_MIGRATE_IN_FAILED] = "migrate_in_failed",
	[VM_EV_REBOOT] = "reboot",
	[VM_EV_STOP] = "stop",
	[VM_EV_STOPPED] = "stopped",
};

#define S(x) VM_STATE_##x
#define E(x) VM_EV_##x

static const struct transition {
	enum vm_state from;
	enum vm_event ev;
	enum vm_state to;
} table[] = {
	{ S(NOT_STARTED), E(START), S(STARTING) },
	{ S(REBOOTING), E(START), S(STARTING) }, /* --on-reboot restart */
	{ S(STARTING), E(STARTED), S(RUNNING) },
	{ S(STARTING), E(START_FAILED), S(NOT_STARTED) },

	/* Pausing a paused VM (resuming a running one) changes nothing. */
	{ S(RUNNING), E(PAUSE), S(PAUSED) },
	{ S(PAUSED), E(PAUSE), S(PAUSED) },
	{ S(PAUSED), E(RESUME), S(RUNNING) },
	{ S(RUNNING), E(RESUME), S(RUNNING) },

	/* A snapshot is taken of a paused VM only (as Firecracker's). */
	{ S(PAUSED), E(SNAPSHOT), S(SNAPSHOTTING) },
	{ S(SNAPSHOTTING), E(SNAPSHOT_DONE), S(PAUSED) },

	/* Loading a snapshot, or applying a checkpoint to a paused VM. */
	{ S(NOT_STARTED), E(RESTORE), S(RESTORING) },
	{ S(PAUSED), E(RESTORE), S(RESTORING) },
	{ S(RESTORING), E(RESTORE_DONE), S(PAUSED) },
	{ S(RESTORING), E(RESTORE_FAILED), S(NOT_STARTED) },

	{ S(RUNNING), E(MIGRATE_OUT), S(MIGRATING_OUT) },
	{ S(PAUSED), E(MIGRATE_OUT), S(MIGRATING_OUT) },
	{ S(MIGRATING_OUT), E(MIGRATE_OUT_DONE), S(DESTROYED) },
	{ S(MIGRATING_OUT), E(MIGRATE_OUT_FAILED), S(PAUSED) },
	{ S(NOT_STARTED), E(MIGRATE_IN), S(MIGRATING_IN) },
	{ S(MIGRATING_IN), E(MIGRATE_IN_DONE), S(RUNNING) },
	{ S(MIGRATING_IN), E(MIGRATE_IN_FAILED), S(NOT_STARTED) },

	/* The guest rebooted and mvm builds it a new VM (START follows). */
	{ S(RUNNING), E(REBOOT), S(REBOOTING) },
	{ S(PAUSED), E(REBOOT), S(REBOOTING) },

	/*
	 * Power-off, a signal, a crash: whatever the VM was doing ends. A
	 * snapshot or migration in progress is abandoned by its owner.
	 */
	{ S(STARTING), E(STOP), S(SHUTTING_DOWN) },
	{ S(RUNNING), E(STOP), S(SHUTTING_DOWN) },
	{ S(PAUSED), E(STOP), S(SHUTTING_DOWN) },
	{ S(SNAPSHOTTING), E(STOP), S(SHUTTING_DOWN) },
	{ S(RESTORING), E(STOP), S(SHUTTING_DOWN) },
	{ S(MIGRATING_OUT), E(STOP), S(SHUTTING_DOWN) },
	{ S(MIGRATING_IN), E(STOP), S(SHUTTING_DOWN) },
	{ S(REBOOTING), E(STOP), S(SHUTTING_DOWN) },
	{ S(SHUTTING_DOWN), E(STOPPED), S(DESTROYED) },
};

#undef S
#undef E

const char *vm_state_name(enum vm_state s)
{
	return (unsigned)s < VM_STATE_COUNT ? state_names[s] : "invalid";
}

const char *vm_event_name(enum vm_event e)
{
	return (unsigned)e < VM_EV_COUNT ? event_names[e] : "invalid";
}

int vm_state_next(enum vm_state s, enum vm_event e, enum vm_state *to,
		  struct mvm_err *err)
{
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].from == s && table[i].ev == e) {
			*to = table[i].to;
			return 0;
		}
	}
	return mvm_fail(err, -EINVAL, "cannot %s: the VM is %s",
			vm_event_name(e), vm_state_name(s));
}

bool vm_state_booted(enum vm_state s)
{
	return s != VM_STATE_NOT_STARTED;
}
