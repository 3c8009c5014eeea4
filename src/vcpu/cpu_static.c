/*
 * Firecracker's static CPU templates as data: which bits of which CPUID
 * register (and of IA32_ARCH_CAPABILITIES) each one fixes, and to what.
 * They make a guest see the features of an EC2 instance type: C3, T2 and
 * its variants on Intel (T2S and T2CL also fix the MSR), T2A on AMD.
 * Values follow Firecracker's templates bit for bit; Firecracker also
 * insists on particular CPU models, which mvm does not (it checks the
 * vendor only).
 */
#include <string.h>
#include <linux/kvm.h>

#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/nested.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX
#define MSR_IA32_ARCH_CAPABILITIES 0x10a

const char *const cpu_static_names[CPU_STATIC_COUNT + 1] = {
	"None", "C3", "T2", "T2S", "T2CL", "T2A", NULL
};

/*
 * Leaf 1: family/model/stepping, then the features EC2 hides (DTES64,
 * MONITOR, VMX, SMX, EIST, TM2, PDCM, MCE/MTRR kept, PSN, DS, ACPI, ...).
 * Leaf 7: SGX, HLE, RTM, MPX, AVX-512, PT and their kin. Leaf 0xD: the
 * XSAVE components (MPX, AVX-512 state) and XSAVEC/XGETBV1/XSAVES.
 */
static const struct cpuid_modifier c3_cpuid[] = {
	{ 0x1, 0x0, 0, CPU_REG_EAX, 0x0fff3fff, 0x000306e4 },
	{ 0x1, 0x0, 0, CPU_REG_ECX, 0x0040dd3c, 0x00000000 },
	{ 0x1, 0x0, 0, CPU_REG_EDX, 0xa8641080, 0x00001080 },
	{ 0x7, 0x0, SIG, CPU_REG_EBX, 0xffafdd3c, 0x00000000 },
	{ 0x7, 0x0, SIG, CPU_REG_ECX, 0x4041481e, 0x00000000 },
	{ 0x7, 0x0, SIG, CPU_REG_EDX, 0x0000000c, 0x00000000 },
	{ 0xd, 0x0, SIG, CPU_REG_EAX, 0x000002f8, 0x00000000 },
	{ 0xd, 0x1, SIG, CPU_REG_EAX, 0x0000000e, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPU_REG_ECX, 0x00000120, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPU_REG_EDX, 0x04000000, 0x00000000 },
};

/* The leaves 1, 7 and 0xD every T2 variant shares. */
static const struct cpuid_modifier t2_common[] = {
	{ 0x1, 0x0, 0, CPU_REG_EAX, 0x0fff3fff, 0x000306f2 },
	{ 0x1, 0x0, 0, CPU_REG_ECX, 0x0004cdfc, 0x00000000 },
	{ 0x1, 0x0, 0, CPU_REG_EDX, 0xe8641080, 0x00001080 },
	{ 0x7, 0x0, SIG, CPU_REG_EBX, 0xffefda14, 0x00000200 },
	{ 0x7, 0x0, SIG, CPU_REG_ECX, 0x40415f5e, 0x00000000 },
	{ 0x7, 0x0, SIG, CPU_REG_EDX, 0x0000011c, 0x00000000 },
	{ 0xd, 0x0, SIG, CPU_REG_EAX, 0x000002f8, 0x00000000 },
	{ 0xd, 0x1, SIG, CPU_REG_EAX, 0x0000000e, 0x00000000 },
};

/* Extended leaves: LZCNT/PREFETCHW/..., 1 GiB pages, WBNOINVD. */
static const struct cpuid_modifier t2_ext[] = {
	{ 0x80000001, 0x0, 0, CPU_REG_ECX, 0x20000100, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPU_REG_EDX, 0x04000000, 0x00000000 },
	{ 0x80000008, 0x0, 0, CPU_REG_EBX, 0x00000200, 0x00000000 },
};

