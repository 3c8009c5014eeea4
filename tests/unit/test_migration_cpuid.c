/*
 * mig_cpuid_check: the guest's CPU features against what this host's KVM
 * can provide, each missing one named (or given as leaf, register, bit).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/migration.h"

#include "mig_fixture.h"

static struct kvm_cpuid_entry2 *entry(struct kvm_cpuid2 *c, uint32_t fn,
				      uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	cr_assert_fail("no leaf 0x%x.%u in the fixture", fn, idx);
	return NULL;
}

static void assert_refused(const struct kvm_cpuid2 *guest,
			   const struct kvm_cpuid2 *sup, const char *list)
{
	struct mvm_err err = { .msg = "" };
	char want[512];

	snprintf(want, sizeof(want), "the guest uses CPU features this host's "
		 "KVM cannot provide: %s", list);
	cr_assert_eq(mig_cpuid_check(guest, sup, &err), -EINVAL, "accepted, "
		     "expected: %s", list);
	cr_assert_str_eq(err.msg, want);
}

Test(mig_cpuid, the_same_cpuid_passes)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();

	cr_assert_eq(mig_cpuid_check(g, s, NULL), 0);
	free(g);
	free(s);
}

Test(mig_cpuid, missing_features_are_named)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();

	/* avx512f (7.0 ebx 16) and sha_ni (7.0 ebx 29) */
	entry(s, 7, 0)->ebx &= ~(1u << 16 | 1u << 29);
	assert_refused(g, s, "avx512f, sha_ni");
	/* A host with more than the guest uses is fine. */
	entry(g, 7, 0)->ebx &= ~(1u << 16 | 1u << 29);
	entry(s, 7, 0)->ebx |= 1u << 22;
	cr_assert_eq(mig_cpuid_check(g, s, NULL), 0);
	free(g);
	free(s);
}

Test(mig_cpuid, unnamed_bits_are_leaf_register_bit)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();

	entry(g, 7, 0)->ebx |= 1u << 22;    /* no name in the table */
	entry(g, 0x80000008, 0)->ebx |= 1u << 31;
	entry(s, 0xd, 1)->eax &= ~1u;        /* xsaveopt */
	assert_refused(g, s, "leaf 0x7.0 ebx bit 22, xsaveopt, leaf "
			     "0x80000008.0 ebx bit 31");
	free(g);
	free(s);
}

Test(mig_cpuid, every_feature_word_is_checked)
{
	static const struct { uint32_t fn, idx; int reg; const char *name; }
	words[] = {
		{ 1, 0, 2, "pni" }, { 1, 0, 3, "fpu" },
		{ 7, 0, 1, "fsgsbase" }, { 7, 0, 2, "leaf 0x7.0 ecx bit 0" },
		{ 7, 0, 3, "leaf 0x7.0 edx bit 0" },
		{ 7, 1, 0, "leaf 0x7.1 eax bit 0" }, { 0xd, 1, 0, "xsaveopt" },
		{ 0x80000001, 0, 2, "lahf_lm" },
		{ 0x80000001, 0, 3, "leaf 0x80000001.0 edx bit 0" },
		{ 0x80000007, 0, 3, "leaf 0x80000007.0 edx bit 0" },
		{ 0x80000008, 0, 1, "clzero" },
	};

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();
		struct kvm_cpuid_entry2 *ge = entry(g, words[w].fn,
						    words[w].idx);
		struct kvm_cpuid_entry2 *se = entry(s, words[w].fn,
						    words[w].idx);
		uint32_t *gr[] = { &ge->eax, &ge->ebx, &ge->ecx, &ge->edx };
		uint32_t *sr[] = { &se->eax, &se->ebx, &se->ecx, &se->edx };

		*gr[words[w].reg] |= 1;
		*sr[words[w].reg] &= ~1u;
		assert_refused(g, s, words[w].name);
		free(g);
		free(s);
	}
}

