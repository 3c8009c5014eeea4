/*
 * Nested virtualization: letting a VM's guest (L1) run its own guests (L2)
 * on the host's VMX (Intel) or SVM (AMD), as KVM exposes them.
 *
 * Three pure pieces live here, each testable without /dev/kvm:
 *  - the host probe: raw facts (struct host_facts) are gathered by a thin
 *    layer, then nested_probe_decide() turns them into yes/no answers, each
 *    "no" carrying a reason and, where one exists, a fix;
 *  - CPUID shaping: hide or expose VMX/SVM in a vCPU's CPUID;
 *  - a parser of KVM_GET_NESTED_STATE blobs, which tells whether L1 is
 *    acting as a hypervisor right now (the policy module needs that).
 */
#ifndef MVM_NESTED_H
#define MVM_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct mvm_err;
struct kvm_cpuid2;

/* ---- host probe -------------------------------------------------------- */

enum host_vendor {
	HOST_VENDOR_OTHER,
	HOST_VENDOR_INTEL,
	HOST_VENDOR_AMD, /* also Hygon, which implements SVM */
};

enum host_kvm_kind {
	HOST_KVM_NONE,     /* no usable KVM at all */
	HOST_KVM_HARDWARE, /* kvm_intel / kvm_amd */
	HOST_KVM_SOFTWARE, /* kvm_pvm: no VMX/SVM underneath */
	HOST_KVM_UNKNOWN,  /* /dev/kvm works but no known vendor module */
};

enum host_kvm_module {
	HOST_KVM_MOD_NONE,
	HOST_KVM_MOD_INTEL,
	HOST_KVM_MOD_AMD,
	HOST_KVM_MOD_PVM,
};

/* A module parameter as read from sysfs: raw text, trailing newline cut. */
struct host_param {
	bool present;
	char raw[16];
};

/*
 * What the host looks like, with no interpretation. Filled by
 * nested_facts_gather(), or by hand in tests.
 */
struct host_facts {
	char vendor_id[13];   /* CPUID leaf 0, e.g. "GenuineIntel" */
	bool host_vmx;        /* host CPUID leaf 1 ECX bit 5 */
	bool host_svm;        /* host CPUID 0x80000001 ECX bit 2 */
	bool host_hypervisor; /* leaf 1 ECX bit 31: this host is a VM itself */

	bool mod_kvm, mod_intel, mod_amd, mod_pvm; /* /sys/module/<name> */
	struct host_param intel_nested, intel_ept;
	struct host_param amd_nested, amd_npt;

	int kvm_open_errno; /* 0 when /dev/kvm opened */
	int kvm_api_errno;  /* 0 when KVM_GET_API_VERSION answered */
	int kvm_api_version;
	int cpuid_errno;    /* 0 when KVM_GET_SUPPORTED_CPUID answered */
	bool sup_vmx;       /* VMX in KVM_GET_SUPPORTED_CPUID */
	bool sup_svm;       /* SVM in KVM_GET_SUPPORTED_CPUID */
	int cap_nested_state; /* KVM_CAP_NESTED_STATE: max blob size, 0 none */
	int cap_irqchip;      /* KVM_CAP_IRQCHIP */
};

enum host_check_id {
	HOST_CHECK_KVM_DEVICE,        /* /dev/kvm opens and speaks API 12 */
	HOST_CHECK_HARDWARE_KVM,      /* kvm_intel / kvm_amd, not software */
	HOST_CHECK_CPUID_VIRT,        /* VMX/SVM offered to guests */
	HOST_CHECK_NESTED_PARAM,      /* kvm_{intel,amd}.nested on */
	HOST_CHECK_NESTED_STATE_SIZE, /* KVM_CAP_NESTED_STATE > 0 */
	HOST_CHECK_EPT_NPT,           /* two-dimensional paging on */
	HOST_CHECK_COUNT,
};

struct host_check {
	bool checked;    /* false: skipped because a prerequisite failed */
	bool ok;
	char reason[256]; /* why yes or why no, for a person */
	char fix[256];    /* "" when ok or when nothing can be done */
};

struct host_probe {
	struct host_facts facts;
	enum host_vendor vendor;
	enum host_kvm_kind kvm_kind;
	enum host_kvm_module kvm_module;
	struct host_check checks[HOST_CHECK_COUNT];
	bool nested_supported; /* every check ok */
	bool stock_kernels;    /* unmodified distribution kernels can boot */
	char stock_kernels_reason[256];
	char stock_kernels_fix[256];
};

/* Probe the running host: sysfs at /sys, KVM at /dev/kvm. */
int nested_probe_host(struct host_probe *p, struct mvm_err *err);
/* Same with other roots, so tests can point at a fake tree. */
int nested_probe_host_at(struct host_probe *p, const char *sysfs_root,
			 const char *kvm_dev, struct mvm_err *err);

/*
 * The thin layer: read CPUID, sysfs and /dev/kvm into f. Fails only when the
 * probe cannot run at all (no <sysfs_root>/module, out of memory); a missing
 * or unusable /dev/kvm is a fact, not a failure.
 */
