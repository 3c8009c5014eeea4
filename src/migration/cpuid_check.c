/*
 * Whether this host can run the guest as it was: a guest that saw AVX-512
 * at boot uses it, and on a host without it the first such instruction
 * is a #UD. The destination compares the guest's CPUID (from HELLO) with
 * what its KVM can provide, over the leaves that list features, and
 * names what is missing, as /proc/cpuinfo does where it has a name.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>

#include "mvm/err.h"
#include "mig_priv.h"

enum reg { EAX, EBX, ECX, EDX };
static const char *const reg_names[] = { "eax", "ebx", "ecx", "edx" };

/* The feature words checked: a leaf, a sub-leaf, a register. */
static const struct {
	uint32_t function, index;
	enum reg reg;
	/*
	 * Bits not checked. Leaf 1 ecx: vmx (5) is nesting's, x2apic (21),
	 * tsc_deadline_timer (24) and hypervisor (31) KVM gives any guest
	 * whatever its list says, osxsave (27) mirrors the guest's
	 * CR4.OSXSAVE; leaf 1 edx ht (28) is mvm's topology; 7.0 ecx ospke
	 * (4) mirrors CR4.PKE; 0x80000001 ecx svm (2) is nesting's.
	 */
	uint32_t skip;
} words[] = {
	{ 1, 0, ECX, 1u << 5 | 1u << 21 | 1u << 24 | 1u << 27 | 1u << 31 },
	{ 1, 0, EDX, 1u << 28 },
	{ 7, 0, EBX, 0 },
	{ 7, 0, ECX, 1u << 4 },
	{ 7, 0, EDX, 0 },
	{ 7, 1, EAX, 0 },
	{ 0xd, 1, EAX, 0 },
	{ 0x80000001, 0, ECX, 1u << 2 },
	{ 0x80000001, 0, EDX, 0 },
	{ 0x80000007, 0, EDX, 0 },
	{ 0x80000008, 0, EBX, 0 },
};

struct feature {
	uint32_t function, index;
	enum reg reg;
	unsigned bit;
	const char *name;
};

