/*
 * Dynamic memory as the API asks for it (include/mvm/vmm_dynmem.h): GET
 * /dynamic-memory's answer and PATCH /dynamic-memory. PUT, before boot,
 * is a shape into the spec alone (src/api/shapes_dynmem.c).
 */
#include <string.h>

#include "mvm/err.h"
#include "mvm/policy.h"
#include "mvm/vmm_dynmem.h"

#include "vmm_priv.h"

static bool live(const struct vmm *v)
{
	return v->have_vm && !v->dry_run && !v->tearing_down;
}

/* The running VM's sizes, and whether the policy freezes it now. */
static int live_status(struct vmm *v, struct vmm_dynmem_status *st,
		       struct mvm_err *err)
{
	struct dynmem_view w;
	struct policy_facts f;
	int ret = 0;

	if (st->cfg.enabled || v->vm.cfg.balloon.enabled)
		ret = vmm_dynmem_view(v, &w, err);
	if (ret)
		return ret;
	if (st->cfg.enabled || v->vm.cfg.balloon.enabled) {
		st->current_mib = dynmem_current_mib(&w);
		st->target_mib = w.ram_mib - w.balloon_mib +
				 w.hp_requested_mib;
	}
	if (!st->cfg.enabled)
		return 0;
	vmm_policy_facts(v, &f);
	st->frozen = dynmem_frozen(&f, st->reason, sizeof(st->reason));
	return 0;
}

int vmm_dynmem_status(struct vmm *v, struct vmm_dynmem_status *st,
		      struct mvm_err *err)
{
	memset(st, 0, sizeof(*st));
	st->cfg = live(v) ? v->vm.cfg.dynmem : v->spec.dynmem;
	st->current_mib = st->target_mib = live(v) ? v->vm.cfg.mem_mib :
						     v->spec.mem_size_mib;
	return live(v) ? live_status(v, st, err) : 0;
}

static int check(struct vmm *v, const struct dynmem_config *c,
		 struct mvm_err *err)
{
	const struct vm_config *m = &v->vm.cfg;
	enum vm_dynmem_field f;
	const char *why;
	char buf[256];

	if (!c->enabled)
		return 0;
	why = vm_dynmem_problem(c, m->mem_mib, &m->balloon, &m->mem_hotplug,
				&f, buf, sizeof(buf));
	return why ? mvm_fail(err, -EINVAL, "%s: %s", vm_dynmem_field_name(f),
			      why) : 0;
}

int vmm_dynmem_patch(struct vmm *v, const struct dynmem_config *c,
		     struct mvm_err *err)
{
	struct dynmem_config was = live(v) ? v->vm.cfg.dynmem :
					     v->spec.dynmem;
	int ret;

	if (!memcmp(&was, c, sizeof(was)))
		return 0;
	if (!live(v)) {
		v->spec.dynmem = *c; /* a dry run: validated by the shape */
		return 0;
	}
	ret = check(v, c, err);
	if (!ret)
		ret = vmm_policy_ask_now(v, POLICY_OP_DYNAMIC_MEMORY, err);
	if (ret)
		return ret;
	v->vm.cfg.dynmem = v->spec.dynmem = *c;
	vmm_log(v, API_LOG_INFO, "dynmem", "%s: %llu-%llu MiB, buffer %u%%",
		c->enabled ? "on" : "off", (unsigned long long)c->min_mib,
		(unsigned long long)c->max_mib, c->buffer_percent);
	return c->enabled ? vmm_dynmem_start(v, err) : 0;
}