int nested_facts_gather(struct host_facts *f, const char *sysfs_root,
			const char *kvm_dev, struct mvm_err *err);

/* The pure decision: facts in, answers with reasons out. */
void nested_probe_decide(const struct host_facts *f, struct host_probe *p);

/* Parse a module parameter: 1 for Y/y/1, 0 for N/n/0, -1 otherwise. */
int host_param_bool(const struct host_param *hp);

/* From the 12-character CPUID leaf 0 vendor string. */
enum host_vendor host_vendor_from_id(const char *id);
const char *host_vendor_name(enum host_vendor v);     /* intel amd other */
const char *host_kvm_kind_name(enum host_kvm_kind k); /* none hardware ... */
const char *host_kvm_module_name(enum host_kvm_module m); /* NULL for none */
const char *host_check_name(enum host_check_id id);   /* JSON keys */

/* `mvm host-check` output; json selects the json-c form. */
int nested_host_check_print(const struct host_probe *p, FILE *out, bool json);

/* `mvm host-check [--json]`: argv[0] is the command name. Exit status. */
int mvm_cmd_host_check(int argc, char **argv);

/* ---- CPUID shaping ------------------------------------------------------ */

#define NESTED_CPUID_VMX_BIT (1u << 5)  /* leaf 1 ECX */
#define NESTED_CPUID_SVM_BIT (1u << 2)  /* leaf 0x80000001 ECX */
#define NESTED_CPUID_SVM_LEAF 0x8000000Au /* SVM revision and features */

#define NESTED_MSR_IA32_FEATURE_CONTROL 0x3a
#define NESTED_FEATURE_CONTROL_LOCKED (1ull << 0)
#define NESTED_FEATURE_CONTROL_VMXON_OUTSIDE_SMX (1ull << 2)

struct kvm_cpuid_entry2;

/*
 * Entry for (function, index) or NULL. The index only matters for leaves
 * KVM flags as indexed (KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
 */
const struct kvm_cpuid_entry2 *nested_cpuid_find(const struct kvm_cpuid2 *c,
						 uint32_t function,
						 uint32_t index);

/*
 * Shape a vCPU's CPUID for nesting on or off. Off clears VMX and SVM and
 * zeroes leaf 0x8000000A. On exposes the vendor's own feature (the other
 * vendor's bit is always cleared) and fails with -EOPNOTSUPP when
 * `supported` (KVM_GET_SUPPORTED_CPUID; NULL means `cpuid` itself is the
 * supported set) does not offer it.
 */
int nested_cpuid_shape(struct kvm_cpuid2 *cpuid,
		       const struct kvm_cpuid2 *supported,
		       enum host_vendor vendor, bool on, struct mvm_err *err);

/*
 * Value to write to IA32_FEATURE_CONTROL after KVM_SET_CPUID2, or 0 when
 * nothing must be written. Intel guests booted without firmware find the
 * MSR unlocked and VMXON would fault, so the VMM plays firmware here.
 */
uint64_t nested_feature_control_value(enum host_vendor vendor, bool on);

/* ---- KVM_GET_NESTED_STATE parsing ------------------------------------- */

enum nested_format {
	NESTED_FORMAT_VMX,
	NESTED_FORMAT_SVM,
};

#define NESTED_EFER_SVME (1ull << 12)

struct nested_state_facts {
	enum nested_format format;
	uint16_t flags;   /* KVM_STATE_NESTED_* */
	uint32_t size;    /* header + data, as KVM reported it */
	uint32_t data_len; /* bytes after the 128-byte header */
	bool guest_mode;  /* L2 was running when the state was taken */
	bool run_pending; /* a VM entry to L2 had not completed */
	bool evmcs;       /* Hyper-V enlightened VMCS in use */
	bool gif_set;     /* SVM global interrupt flag */

	/* VMX header */
	uint64_t vmxon_pa;  /* -1: L1 is not in VMX operation */
	uint64_t vmcs12_pa; /* -1: no current VMCS */
	uint16_t smm_flags;
	bool vmxon_active;
	bool vmcs_loaded;

	/* SVM header */
	uint64_t vmcb_pa;

	/*
	 * L1 runs a hypervisor: VMX from VMXON alone; SVM needs EFER.SVME,
	 * which is not in the blob. Without it (efer == NULL) the answer is
	 * only known when L2 is running, and l1_known says so.
	 */
	bool l1_hypervisor_active;
	bool l1_known;
	bool l2_running;
};

/*
 * Parse a KVM_GET_NESTED_STATE blob of len bytes. Hostile input is expected:
 * the size field is checked against len and the format's fixed limits.
 * efer: the vCPU's EFER from KVM_GET_SREGS, or NULL when unknown.
 */
int nested_state_parse(const void *buf, size_t len, const uint64_t *efer,
		       struct nested_state_facts *out, struct mvm_err *err);

#endif