static const struct cpuid_modifier t2cl_ext[] = {
	{ 0x80000001, 0x0, 0, CPU_REG_ECX, 0x200001c0, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPU_REG_EDX, 0x07c00000, 0x00000000 },
	{ 0x80000008, 0x0, 0, CPU_REG_EBX, 0x00000200, 0x00000000 },
};

static const struct cpuid_modifier t2a_ext[] = {
	{ 0x80000001, 0x0, 0, CPU_REG_ECX, 0x200001c4, 0x00000000 },
	{ 0x80000001, 0x0, 0, CPU_REG_EDX, 0x06400000, 0x00000000 },
	{ 0x80000008, 0x0, 0, CPU_REG_EBX, 0x001c0205, 0x001c0004 },
};

/* T2S: the mitigations' bits of a Skylake/Cascade Lake host, whole. */
static const struct msr_modifier t2s_msrs[] = {
	{ MSR_IA32_ARCH_CAPABILITIES, ~0ULL, 0x0c0a0c4cULL },
};

/* T2CL: the bits a Cascade Lake lacks, cleared. */
static const struct msr_modifier t2cl_msrs[] = {
	{ MSR_IA32_ARCH_CAPABILITIES, 0xffffffffe2f51e00ULL, 0 },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct static_def {
	enum host_vendor vendor;
	const struct cpuid_modifier *cpuid[2];
	unsigned nr_cpuid[2];
	const struct msr_modifier *msrs;
	unsigned nr_msrs;
};

static const struct static_def defs[CPU_STATIC_COUNT] = {
	[CPU_STATIC_C3] = { HOST_VENDOR_INTEL, { c3_cpuid }, { N(c3_cpuid) } },
	[CPU_STATIC_T2] = { HOST_VENDOR_INTEL, { t2_common, t2_ext },
			    { N(t2_common), N(t2_ext) } },
	[CPU_STATIC_T2S] = { HOST_VENDOR_INTEL, { t2_common, t2_ext },
			     { N(t2_common), N(t2_ext) }, t2s_msrs,
			     N(t2s_msrs) },
	[CPU_STATIC_T2CL] = { HOST_VENDOR_INTEL, { t2_common, t2cl_ext },
			      { N(t2_common), N(t2cl_ext) }, t2cl_msrs,
			      N(t2cl_msrs) },
	[CPU_STATIC_T2A] = { HOST_VENDOR_AMD, { t2_common, t2a_ext },
			     { N(t2_common), N(t2a_ext) } },
};

static const char *vendor_label(enum host_vendor v)
{
	return v == HOST_VENDOR_INTEL ? "Intel" :
	       v == HOST_VENDOR_AMD ? "AMD" : "another vendor";
}

int cpu_static_template(enum cpu_static_template t, enum host_vendor vendor,
			struct cpu_template *out, struct mvm_err *err)
{
	const struct static_def *d;

	memset(out, 0, sizeof(*out));
	if (t <= CPU_STATIC_NONE || t >= CPU_STATIC_COUNT)
		return 0;
	d = &defs[t];
	if (vendor != d->vendor)
		return mvm_fail(err, -EINVAL, "machine-config.cpu_template: "
				"\"%s\" is for %s CPUs and this host's is %s: "
				"CPU vendor mismatched between actual CPU and "
				"CPU template.", cpu_static_names[t],
				vendor_label(d->vendor), vendor_label(vendor));
	/* An absent table is NULL, which memcpy must not see even for 0. */
	for (unsigned i = 0; i < 2; i++) {
		if (!d->nr_cpuid[i])
			continue;
		memcpy(out->cpuid + out->nr_cpuid, d->cpuid[i],
		       d->nr_cpuid[i] * sizeof(d->cpuid[i][0]));
		out->nr_cpuid += d->nr_cpuid[i];
	}
	if (d->nr_msrs)
		memcpy(out->msrs, d->msrs, d->nr_msrs * sizeof(out->msrs[0]));
	out->nr_msrs = d->nr_msrs;
	return 0;
}