/* Linux's names (arch/x86/include/asm/cpufeatures.h, /proc/cpuinfo). */
static const struct feature names[] = {
	{ 1, 0, ECX, 0, "pni" }, { 1, 0, ECX, 1, "pclmulqdq" },
	{ 1, 0, ECX, 3, "monitor" }, { 1, 0, ECX, 9, "ssse3" },
	{ 1, 0, ECX, 12, "fma" }, { 1, 0, ECX, 13, "cx16" },
	{ 1, 0, ECX, 15, "pdcm" }, { 1, 0, ECX, 17, "pcid" },
	{ 1, 0, ECX, 19, "sse4_1" }, { 1, 0, ECX, 20, "sse4_2" },
	{ 1, 0, ECX, 22, "movbe" }, { 1, 0, ECX, 23, "popcnt" },
	{ 1, 0, ECX, 25, "aes" }, { 1, 0, ECX, 26, "xsave" },
	{ 1, 0, ECX, 28, "avx" }, { 1, 0, ECX, 29, "f16c" },
	{ 1, 0, ECX, 30, "rdrand" },
	{ 1, 0, EDX, 0, "fpu" }, { 1, 0, EDX, 1, "vme" },
	{ 1, 0, EDX, 2, "de" }, { 1, 0, EDX, 3, "pse" },
	{ 1, 0, EDX, 4, "tsc" }, { 1, 0, EDX, 5, "msr" },
	{ 1, 0, EDX, 6, "pae" }, { 1, 0, EDX, 7, "mce" },
	{ 1, 0, EDX, 8, "cx8" }, { 1, 0, EDX, 9, "apic" },
	{ 1, 0, EDX, 11, "sep" }, { 1, 0, EDX, 12, "mtrr" },
	{ 1, 0, EDX, 13, "pge" }, { 1, 0, EDX, 14, "mca" },
	{ 1, 0, EDX, 15, "cmov" }, { 1, 0, EDX, 16, "pat" },
	{ 1, 0, EDX, 17, "pse36" }, { 1, 0, EDX, 19, "clflush" },
	{ 1, 0, EDX, 23, "mmx" }, { 1, 0, EDX, 24, "fxsr" },
	{ 1, 0, EDX, 25, "sse" }, { 1, 0, EDX, 26, "sse2" },
	{ 1, 0, EDX, 27, "ss" },
	{ 7, 0, EBX, 0, "fsgsbase" }, { 7, 0, EBX, 1, "tsc_adjust" },
	{ 7, 0, EBX, 2, "sgx" }, { 7, 0, EBX, 3, "bmi1" },
	{ 7, 0, EBX, 4, "hle" }, { 7, 0, EBX, 5, "avx2" },
	{ 7, 0, EBX, 7, "smep" }, { 7, 0, EBX, 8, "bmi2" },
	{ 7, 0, EBX, 9, "erms" }, { 7, 0, EBX, 10, "invpcid" },
	{ 7, 0, EBX, 11, "rtm" }, { 7, 0, EBX, 14, "mpx" },
	{ 7, 0, EBX, 16, "avx512f" }, { 7, 0, EBX, 17, "avx512dq" },
	{ 7, 0, EBX, 18, "rdseed" }, { 7, 0, EBX, 19, "adx" },
	{ 7, 0, EBX, 20, "smap" }, { 7, 0, EBX, 21, "avx512ifma" },
	{ 7, 0, EBX, 23, "clflushopt" }, { 7, 0, EBX, 24, "clwb" },
	{ 7, 0, EBX, 25, "intel_pt" }, { 7, 0, EBX, 26, "avx512pf" },
	{ 7, 0, EBX, 27, "avx512er" }, { 7, 0, EBX, 28, "avx512cd" },
	{ 7, 0, EBX, 29, "sha_ni" }, { 7, 0, EBX, 30, "avx512bw" },
	{ 7, 0, EBX, 31, "avx512vl" },
	{ 7, 0, ECX, 1, "avx512vbmi" }, { 7, 0, ECX, 2, "umip" },
	{ 7, 0, ECX, 3, "pku" }, { 7, 0, ECX, 5, "waitpkg" },
	{ 7, 0, ECX, 6, "avx512_vbmi2" }, { 7, 0, ECX, 8, "gfni" },
	{ 7, 0, ECX, 9, "vaes" }, { 7, 0, ECX, 10, "vpclmulqdq" },
	{ 7, 0, ECX, 11, "avx512_vnni" }, { 7, 0, ECX, 12, "avx512_bitalg" },
	{ 7, 0, ECX, 14, "avx512_vpopcntdq" }, { 7, 0, ECX, 16, "la57" },
	{ 7, 0, ECX, 22, "rdpid" }, { 7, 0, ECX, 25, "cldemote" },
	{ 7, 0, ECX, 27, "movdiri" }, { 7, 0, ECX, 28, "movdir64b" },
	{ 7, 0, EDX, 2, "avx512_4vnniw" }, { 7, 0, EDX, 3, "avx512_4fmaps" },
	{ 7, 0, EDX, 4, "fsrm" }, { 7, 0, EDX, 8, "avx512_vp2intersect" },
	{ 7, 0, EDX, 10, "md_clear" }, { 7, 0, EDX, 14, "serialize" },
	{ 7, 0, EDX, 16, "tsxldtrk" }, { 7, 0, EDX, 22, "amx_bf16" },
	{ 7, 0, EDX, 23, "avx512_fp16" }, { 7, 0, EDX, 24, "amx_tile" },
	{ 7, 0, EDX, 25, "amx_int8" }, { 7, 0, EDX, 26, "spec_ctrl" },
	{ 7, 0, EDX, 27, "intel_stibp" }, { 7, 0, EDX, 28, "flush_l1d" },
	{ 7, 0, EDX, 29, "arch_capabilities" },
	{ 7, 0, EDX, 31, "spec_ctrl_ssbd" },
	{ 7, 1, EAX, 4, "avx_vnni" }, { 7, 1, EAX, 5, "avx512_bf16" },
	{ 0xd, 1, EAX, 0, "xsaveopt" }, { 0xd, 1, EAX, 1, "xsavec" },
	{ 0xd, 1, EAX, 2, "xgetbv1" }, { 0xd, 1, EAX, 3, "xsaves" },
	{ 0xd, 1, EAX, 4, "xfd" },
	{ 0x80000001, 0, ECX, 0, "lahf_lm" },
	{ 0x80000001, 0, ECX, 1, "cmp_legacy" },
	{ 0x80000001, 0, ECX, 4, "cr8_legacy" },
	{ 0x80000001, 0, ECX, 5, "abm" }, { 0x80000001, 0, ECX, 6, "sse4a" },
	{ 0x80000001, 0, ECX, 7, "misalignsse" },
	{ 0x80000001, 0, ECX, 8, "3dnowprefetch" },
	{ 0x80000001, 0, ECX, 9, "osvw" }, { 0x80000001, 0, ECX, 11, "xop" },
	{ 0x80000001, 0, ECX, 16, "fma4" }, { 0x80000001, 0, ECX, 21, "tbm" },
	{ 0x80000001, 0, ECX, 22, "topoext" },
	{ 0x80000001, 0, ECX, 23, "perfctr_core" },
	{ 0x80000001, 0, ECX, 29, "mwaitx" },
	{ 0x80000001, 0, EDX, 11, "syscall" }, { 0x80000001, 0, EDX, 20, "nx" },
	{ 0x80000001, 0, EDX, 22, "mmxext" },
	{ 0x80000001, 0, EDX, 25, "fxsr_opt" },
	{ 0x80000001, 0, EDX, 26, "pdpe1gb" },
	{ 0x80000001, 0, EDX, 27, "rdtscp" }, { 0x80000001, 0, EDX, 29, "lm" },
	{ 0x80000001, 0, EDX, 30, "3dnowext" },
	{ 0x80000001, 0, EDX, 31, "3dnow" },
	{ 0x80000007, 0, EDX, 8, "constant_tsc" },
	{ 0x80000008, 0, EBX, 0, "clzero" },
	{ 0x80000008, 0, EBX, 1, "irperf" },
	{ 0x80000008, 0, EBX, 2, "xsaveerptr" },
	{ 0x80000008, 0, EBX, 4, "rdpru" },
	{ 0x80000008, 0, EBX, 9, "wbnoinvd" },
	{ 0x80000008, 0, EBX, 12, "amd_ibpb" },
	{ 0x80000008, 0, EBX, 14, "amd_ibrs" },
	{ 0x80000008, 0, EBX, 15, "amd_stibp" },
	{ 0x80000008, 0, EBX, 24, "amd_ssbd" },
	{ 0x80000008, 0, EBX, 25, "virt_ssbd" },
	{ 0x80000008, 0, EBX, 26, "amd_ssb_no" },
};

