/*
 * Nested virtualization: letting a VM's guest (L1) run its own guests (L2)
 * on the host's VMX (Intel) or SVM (AMD), as KVM exposes them.
 *
 * The pure pieces, each testable without /dev/kvm:
 *  - the host probe: raw facts (struct host_facts) are gathered by a thin
 *    layer, then nested_probe_decide() turns them into yes/no answers, each
 *    "no" carrying a reason and, where one exists, a fix;
 *  - CPUID shaping: hide or expose VMX/SVM in a vCPU's CPUID;
 *  - a parser of KVM_GET_NESTED_STATE blobs, which tells whether L1 is
 *    acting as a hypervisor right now (the policy module needs that);
 *  - the judgement of one vCPU's readings (nested state, EFER/CR4, KVM's
 *    binary statistics) and the parser of the statistics' layout;
 *  - the plan of `mvm nested enable|disable`: config JSON in, the list of
 *    changes and the new JSON out.
 * Around them, in the layers above (docs/architecture.md): the per-VM
 * query and its change logger (src/vm), GET /vm/nested's answer
 * (src/vmm) and the commands (src/cli).
 */
#ifndef MVM_NESTED_H
#define MVM_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

/* -- what the guest does with nesting (query_judge.c, src/vm/nested_*.c) -- */

struct vm;
struct json_object;

/*
 * Nested virtualization as last queried (src/vm/nested_query.c; before
 * boot, nested_facts_unbooted()): what the host offers and whether the
 * guest is itself hosting guests right now.
 */
struct vm_nested_facts {
	bool exposed;              /* VMX/SVM shown in the guest's CPUID */
	bool host_supported;       /* the host probe: nesting works here */
	const char *mechanism;     /* "vmx", "svm", or NULL (other vendor) */
	bool l1_hypervisor_active; /* a vCPU has VMXON / EFER.SVME on */
	bool l2_running;           /* a vCPU runs a nested guest now */
	struct timespec since;     /* CLOCK_REALTIME of the last change */
};

#define NESTED_CR4_VMXE (1ull << 13)

/* "vmx" for Intel, "svm" for AMD (and Hygon), NULL otherwise. */
const char *nested_mechanism_name(enum host_vendor v);

/*
 * Where a vCPU's binary statistics file (KVM_GET_STATS_FD) keeps the two
 * nesting statistics, as file offsets of their 64-bit values.
 */
struct nested_stats_layout {
	bool has_guest_mode;     /* "guest_mode": 1 while the vCPU is in L2 */
	bool has_nested_run;     /* "nested_run": VM entries to L2 so far */
	uint64_t guest_mode_off;
	uint64_t nested_run_off;
};

/* The stats file is read in one piece up to its descriptors' end. */
#define NESTED_STATS_PREFIX_MAX (1u << 20)

/*
 * From the file's header (at least 24 bytes from offset 0): how many bytes
 * from offset 0 the descriptors need. -EINVAL for a header KVM would not
 * write or one asking for more than NESTED_STATS_PREFIX_MAX.
 */
int nested_stats_prefix_len(const void *buf, size_t len, size_t *need,
			    struct mvm_err *err);
/*
 * Find the two statistics in the first len bytes of the file. Absent
 * statistics are not an error (older kernels, other architectures); a
 * malformed file is.
 */
int nested_stats_layout_parse(const void *buf, size_t len,
			      struct nested_stats_layout *out,
			      struct mvm_err *err);

/* One vCPU's raw readings, each source optional. */
struct nested_vcpu_reading {
	bool have_state; /* KVM_GET_NESTED_STATE answered and parsed */
	struct nested_state_facts state;
	bool have_sregs; /* KVM_GET_SREGS answered */
	uint64_t efer;
	uint64_t cr4;
	bool have_guest_mode; /* the "guest_mode" statistic */
	bool guest_mode;
	bool have_nested_run; /* the "nested_run" statistic */
	uint64_t nested_run;
};

/*
 * The pure judgement of one vCPU. l1: the guest runs a hypervisor (nested
 * state when KVM has it; else EFER.SVME on AMD, CR4.VMXE on Intel). l2: a
 * nested guest runs now (guest mode in the state or the statistics), or
 * ran since the previous query (nested_run grew past *prev_nested_run;
 * NULL when there is no previous reading): a sample taken while the vCPU
 * happened to be in L1 must not hide a busy L2.
 */
void nested_vcpu_judge(enum host_vendor vendor,
		       const struct nested_vcpu_reading *r,
		       const uint64_t *prev_nested_run, bool *l1, bool *l2);

/*
 * GET /vm/nested: {"exposed", "host_supported", "mechanism" (string or
 * null), "l1_hypervisor_active", "l2_running", "since" (RFC 3339 UTC with
 * milliseconds, or null before boot)}. *out is a new reference.
 */
int nested_facts_json(const struct vm_nested_facts *f,
		      struct json_object **out, struct mvm_err *err);

/* - mvm nested enable|disable --config FILE (nested_plan.c, src/cli/) -- */

/* Below this, warn: the guest's own guests need memory too. */
#define NESTED_MIN_MEM_MIB 1024

/* `mvm nested` exit statuses. */
enum nested_cmd_status {
	NESTED_CMD_DONE = 0,       /* changed, or nothing to change */
	NESTED_CMD_DECLINED = 1,   /* not confirmed (no tty and no --yes) */
	NESTED_CMD_IMPOSSIBLE = 2, /* enable: the host probe says no */
	NESTED_CMD_BAD_INPUT = 3,  /* usage, unreadable or invalid config */
};

struct nested_change {
	char path[96];  /* JSON path: "network-interfaces[0].mac_spoofing" */
	char from[32];  /* old value as JSON, "(absent)" when missing */
	char to[32];    /* new value as JSON */
	char why[160];
};

#define NESTED_PLAN_MAX_CHANGES 24
#define NESTED_PLAN_MAX_WARNINGS 16

struct nested_plan {
	struct nested_change changes[NESTED_PLAN_MAX_CHANGES];
	unsigned nr_changes;
	char warnings[NESTED_PLAN_MAX_WARNINGS][256];
	unsigned nr_warnings;
};

struct nested_plan_opts {
	bool enable;
	bool mac_spoofing;      /* enable: turn it on on NICs without it */
	unsigned default_vcpus; /* for a machine-config the file lacks */
	uint64_t default_mem_mib;
};

/*
 * The pure part of `mvm nested`: from a config document (already validated
 * by the config file loader) to the changes it needs, the warnings, and the
 * changed document (a new object; cfg is not touched). Unknown content is
 * carried over as it is.
 */
int nested_plan_make(struct json_object *cfg,
		     const struct nested_plan_opts *o, struct nested_plan *p,
		     struct json_object **out, struct mvm_err *err);

#endif
