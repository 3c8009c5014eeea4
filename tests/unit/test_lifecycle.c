/*
 * The lifecycle's transition table (src/vmm/lifecycle.c): the paths the
 * VMM takes, the ones it must refuse, and the whole table walked so that
 * no state is a dead end and every refusal names the event and the state.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/lifecycle.h"

/* Apply events in order from s; the state reached, or -1 on a refusal. */
static int walk(enum vm_state s, const enum vm_event *ev, unsigned n)
{
	struct mvm_err err = { .msg = "" };

	for (unsigned i = 0; i < n; i++)
		if (vm_state_next(s, ev[i], &s, &err))
			return -1;
	return (int)s;
}

#define WALK(from, ...)                                                    \
	walk(from, (const enum vm_event[]){ __VA_ARGS__ },                 \
	     sizeof((const enum vm_event[]){ __VA_ARGS__ }) /              \
		     sizeof(enum vm_event))

Test(lifecycle, boot_pause_resume_poweroff)
{
	cr_expect_eq(WALK(VM_STATE_NOT_STARTED, VM_EV_START, VM_EV_STARTED),
		     VM_STATE_RUNNING);
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_PAUSE, VM_EV_RESUME),
		     VM_STATE_RUNNING);
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_STOP, VM_EV_STOPPED),
		     VM_STATE_DESTROYED);
	cr_expect_eq(WALK(VM_STATE_NOT_STARTED, VM_EV_START,
			  VM_EV_START_FAILED),
		     VM_STATE_NOT_STARTED);
}

Test(lifecycle, pause_and_resume_are_idempotent)
{
	cr_expect_eq(WALK(VM_STATE_PAUSED, VM_EV_PAUSE), VM_STATE_PAUSED);
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_RESUME), VM_STATE_RUNNING);
}

Test(lifecycle, reboot_builds_a_new_vm)
{
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_REBOOT, VM_EV_START,
			  VM_EV_STARTED),
		     VM_STATE_RUNNING);
	/* A signal during the reboot ends it. */
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_REBOOT, VM_EV_STOP,
			  VM_EV_STOPPED),
		     VM_STATE_DESTROYED);
}

Test(lifecycle, snapshot_only_while_paused)
{
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_SNAPSHOT), -1);
	cr_expect_eq(WALK(VM_STATE_NOT_STARTED, VM_EV_SNAPSHOT), -1);
	cr_expect_eq(WALK(VM_STATE_PAUSED, VM_EV_SNAPSHOT,
			  VM_EV_SNAPSHOT_DONE, VM_EV_RESUME),
		     VM_STATE_RUNNING);
	/* No resume, pause or second snapshot in the middle of one. */
	cr_expect_eq(WALK(VM_STATE_SNAPSHOTTING, VM_EV_RESUME), -1);
	cr_expect_eq(WALK(VM_STATE_SNAPSHOTTING, VM_EV_SNAPSHOT), -1);
}

Test(lifecycle, restore_and_migration)
{
	cr_expect_eq(WALK(VM_STATE_NOT_STARTED, VM_EV_RESTORE,
			  VM_EV_RESTORE_DONE),
		     VM_STATE_PAUSED);
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_RESTORE), -1);
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_MIGRATE_OUT,
			  VM_EV_MIGRATE_OUT_FAILED, VM_EV_RESUME),
		     VM_STATE_RUNNING);
	cr_expect_eq(WALK(VM_STATE_RUNNING, VM_EV_MIGRATE_OUT,
			  VM_EV_MIGRATE_OUT_DONE),
		     VM_STATE_DESTROYED);
	cr_expect_eq(WALK(VM_STATE_NOT_STARTED, VM_EV_MIGRATE_IN,
			  VM_EV_MIGRATE_IN_DONE),
		     VM_STATE_RUNNING);
	cr_expect_eq(WALK(VM_STATE_PAUSED, VM_EV_MIGRATE_IN), -1);
}

Test(lifecycle, nothing_leaves_destroyed)
{
	for (int e = 0; e < VM_EV_COUNT; e++)
		cr_expect_eq(WALK(VM_STATE_DESTROYED, (enum vm_event)e), -1,
			     "%s left Destroyed", vm_event_name(e));
}

/* Every state but Destroyed can be stopped, or reaches one that can. */
Test(lifecycle, every_live_state_can_end)
{
	for (int s = 0; s < VM_STATE_COUNT; s++) {
		if (s == VM_STATE_DESTROYED || s == VM_STATE_NOT_STARTED)
			continue;
		if (s == VM_STATE_SHUTTING_DOWN) {
			cr_expect_eq(WALK(s, VM_EV_STOPPED),
				     VM_STATE_DESTROYED);
			continue;
		}
		cr_expect_eq(WALK(s, VM_EV_STOP, VM_EV_STOPPED),
			     VM_STATE_DESTROYED, "%s cannot be stopped",
			     vm_state_name(s));
	}
}

Test(lifecycle, refusals_name_the_event_and_the_state)
{
	struct mvm_err err = { .msg = "" };
	enum vm_state to = VM_STATE_RUNNING;

	cr_assert_eq(vm_state_next(VM_STATE_NOT_STARTED, VM_EV_PAUSE, &to,
				   &err),
		     -EINVAL);
	cr_expect_eq(to, VM_STATE_RUNNING, "a refusal must not move the state");
	cr_expect_str_eq(err.msg, "cannot pause: the VM is Not started");
}

Test(lifecycle, names)
{
	cr_expect_str_eq(vm_state_name(VM_STATE_NOT_STARTED), "Not started");
	cr_expect_str_eq(vm_state_name(VM_STATE_RUNNING), "Running");
	cr_expect_str_eq(vm_state_name(VM_STATE_PAUSED), "Paused");
	for (int s = 0; s < VM_STATE_COUNT; s++)
		cr_expect(vm_state_name(s) && strcmp(vm_state_name(s),
						     "invalid"),
			  "state %d has no name", s);
	for (int e = 0; e < VM_EV_COUNT; e++)
		cr_expect(vm_event_name(e) && strcmp(vm_event_name(e),
						     "invalid"),
			  "event %d has no name", e);
	cr_expect_str_eq(vm_state_name(VM_STATE_COUNT), "invalid");
	cr_expect(!vm_state_booted(VM_STATE_NOT_STARTED));
	cr_expect(vm_state_booted(VM_STATE_PAUSED));
}
