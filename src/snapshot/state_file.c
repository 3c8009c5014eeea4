/* What a struct snap_file owns, and what its vCPU blobs carry. */
#include <stdlib.h>
#include <string.h>

#include "mvm/snapshot.h"
#include "mvm/vcpu_state.h"

#include "state_fdt.h"

void snap_file_free(struct snap_file *s)
{
	struct vm_config *m = &s->machine;

	free(s->mem_file);
	/* Owned here, though vm_config's own users lend theirs: cast. */
	free((char *)m->kernel);
	free((char *)m->initrd);
	free((char *)m->cmdline);
	for (unsigned i = 0; i < m->nr_disks && i < VM_MAX_DISKS; i++)
		free(m->disks[i].path);
	for (unsigned i = 0; i < m->nr_pmems && i < VM_MAX_PMEMS; i++)
		free(m->pmems[i].path);
	free(m->vsock.uds_path);
	dev_state_list_free(&s->state);
	memset(s, 0, sizeof(*s));
}

bool snap_file_has_nested(const struct snap_file *s)
{
	for (unsigned i = 0; i < s->state.nr; i++) {
		const struct dev_state_node *n = &s->state.node[i];
		struct vcpu_state st;
		unsigned v;
		bool nested;

		if (!snap_vcpu_id(n->id, &v))
			continue;
		/* Freed after a failure too: it may hold what it took. */
		nested = !vcpu_state_decode(n->data, n->len, &st, NULL) &&
			 st.nested;
		vcpu_state_free(&st);
		if (nested)
			return true;
	}
	return false;
}
