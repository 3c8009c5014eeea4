/*
 * The whole-VM state round trip behind MVM_TEST_VM_ROUNDTRIP
 * (include/mvm/test_hooks.h): vm_save_all, vm_load_all in place and
 * vm_save_all again on a running guest's paused VM, so tests show that the
 * guest runs on state that went through every device's node and that
 * loading gives back what was saved.
 */
#include <stdio.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/vm_state.h"
#include "state_roundtrip.h"

/*
 * The first device node that came back different. vCPU nodes are left
 * out: their TSC moves while the vCPUs stand still, and their own round
 * trip compares what must not move. So is the kvmclock's node: it is no
 * device, and its count runs on while the VM stands still.
 */
static const char *first_difference(const struct dev_state_list *a,
				    const struct dev_state_list *b)
{
	for (unsigned i = 0; i < a->nr; i++) {
		const struct dev_state_node *x = &a->node[i];
		const struct dev_state_node *y = dev_state_list_find(b, x->id);

		if (!strncmp(x->id, "vcpu", 4) || !strcmp(x->id, VM_CLOCK_NODE))
			continue;
		if (!y || x->version != y->version || x->len != y->len ||
		    (x->len && memcmp(x->data, y->data, x->len)))
			return x->id;
	}
	return NULL;
}

int vm_state_roundtrip(struct vm *vm, char *msg, size_t len,
		       struct mvm_err *err)
{
	struct dev_state_list saved = { 0 }, again = { 0 };
	const char *diff;
	size_t bytes = 0;
	int ret;

	ret = vm_save_all(vm, &saved, err);
	if (!ret)
		ret = vm_load_all(vm, &saved, err);
	if (!ret)
		ret = vm_save_all(vm, &again, err);
	if (!ret) {
		for (unsigned i = 0; i < saved.nr; i++)
			bytes += saved.node[i].len;
		diff = first_difference(&saved, &again);
		snprintf(msg, len, "vm state round trip: %u nodes, %zu bytes, "
			 "loaded; %s%s", saved.nr, bytes,
			 diff ? "differs after load: " :
				"devices identical after load",
			 diff ? diff : "");
	}
	dev_state_list_free(&saved);
	dev_state_list_free(&again);
	return ret;
}
