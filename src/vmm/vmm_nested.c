/*
 * GET /vm/nested's answer for the VMM controller. Before InstanceStart
 * there is no VM to ask, so the answer is what would happen: the setting
 * and the host probe.
 */
#include <string.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vm_nested.h"
#include "mvm/vmm.h"

int vmm_nested_json(struct vmm *v, struct json_object **out,
		    struct mvm_err *err)
{
	struct vm_nested_facts f;
	int ret;

	*out = NULL;
	if (v->have_vm && !v->dry_run) {
		ret = vm_nested_query(&v->vm, &f, err);
	} else if (v->dry_run) {
		/* Validate-only mode touches no KVM, not even to probe it. */
		memset(&f, 0, sizeof(f));
		f.exposed = v->spec.nested_virt;
		ret = 0;
	} else {
		ret = nested_facts_unbooted(v->spec.nested_virt, &f, err);
	}
	if (ret)
		return ret;
	return nested_facts_json(&f, out, err);
}
