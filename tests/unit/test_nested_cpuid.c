/* CPUID shaping for nesting on synthetic kvm_cpuid2 tables. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"

/*
 * This host cannot run VMX; say after every run which checks still need an
 * Intel host with kvm_intel nested=1, so nobody mistakes them for covered.
 */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	fprintf(stderr, "[NOTE] needs an Intel host with kvm_intel nested=1: "
		"VMX CPUID shaping (synthetic tables here): "
		"KVM_GET_SUPPORTED_CPUID "
		"offering VMX, KVM_SET_CPUID2 accepting it, and the "
		"IA32_FEATURE_CONTROL (0x3a) write after it\n");
}

#define NENT 8

struct table {
	struct kvm_cpuid2 c;
	struct kvm_cpuid_entry2 e[NENT];
};

static void add(struct table *t, uint32_t fn, uint32_t eax, uint32_t ebx,
		uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &t->c.entries[t->c.nent++];

	cr_assert_leq(t->c.nent, NENT);
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
}

/* What KVM_GET_SUPPORTED_CPUID looks like on an AMD host with nested=1. */
static void amd_table(struct table *t)
{
	memset(t, 0, sizeof(*t));
	add(t, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65);
	add(t, 1, 0x00a20f12, 0, 0x7ef8320b, 0x178bfbff);
	add(t, 0x80000000, 0x80000021, 0, 0, 0);
	add(t, 0x80000001, 0, 0, 0x75c237ff | NESTED_CPUID_SVM_BIT, 0);
	add(t, 0x8000000A, 1, 0x8000, 0, 0x1bf);
	t->c.entries[1].ecx &= ~NESTED_CPUID_VMX_BIT;
}

/* KVM_GET_SUPPORTED_CPUID on an Intel host with kvm_intel nested=1. */
static void intel_table(struct table *t)
{
	memset(t, 0, sizeof(*t));
	add(t, 0, 0x1b, 0x756e6547, 0x6c65746e, 0x49656e69);
	add(t, 1, 0x000906ea, 0, 0x7ffafbff | NESTED_CPUID_VMX_BIT, 0);
	add(t, 0x80000000, 0x80000008, 0, 0, 0);
	add(t, 0x80000001, 0, 0, 0x121, 0x2c100800);
}

static uint32_t ecx_of(struct table *t, uint32_t fn)
{
	const struct kvm_cpuid_entry2 *e = nested_cpuid_find(&t->c, fn, 0);

	cr_assert_not_null(e);
	return e->ecx;
}

static const struct kvm_cpuid_entry2 *svm_leaf(struct table *t)
{
	const struct kvm_cpuid_entry2 *e =
		nested_cpuid_find(&t->c, NESTED_CPUID_SVM_LEAF, 0);

	cr_assert_not_null(e);
	return e;
}

Test(nested_cpuid, amd_off_hides_svm_and_zeroes_leaf_8000000a)
{
	struct table t;
	const struct kvm_cpuid_entry2 *e;

	amd_table(&t);
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_AMD, false,
					NULL), 0);
	cr_assert_eq(ecx_of(&t, 0x80000001) & NESTED_CPUID_SVM_BIT, 0);
	cr_assert_eq(ecx_of(&t, 0x80000001),
		     0x75c237ff & ~NESTED_CPUID_SVM_BIT);
	e = svm_leaf(&t);
	cr_assert_eq(e->eax | e->ebx | e->ecx | e->edx, 0);
	cr_assert_eq(ecx_of(&t, 1) & NESTED_CPUID_VMX_BIT, 0);
}

Test(nested_cpuid, amd_on_keeps_svm_and_its_leaf)
{
	struct table t;
	const struct kvm_cpuid_entry2 *e;
	struct mvm_err err;

	amd_table(&t);
	t.c.entries[1].ecx |= NESTED_CPUID_VMX_BIT; /* must be hidden */
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_AMD, true,
					&err), 0, "%s", err.msg);
	cr_assert(ecx_of(&t, 0x80000001) & NESTED_CPUID_SVM_BIT);
	e = svm_leaf(&t);
	cr_assert_eq(e->eax, 1);
	cr_assert_eq(e->ebx, 0x8000);
	cr_assert_eq(e->edx, 0x1bf);
	cr_assert_eq(ecx_of(&t, 1) & NESTED_CPUID_VMX_BIT, 0);
}

Test(nested_cpuid, amd_on_without_svm_in_supported_set_fails_untouched)
{
	struct table t, before;
	struct mvm_err err;

	amd_table(&t);
	t.c.entries[3].ecx &= ~NESTED_CPUID_SVM_BIT;
	t.c.entries[1].ecx |= NESTED_CPUID_VMX_BIT;
	before = t;
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_AMD, true,
					&err), -EOPNOTSUPP);
	cr_assert_not_null(strstr(err.msg, "SVM"));
	cr_assert_eq(memcmp(&t, &before, sizeof(t)), 0);
}

