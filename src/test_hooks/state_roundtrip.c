/*
 * The state round trip behind the MVM_TEST_STATE_ROUNDTRIP test hook
 * (include/mvm/test_hooks.h): everything a snapshot or migration will do
 * with one vCPU (save, encode, decode, restore), done in place on a running
 * guest, so tests can show that the guest keeps running on state that went
 * through the blob.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vcpu.h"
#include "mvm/vcpu_state.h"
#include "state_roundtrip.h"

/* What cannot move while the vCPU stands still on its own thread. */
static const char *first_difference(const struct vcpu_state *a,
				    const struct vcpu_state *b)
{
	if (memcmp(&a->regs, &b->regs, sizeof(a->regs)))
		return "regs";
	if (memcmp(&a->sregs, &b->sregs, sizeof(a->sregs)))
		return "sregs";
	if (a->mp_state.mp_state != b->mp_state.mp_state)
		return "mp_state";
	if (a->nested_len != b->nested_len ||
	    (a->nested && memcmp(a->nested, b->nested, a->nested_len)))
		return "nested state";
	return NULL;
}

int vcpu_state_roundtrip(struct vcpu *v, struct vcpu_state_roundtrip *out,
			 struct mvm_err *err)
{
	struct vcpu_state saved = { 0 }, loaded = { 0 }, again = { 0 };
	struct nested_state_facts nf;
	const char *diff;
	void *blob = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = vcpu_state_save(v, &saved, err);
	if (!ret)
		ret = vcpu_state_encode(&saved, &blob, &len, err);
	if (!ret)
		ret = vcpu_state_decode(blob, len, &loaded, err);
	if (!ret)
		ret = vcpu_state_restore(v, &loaded, err);
	if (!ret)
		ret = vcpu_state_save(v, &again, err);
	if (ret)
		goto out;
	out->blob_len = len;
	out->nested_len = saved.nested_len;
	if (saved.nested &&
	    nested_state_parse(saved.nested, saved.nested_len, NULL, &nf,
			       NULL) == 0)
		out->guest_mode = nf.guest_mode;
	diff = first_difference(&saved, &again);
	out->identical = !diff;
	snprintf(out->msg, sizeof(out->msg),
		 "vcpu %u state round trip: %zu-byte blob, nested state %u "
		 "bytes%s, restored; %s%s", v->id, len, saved.nested_len,
		 out->guest_mode ? " (guest mode: L2 was running)" : "",
		 diff ? "differs after restore: " : "identical after restore",
		 diff ? diff : "");
out:
	free(blob);
	vcpu_state_free(&saved);
	vcpu_state_free(&loaded);
	vcpu_state_free(&again);
	return ret;
}
