/*
 * Applying a CPU template to the CPUID mvm built for a vCPU. The MSRs are
 * set by vcpu_set_cpuid once KVM has the CPUID (cpuid.c).
 */
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/nested.h"

const char *cpu_reg_name(uint32_t r)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };

	return r < 4 ? names[r] : "?";
}

/* The entry of leaf/subleaf, whatever its flags say of the subleaf. */
static struct kvm_cpuid_entry2 *find_exact(struct kvm_cpuid2 *c,
					   uint32_t leaf, uint32_t subleaf)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != leaf)
			continue;
		if (e->index == subleaf ||
		    !(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX))
			return e;
	}
	return NULL;
}

int cpu_template_apply_cpuid(const struct cpu_template *t,
			     struct kvm_cpuid2 *c, struct mvm_err *err)
{
	for (unsigned i = 0; i < t->nr_cpuid; i++) {
		const struct cpuid_modifier *m = &t->cpuid[i];
		struct kvm_cpuid_entry2 *e = find_exact(c, m->leaf,
							m->subleaf);
		uint32_t *reg;

		if (!e)
			return mvm_fail(err, -EINVAL, "cpu template: CPUID "
					"leaf 0x%x subleaf 0x%x is not in this "
					"host's CPUID", m->leaf, m->subleaf);
		switch (m->reg) {
		case CPU_REG_EAX: reg = &e->eax; break;
		case CPU_REG_EBX: reg = &e->ebx; break;
		case CPU_REG_ECX: reg = &e->ecx; break;
		case CPU_REG_EDX: reg = &e->edx; break;
		default:
			return mvm_fail(err, -EINVAL, "cpu template: CPUID "
					"leaf 0x%x: register %u", m->leaf,
					m->reg);
		}
		e->flags = m->flags;
		*reg = (uint32_t)cpu_tmpl_apply_bits(*reg, m->filter, m->value);
	}
	return 0;
}

struct one_msr {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e;
};

/*
 * Read, change and write back each MSR the template names. An MSR KVM
 * will not read or write for this vCPU is refused by name: the guest would
 * not get what the template promises.
 */
int cpu_template_set_msrs(const struct cpu_template *t, int vcpu_fd,
			  unsigned vcpu_id, struct mvm_err *err)
{
	for (unsigned i = 0; i < t->nr_msrs; i++) {
		const struct msr_modifier *m = &t->msrs[i];
		struct one_msr msrs = { .hdr.nmsrs = 1, .e.index = m->addr };

		if (ioctl(vcpu_fd, KVM_GET_MSRS, &msrs) != 1)
			return mvm_fail(err, -EINVAL, "cpu template: vcpu %u: "
					"KVM does not give MSR 0x%x", vcpu_id,
					m->addr);
		msrs.e.data = cpu_tmpl_apply_bits(msrs.e.data, m->filter,
						  m->value);
		if (ioctl(vcpu_fd, KVM_SET_MSRS, &msrs) != 1)
			return mvm_fail(err, -EINVAL, "cpu template: vcpu %u: "
					"KVM refuses MSR 0x%x = 0x%llx",
					vcpu_id, m->addr,
					(unsigned long long)msrs.e.data);
	}
	return 0;
}

int cpu_template_check_caps(const struct cpu_template *t, int kvm_fd,
			    struct mvm_err *err)
{
	for (unsigned i = 0; i < t->nr_caps; i++) {
		const struct kvm_cap_modifier *c = &t->caps[i];

		if (c->remove)
			continue;
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, c->cap) <= 0)
			return mvm_fail(err, -EINVAL, "cpu-config."
					"kvm_capabilities: this host's KVM "
					"lacks capability %u", c->cap);
	}
	return 0;
}
