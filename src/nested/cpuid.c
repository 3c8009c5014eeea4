/*
 * CPUID shaping for nesting: whether a guest sees VMX/SVM is decided only
 * by the CPUID table handed to KVM_SET_CPUID2, so this is where the per-VM
 * switch takes effect. Pure functions over struct kvm_cpuid2.
 */
#include <errno.h>
#include <string.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"

#define EXT_MAX_LEAF 0x80000000u
#define EXT_FEATURE_LEAF 0x80000001u

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn,
				     uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != fn)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e->index != idx)
			continue;
		return e;
	}
	return NULL;
}

const struct kvm_cpuid_entry2 *nested_cpuid_find(const struct kvm_cpuid2 *c,
						 uint32_t function,
						 uint32_t index)
{
	/* find() only reads; the cast spares a second copy of the loop. */
	return find((struct kvm_cpuid2 *)c, function, index);
}

static bool supported_bit(const struct kvm_cpuid2 *sup, uint32_t fn,
			  uint32_t bit)
{
	const struct kvm_cpuid_entry2 *e = nested_cpuid_find(sup, fn, 0);

	return e && (e->ecx & bit);
}

static void clear_svm(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = find(c, EXT_FEATURE_LEAF, 0);

	if (e)
		e->ecx &= ~NESTED_CPUID_SVM_BIT;
	/* Guests probe SVM features in 0x8000000A; leave nothing to find. */
	e = find(c, NESTED_CPUID_SVM_LEAF, 0);
	if (e)
		e->eax = e->ebx = e->ecx = e->edx = 0;
}

static void clear_vmx(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = find(c, 1, 0);

	if (e)
		e->ecx &= ~NESTED_CPUID_VMX_BIT;
}

static int expose_vmx(struct kvm_cpuid2 *c, const struct kvm_cpuid2 *sup,
		      struct mvm_err *err)
{
	struct kvm_cpuid_entry2 *e = find(c, 1, 0);

	if (!supported_bit(sup, 1, NESTED_CPUID_VMX_BIT))
		return mvm_fail(err, -EOPNOTSUPP, "nested: KVM does not offer "
				"VMX (is kvm_intel loaded with nested=1?)");
	if (!e)
		return mvm_fail(err, -EINVAL, "nested: CPUID leaf 1 missing");
	e->ecx |= NESTED_CPUID_VMX_BIT;
	return 0;
}

static int expose_svm(struct kvm_cpuid2 *c, const struct kvm_cpuid2 *sup,
		      struct mvm_err *err)
{
	struct kvm_cpuid_entry2 *e = find(c, EXT_FEATURE_LEAF, 0);
	struct kvm_cpuid_entry2 *max = find(c, EXT_MAX_LEAF, 0);
	struct kvm_cpuid_entry2 *svm = find(c, NESTED_CPUID_SVM_LEAF, 0);

	if (!supported_bit(sup, EXT_FEATURE_LEAF, NESTED_CPUID_SVM_BIT))
		return mvm_fail(err, -EOPNOTSUPP, "nested: KVM does not offer "
				"SVM (is kvm_amd loaded with nested=1?)");
	if (!e)
		return mvm_fail(err, -EINVAL,
				"nested: CPUID leaf 0x80000001 missing");
	/*
	 * An SVM guest reads its revision and features (NPT, NRIP save...)
	 * from 0x8000000A; without it L1 hypervisors refuse to start.
	 */
	if (!svm || !max || max->eax < NESTED_CPUID_SVM_LEAF)
		return mvm_fail(err, -EINVAL, "nested: CPUID leaf 0x8000000A "
				"missing or beyond the maximum extended leaf");
	e->ecx |= NESTED_CPUID_SVM_BIT;
	return 0;
}

int nested_cpuid_shape(struct kvm_cpuid2 *cpuid,
		       const struct kvm_cpuid2 *supported,
		       enum host_vendor vendor, bool on, struct mvm_err *err)
{
	const struct kvm_cpuid2 *sup = supported ? supported : cpuid;
	int r;

	if (!on) {
		clear_vmx(cpuid);
		clear_svm(cpuid);
		return 0;
	}
	/*
	 * expose_*() change nothing when they fail, so a refused "on" leaves
	 * the table as it was. The other vendor's extension is always hidden:
	 * no real CPU has both and guests are not written to expect it.
	 */
	switch (vendor) {
	case HOST_VENDOR_INTEL:
		r = expose_vmx(cpuid, sup, err);
		if (!r)
			clear_svm(cpuid);
		return r;
	case HOST_VENDOR_AMD:
		r = expose_svm(cpuid, sup, err);
		if (!r)
			clear_vmx(cpuid);
		return r;
	default:
		return mvm_fail(err, -EOPNOTSUPP, "nested: unsupported CPU "
				"vendor");
	}
}

uint64_t nested_feature_control_value(enum host_vendor vendor, bool on)
{
	if (vendor != HOST_VENDOR_INTEL || !on)
		return 0;
	/* Locked with VMXON allowed outside SMX, as firmware would leave it. */
	return NESTED_FEATURE_CONTROL_LOCKED |
	       NESTED_FEATURE_CONTROL_VMXON_OUTSIDE_SMX;
}