/*
 * Entry (function, index): an exact match, or, for a leaf not flagged as
 * indexed, its one entry (the guest's table comes from the network and
 * need not carry KVM's flags as KVM would).
 */
static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c,
					   uint32_t function, uint32_t index)
{
	const struct kvm_cpuid_entry2 *any = NULL;

	for (uint32_t i = 0; c && i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != function)
			continue;
		if (e->index == index)
			return e;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && !any)
			any = e;
	}
	return any;
}

static uint32_t reg_of(const struct kvm_cpuid_entry2 *e, enum reg r)
{
	if (!e)
		return 0;
	return r == EAX ? e->eax : r == EBX ? e->ebx : r == ECX ? e->ecx :
								 e->edx;
}

static const char *name_of(uint32_t function, uint32_t index, enum reg r,
			   unsigned bit)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].function == function &&
		    names[i].index == index && names[i].reg == r &&
		    names[i].bit == bit)
			return names[i].name;
	return NULL;
}

/* Append one missing feature to the list; "..." once it is full. */
static void list_add(char *list, size_t cap, size_t *used, bool *cut,
		     const char *item)
{
	int n;

	if (*cut)
		return;
	n = snprintf(list + *used, cap - *used, "%s%s", *used ? ", " : "",
		     item);
	/* Room kept for ", ..." at the end. */
	if (n < 0 || (size_t)n >= cap - *used - 6) {
		list[*used] = 0;
		snprintf(list + *used, cap - *used, "%s...",
			 *used ? ", " : "");
		*cut = true;
		return;
	}
	*used += (size_t)n;
}

unsigned mig_cpuid_unique(struct kvm_cpuid2 *c)
{
	unsigned out = 0, n = c ? c->nent : 0;

	for (unsigned i = 0; i < n; i++) {
		bool seen = false;

		for (unsigned j = 0; j < out && !seen; j++)
			seen = c->entries[j].function ==
				       c->entries[i].function &&
			       c->entries[j].index == c->entries[i].index;
		if (!seen)
			c->entries[out++] = c->entries[i];
	}
	if (c)
		c->nent = out;
	return n - out;
}

int mig_cpuid_check(const struct kvm_cpuid2 *guest,
		    const struct kvm_cpuid2 *supported, struct mvm_err *err)
{
	char list[400] = "", item[48];
	size_t used = 0;
	bool cut = false;

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		uint32_t fn = words[w].function, idx = words[w].index;
		const struct kvm_cpuid_entry2 *g = find(guest, fn, idx);
		uint32_t missing;

		if (!g)
			continue;
		missing = reg_of(g, words[w].reg) &
			  ~reg_of(find(supported, fn, idx), words[w].reg) &
			  ~words[w].skip;
		for (unsigned bit = 0; bit < 32; bit++) {
			const char *name;

			if (!(missing & 1u << bit))
				continue;
			name = name_of(fn, idx, words[w].reg, bit);
			if (name)
				snprintf(item, sizeof(item), "%s", name);
			else
				snprintf(item, sizeof(item),
					 "leaf 0x%x.%u %s bit %u", fn, idx,
					 reg_names[words[w].reg], bit);
			list_add(list, sizeof(list), &used, &cut, item);
		}
	}
	if (used || cut)
		return mvm_fail(err, -EINVAL, "the guest uses CPU features "
				"this host's KVM cannot provide: %s", list);
	return 0;
}