Test(nested_cpuid, amd_on_sets_the_bit_from_a_separate_supported_set)
{
	struct table t, sup;

	amd_table(&sup);
	amd_table(&t);
	t.c.entries[3].ecx &= ~NESTED_CPUID_SVM_BIT;
	cr_assert_eq(nested_cpuid_shape(&t.c, &sup.c, HOST_VENDOR_AMD, true,
					NULL), 0);
	cr_assert(ecx_of(&t, 0x80000001) & NESTED_CPUID_SVM_BIT);

	/* And the other way round: the VM's table has it, KVM does not. */
	sup.c.entries[3].ecx &= ~NESTED_CPUID_SVM_BIT;
	cr_assert_eq(nested_cpuid_shape(&t.c, &sup.c, HOST_VENDOR_AMD, true,
					NULL), -EOPNOTSUPP);
}

Test(nested_cpuid, amd_on_needs_leaf_8000000a)
{
	struct table t;
	struct mvm_err err;

	amd_table(&t);
	t.c.nent = 4; /* drop 0x8000000A */
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_AMD, true,
					&err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "0x8000000A"));

	amd_table(&t);
	t.c.entries[2].eax = 0x80000008; /* max leaf below 0x8000000A */
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_AMD, true,
					NULL), -EINVAL);
}

Test(nested_cpuid, intel_on_exposes_vmx_and_hides_svm)
{
	struct table t;

	intel_table(&t);
	t.c.entries[3].ecx |= NESTED_CPUID_SVM_BIT;
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_INTEL, true,
					NULL), 0);
	cr_assert(ecx_of(&t, 1) & NESTED_CPUID_VMX_BIT);
	cr_assert_eq(ecx_of(&t, 0x80000001) & NESTED_CPUID_SVM_BIT, 0);
}

Test(nested_cpuid, intel_off_hides_vmx)
{
	struct table t;

	intel_table(&t);
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_INTEL, false,
					NULL), 0);
	cr_assert_eq(ecx_of(&t, 1), 0x7ffafbff & ~NESTED_CPUID_VMX_BIT);
}

Test(nested_cpuid, intel_on_without_vmx_fails_untouched)
{
	struct table t, before;
	struct mvm_err err;

	intel_table(&t);
	t.c.entries[1].ecx &= ~NESTED_CPUID_VMX_BIT;
	t.c.entries[3].ecx |= NESTED_CPUID_SVM_BIT;
	before = t;
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_INTEL, true,
					&err), -EOPNOTSUPP);
	cr_assert_not_null(strstr(err.msg, "kvm_intel"));
	cr_assert_eq(memcmp(&t, &before, sizeof(t)), 0);
}

Test(nested_cpuid, other_vendor_cannot_turn_it_on)
{
	struct table t;

	amd_table(&t);
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_OTHER, true,
					NULL), -EOPNOTSUPP);
	cr_assert_eq(nested_cpuid_shape(&t.c, NULL, HOST_VENDOR_OTHER, false,
					NULL), 0);
	cr_assert_eq(ecx_of(&t, 0x80000001) & NESTED_CPUID_SVM_BIT, 0);
}

Test(nested_cpuid, find_honours_significant_index)
{
	struct table t;

	memset(&t, 0, sizeof(t));
	add(&t, 7, 0, 0xa, 0, 0);
	t.c.entries[0].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	add(&t, 7, 0, 0xb, 0, 0);
	t.c.entries[1].index = 1;
	t.c.entries[1].flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	cr_assert_eq(nested_cpuid_find(&t.c, 7, 1)->ebx, 0xb);
	cr_assert_eq(nested_cpuid_find(&t.c, 7, 0)->ebx, 0xa);
	cr_assert_null(nested_cpuid_find(&t.c, 7, 2));
	cr_assert_null(nested_cpuid_find(&t.c, 0x40000000, 0));
}

Test(nested_cpuid, feature_control_only_for_intel_on)
{
	cr_assert_eq(nested_feature_control_value(HOST_VENDOR_INTEL, true),
		     0x5);
	cr_assert_eq(nested_feature_control_value(HOST_VENDOR_INTEL, false), 0);
	cr_assert_eq(nested_feature_control_value(HOST_VENDOR_AMD, true), 0);
	cr_assert_eq(nested_feature_control_value(HOST_VENDOR_OTHER, true), 0);
	cr_assert_eq(NESTED_MSR_IA32_FEATURE_CONTROL, 0x3a);
}
