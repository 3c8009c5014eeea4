/*
 * CPU templates, after Firecracker's: changes to the CPUID mvm builds (a
 * register's bits under a filter set to a value) and to MSRs at vCPU
 * setup, and the KVM capabilities a template needs. Firecracker's static
 * templates (C3, T2, T2S, T2CL: Intel; T2A: AMD) are tables of the same;
 * a custom one comes from PUT /cpu-config. Plain data, carried by value in
 * the VM's configuration (and so in snapshots).
 */
#ifndef MVM_CPU_TEMPLATE_H
#define MVM_CPU_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_cpuid2;
struct mvm_err;
enum host_vendor;

enum cpu_reg { CPU_REG_EAX, CPU_REG_EBX, CPU_REG_ECX, CPU_REG_EDX };

/* Bits set in filter take value's; the others stay as mvm built them. */
struct cpuid_modifier {
	uint32_t leaf, subleaf;
	uint32_t flags; /* KVM_CPUID_FLAG_*, given to the leaf's entry */
	uint32_t reg;   /* enum cpu_reg */
	uint32_t filter, value;
};

struct msr_modifier {
	uint32_t addr;
	uint64_t filter, value;
};

/* A KVM capability the template needs, or (remove) does not. */
struct kvm_cap_modifier {
	uint32_t cap;
	bool remove;
};

#define CPU_TMPL_MAX_CPUID 128
#define CPU_TMPL_MAX_MSRS 32
#define CPU_TMPL_MAX_CAPS 32

struct cpu_template {
	unsigned nr_cpuid, nr_msrs, nr_caps;
	struct cpuid_modifier cpuid[CPU_TMPL_MAX_CPUID];
	struct msr_modifier msrs[CPU_TMPL_MAX_MSRS];
	struct kvm_cap_modifier caps[CPU_TMPL_MAX_CAPS];
};

/* Firecracker's static templates, in the order of cpu_static_names. */
enum cpu_static_template {
	CPU_STATIC_NONE,
	CPU_STATIC_C3,
	CPU_STATIC_T2,
	CPU_STATIC_T2S,
	CPU_STATIC_T2CL,
	CPU_STATIC_T2A,
	CPU_STATIC_COUNT,
};

/* "None", "C3", "T2", "T2S", "T2CL", "T2A", NULL. */
extern const char *const cpu_static_names[CPU_STATIC_COUNT + 1];

/* The register's name ("eax".."edx") for enum cpu_reg r. */
const char *cpu_reg_name(uint32_t r);

/*
 * The static template t as a template, or -EINVAL naming the vendor it is
 * for when the host's (vendor) is another: Firecracker's rule.
 */
int cpu_static_template(enum cpu_static_template t, enum host_vendor vendor,
			struct cpu_template *out, struct mvm_err *err);

/* x with filter's bits set to value's. */
static inline uint64_t cpu_tmpl_apply_bits(uint64_t x, uint64_t filter,
					   uint64_t value)
{
	return (x & ~filter) | (value & filter);
}

/*
 * Apply t's CPUID modifiers to c: every leaf named must be there (-EINVAL
 * naming it otherwise, as Firecracker refuses a leaf the CPU lacks).
 */
int cpu_template_apply_cpuid(const struct cpu_template *t,
			     struct kvm_cpuid2 *c, struct mvm_err *err);

/* Set the MSRs t changes, on a vCPU whose CPUID is set (KVM_SET_MSRS). */
int cpu_template_set_msrs(const struct cpu_template *t, int vcpu_fd,
			  unsigned vcpu_id, struct mvm_err *err);

/*
 * Each capability t adds must be one this host's KVM has; those it
 * removes are only noted (mvm asks KVM for nothing it could drop).
 */
int cpu_template_check_caps(const struct cpu_template *t, int kvm_fd,
			    struct mvm_err *err);

#endif