Test(mig_cpuid, a_leaf_the_host_lacks_is_all_missing)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();

	/* The host has no leaf 7.1 at all. */
	entry(s, 7, 1)->function = 0x40000000;
	assert_refused(g, s, "avx_vnni, avx512_bf16");
	free(g);
	free(s);
}

Test(mig_cpuid, emulated_dynamic_and_nesting_bits_are_not_checked)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();

	/* hypervisor, x2apic, tsc-deadline, osxsave, vmx; ht; ospke; svm */
	entry(g, 1, 0)->ecx |= 1u << 31 | 1u << 21 | 1u << 24 | 1u << 27 |
			       1u << 5;
	entry(s, 1, 0)->ecx &= ~(1u << 31 | 1u << 21 | 1u << 24 | 1u << 27 |
				 1u << 5);
	entry(g, 1, 0)->edx |= 1u << 28;
	entry(s, 1, 0)->edx &= ~(1u << 28);
	entry(g, 7, 0)->ecx |= 1u << 4;
	entry(s, 7, 0)->ecx &= ~(1u << 4);
	entry(g, 0x80000001, 0)->ecx |= 1u << 2;
	entry(s, 0x80000001, 0)->ecx &= ~(1u << 2);
	cr_assert_eq(mig_cpuid_check(g, s, NULL), 0);
	free(g);
	free(s);
}

Test(mig_cpuid, a_guest_without_flags_still_finds_its_sub_leaf)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();

	/* Sub-leaf 7.1 must not be taken for 7.0, flags or not. */
	entry(g, 7, 0)->flags = 0;
	entry(g, 7, 1)->flags = 0;
	cr_assert_eq(mig_cpuid_check(g, s, NULL), 0);
	entry(s, 7, 1)->eax = 0;
	assert_refused(g, s, "avx_vnni, avx512_bf16");
	free(g);
	free(s);
}

Test(mig_cpuid, a_long_list_is_cut_with_an_ellipsis)
{
	struct kvm_cpuid2 *g = fix_mig_cpuid(), *s = fix_mig_cpuid();
	struct mvm_err err = { .msg = "" };
	size_t n;

	for (uint32_t i = 0; i < s->nent; i++)
		s->entries[i].eax = s->entries[i].ebx = s->entries[i].ecx =
			s->entries[i].edx = 0;
	for (uint32_t i = 0; i < g->nent; i++)
		g->entries[i].eax = g->entries[i].ebx = g->entries[i].ecx =
			g->entries[i].edx = 0xffffffff;
	cr_assert_eq(mig_cpuid_check(g, s, &err), -EINVAL);
	n = strlen(err.msg);
	cr_assert(n > 200 && n < sizeof(err.msg) - 1, "%zu: %s", n, err.msg);
	cr_assert_str_eq(err.msg + n - 5, ", ...");
	cr_assert(strstr(err.msg, "provide: pni, pclmulqdq, "), "%s",
		  err.msg);
	free(g);
	free(s);
}

Test(mig_cpuid, repeated_entries_keep_the_first_as_kvm_finds_it)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 5 * sizeof(c->entries[0]));

	c->nent = 5;
	c->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd };
	c->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
						   .ebx = 1 };
	c->entries[2] = (struct kvm_cpuid_entry2){ .function = 7, .index = 1,
						   .eax = 2 };
	c->entries[3] = (struct kvm_cpuid_entry2){ .function = 0 };
	c->entries[4] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
						   .ebx = 9 };
	cr_assert_eq(mig_cpuid_unique(c), 2);
	cr_assert_eq(c->nent, 3);
	cr_assert_eq(c->entries[0].eax, 0xd);
	cr_assert_eq(c->entries[1].ebx, 1);
	cr_assert_eq(c->entries[2].eax, 2);
	cr_assert_eq(mig_cpuid_unique(c), 0);
	cr_assert_eq(mig_cpuid_unique(NULL), 0);
	free(c);
}
