/* The test hooks' own interface between their files. */
#ifndef MVM_TEST_HOOKS_STATE_ROUNDTRIP_H
#define MVM_TEST_HOOKS_STATE_ROUNDTRIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu;
struct mvm_err;

/*
 * Save v's state, encode it, drop it, decode the blob, restore it into v,
 * save again and compare what must not have moved (regs, sregs, mp_state,
 * the nested state). On v's own thread. Fills a one-line summary.
 */
struct vcpu_state_roundtrip {
	size_t blob_len;
	uint32_t nested_len; /* 0: no nested state */
	bool guest_mode;     /* the nested state had L2 running */
	bool identical;
	char msg[256];       /* summary, or what differed */
};
int vcpu_state_roundtrip(struct vcpu *v, struct vcpu_state_roundtrip *out,
			 struct mvm_err *err);

/*
 * On a paused VM (vm_pause_all), on the loop thread: everything a
 * snapshot or a migration will do with the VM's state (vm_save_all,
 * vm_load_all), done in place, then saved again and compared device by
 * device (the vCPUs' own round trip compares theirs). A one-line summary
 * in msg: "vm state round trip: N nodes, M bytes, loaded; devices
 * identical after load" or "...; differs after load: ID".
 */
struct vm;
int vm_state_roundtrip(struct vm *vm, char *msg, size_t len,
		       struct mvm_err *err);

#endif
