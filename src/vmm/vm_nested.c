/*
 * The guest's nesting facts for the policy module, read from KVM's nested
 * state on each vCPU's own thread (state ioctls belong there).
 */
#include <stdlib.h>
#include <sys/ioctl.h>

#include "mvm/nested.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct nested_probe_ctx {
	size_t max;
	bool l1, l2;
};

static void probe_vcpu(struct vcpu *v, void *arg)
{
	struct nested_probe_ctx *c = arg;
	struct kvm_nested_state *st = calloc(1, c->max);
	struct nested_state_facts f;
	struct kvm_sregs s;
	uint64_t efer;

	if (!st)
		return;
	st->size = (uint32_t)c->max;
	if (ioctl(v->fd, KVM_GET_NESTED_STATE, st) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		goto out;
	efer = s.efer; /* __u64 and uint64_t differ in type, not in size */
	if (nested_state_parse(st, c->max, &efer, &f, NULL) == 0) {
		c->l1 |= f.l1_hypervisor_active;
		c->l2 |= f.l2_running;
	}
out:
	free(st);
}

void vm_nested_facts(struct vm *vm, bool *l1_hypervisor_active,
		     bool *l2_running)
{
	struct nested_probe_ctx c = { 0 };
	int max;

	*l1_hypervisor_active = *l2_running = false;
	/* Without VMX/SVM in its CPUID the guest cannot be hosting guests. */
	if (!vm || vm->vm_fd < 0 || !vm->cfg.nested)
		return;
	max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	if (max <= 0)
		return;
	c.max = (size_t)max;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_run_on(vm->vcpus[i], probe_vcpu, &c);
	*l1_hypervisor_active = c.l1;
	*l2_running = c.l2;
}
