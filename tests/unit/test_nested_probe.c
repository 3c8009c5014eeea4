/* Host probe decisions over synthetic facts: one host shape per test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mvm/nested.h"

/*
 * This host cannot run VMX; say after every run which checks still need an
 * Intel host with kvm_intel nested=1, so nobody mistakes them for covered.
 */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	fprintf(stderr, "[NOTE] needs an Intel host with kvm_intel nested=1: "
		"host probe on Intel (synthetic facts here): "
		"kvm_intel nested/ept "
		"parameters, the VMX bit in KVM_GET_SUPPORTED_CPUID, "
		"KVM_CAP_NESTED_STATE size for VMX\n");
}

static void param(struct host_param *hp, const char *v)
{
	hp->present = true;
	snprintf(hp->raw, sizeof(hp->raw), "%s", v);
}

/* A well-configured Intel host with kvm_intel nested=Y, ept=Y. */
static struct host_facts intel_good(void)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	strcpy(f.vendor_id, "GenuineIntel");
	f.host_vmx = true;
	f.mod_kvm = f.mod_intel = true;
	param(&f.intel_nested, "Y");
	param(&f.intel_ept, "Y");
	f.kvm_api_version = 12;
	f.sup_vmx = true;
	f.cap_nested_state = 8320;
	f.cap_irqchip = 1;
	return f;
}

/* A well-configured AMD host with kvm_amd nested=1, npt=1. */
static struct host_facts amd_good(void)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	strcpy(f.vendor_id, "AuthenticAMD");
	f.host_svm = true;
	f.mod_kvm = f.mod_amd = true;
	param(&f.amd_nested, "1");
	param(&f.amd_npt, "1");
	f.kvm_api_version = 12;
	f.sup_svm = true;
	f.cap_nested_state = 4224;
	f.cap_irqchip = 1;
	return f;
}

/* A PVM host like the one CI runs on: an AMD guest without SVM. */
static struct host_facts pvm(void)
{
	struct host_facts f;

	memset(&f, 0, sizeof(f));
	strcpy(f.vendor_id, "AuthenticAMD");
	f.host_hypervisor = true;
	f.mod_kvm = f.mod_pvm = true;
	f.kvm_api_version = 12;
	f.cap_irqchip = 1;
	return f;
}

static const struct host_check *chk(const struct host_probe *p, int id)
{
	return &p->checks[id];
}

static void assert_all_ok(const struct host_probe *p)
{
	int i;

	for (i = 0; i < HOST_CHECK_COUNT; i++) {
		cr_assert(p->checks[i].checked, "%s", host_check_name(i));
		cr_assert(p->checks[i].ok, "%s: %s", host_check_name(i),
			  p->checks[i].reason);
		cr_assert_str_empty(p->checks[i].fix);
	}
}

Test(nested_probe, intel_with_nesting_is_supported)
{
	struct host_facts f = intel_good();
	struct host_probe p;

	nested_probe_decide(&f, &p);
	cr_assert_eq(p.vendor, HOST_VENDOR_INTEL);
	cr_assert_eq(p.kvm_kind, HOST_KVM_HARDWARE);
	cr_assert_eq(p.kvm_module, HOST_KVM_MOD_INTEL);
	assert_all_ok(&p);
	cr_assert(p.nested_supported);
	cr_assert(p.stock_kernels);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_CPUID_VIRT)->reason,
				  "VMX"));
}

Test(nested_probe, amd_with_nesting_is_supported)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	nested_probe_decide(&f, &p);
	cr_assert_eq(p.vendor, HOST_VENDOR_AMD);
	cr_assert_eq(p.kvm_module, HOST_KVM_MOD_AMD);
	assert_all_ok(&p);
	cr_assert(p.nested_supported);
	cr_assert(p.stock_kernels);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_CPUID_VIRT)->reason,
				  "SVM"));
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_STATE_SIZE)->reason,
				  "4224"));
}

Test(nested_probe, intel_nested_off_says_how_to_turn_it_on)
{
	struct host_facts f = intel_good();
	struct host_probe p;

	param(&f.intel_nested, "N");
	f.sup_vmx = false; /* what KVM does when nested=N */
	nested_probe_decide(&f, &p);
	cr_assert_not(p.nested_supported);
	cr_assert(p.stock_kernels, "nesting off does not stop stock kernels");
	cr_assert_not(chk(&p, HOST_CHECK_NESTED_PARAM)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_PARAM)->reason,
				  "nested=N"));
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_PARAM)->fix,
				  "options kvm_intel nested=1"));
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_PARAM)->fix,
				  "/etc/modprobe.d/kvm.conf"));
	cr_assert_not(chk(&p, HOST_CHECK_CPUID_VIRT)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_CPUID_VIRT)->fix,
				  "nested_param"));
	cr_assert(chk(&p, HOST_CHECK_EPT_NPT)->ok);
}

Test(nested_probe, amd_nested_zero_names_kvm_amd)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	param(&f.amd_nested, "0");
	nested_probe_decide(&f, &p);
	cr_assert_not(p.nested_supported);
	cr_assert_str_eq(chk(&p, HOST_CHECK_NESTED_PARAM)->fix,
			 "load kvm_amd with nested=1: echo 'options kvm_amd "
			 "nested=1' > /etc/modprobe.d/kvm.conf and reload the "
			 "module (modprobe -r kvm_amd; modprobe kvm_amd) with "
			 "no VMs running");
}

Test(nested_probe, amd_without_npt)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	param(&f.amd_npt, "0");
	nested_probe_decide(&f, &p);
	cr_assert_not(p.nested_supported);
	cr_assert(p.stock_kernels);
	cr_assert_not(chk(&p, HOST_CHECK_EPT_NPT)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_EPT_NPT)->reason,
				  "npt=0"));
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_EPT_NPT)->fix,
				  "kvm_amd with npt=1"));
	cr_assert(chk(&p, HOST_CHECK_NESTED_PARAM)->ok);
}

Test(nested_probe, intel_without_ept)
{
	struct host_facts f = intel_good();
	struct host_probe p;

	param(&f.intel_ept, "N");
	nested_probe_decide(&f, &p);
	cr_assert_not(p.nested_supported);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_EPT_NPT)->fix,
				  "kvm_intel with ept=1"));
}

Test(nested_probe, pvm_is_software_and_runs_no_stock_kernels)
{
	struct host_facts f = pvm();
	struct host_probe p;

	nested_probe_decide(&f, &p);
	cr_assert_eq(p.vendor, HOST_VENDOR_AMD);
	cr_assert_eq(p.kvm_kind, HOST_KVM_SOFTWARE);
	cr_assert_eq(p.kvm_module, HOST_KVM_MOD_PVM);
	cr_assert(chk(&p, HOST_CHECK_KVM_DEVICE)->ok);
	cr_assert_not(chk(&p, HOST_CHECK_HARDWARE_KVM)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_HARDWARE_KVM)->reason,
				  "kvm_pvm"));
	/* The host CPU itself lacks SVM, and it is a VM: fix the outer one. */
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_HARDWARE_KVM)->fix,
				  "outer hypervisor"));
	cr_assert_not(chk(&p, HOST_CHECK_CPUID_VIRT)->ok);
	cr_assert_not(chk(&p, HOST_CHECK_NESTED_PARAM)->ok);
	cr_assert_not(chk(&p, HOST_CHECK_NESTED_STATE_SIZE)->ok);
	cr_assert_not(chk(&p, HOST_CHECK_EPT_NPT)->ok);
	cr_assert_not(p.nested_supported);
	cr_assert_not(p.stock_kernels);
	cr_assert_not_null(strstr(p.stock_kernels_reason, "PVM"));
	cr_assert_str_not_empty(p.stock_kernels_fix);
}

Test(nested_probe, pvm_wins_over_a_stale_kvm_amd_directory)
{
	struct host_facts f = pvm();
	struct host_probe p;

	f.mod_amd = true;
	param(&f.amd_nested, "1");
	f.host_svm = true;
	nested_probe_decide(&f, &p);
	cr_assert_eq(p.kvm_module, HOST_KVM_MOD_PVM);
	cr_assert_not(p.nested_supported);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_HARDWARE_KVM)->fix,
				  "modprobe -r kvm_pvm"));
}

Test(nested_probe, no_dev_kvm_and_no_module)
{
	struct host_facts f = amd_good();
	struct host_probe p;
	int i;

	f.mod_amd = f.mod_kvm = false;
	memset(&f.amd_nested, 0, sizeof(f.amd_nested));
	memset(&f.amd_npt, 0, sizeof(f.amd_npt));
	f.kvm_open_errno = ENOENT;
	f.kvm_api_version = 0;
	nested_probe_decide(&f, &p);
	cr_assert_eq(p.kvm_kind, HOST_KVM_NONE);
	cr_assert_eq(p.kvm_module, HOST_KVM_MOD_NONE);
	cr_assert_not(chk(&p, HOST_CHECK_KVM_DEVICE)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->reason,
				  "does not exist"));
	cr_assert_str_eq(chk(&p, HOST_CHECK_KVM_DEVICE)->fix,
			 "load KVM for this CPU: modprobe kvm_amd");
	/* Checks that need KVM are skipped, not failed on their own. */
	cr_assert_not(chk(&p, HOST_CHECK_CPUID_VIRT)->checked);
	cr_assert_not(chk(&p, HOST_CHECK_NESTED_STATE_SIZE)->checked);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_PARAM)->fix,
				  "modprobe kvm_amd nested=1"));
	for (i = 0; i < HOST_CHECK_COUNT; i++)
		cr_assert_not(p.checks[i].ok, "%s", host_check_name(i));
	cr_assert_not(p.nested_supported);
	cr_assert_not(p.stock_kernels);
	cr_assert_not_null(strstr(p.stock_kernels_reason, "not usable"));
}

Test(nested_probe, no_dev_kvm_cpu_without_virt_points_at_firmware)
{
	struct host_facts f = intel_good();
	struct host_probe p;

	f.mod_intel = false;
	f.host_vmx = false;
	f.kvm_open_errno = ENOENT;
	nested_probe_decide(&f, &p);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->fix,
				  "firmware"));
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->fix,
				  "VT-x"));

	f.host_hypervisor = true;
	nested_probe_decide(&f, &p);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->fix,
				  "outer hypervisor"));
}

Test(nested_probe, module_loaded_but_node_missing)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.kvm_open_errno = ENOENT;
	nested_probe_decide(&f, &p);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->fix,
				  "mknod /dev/kvm c 10 232"));
	cr_assert_eq(p.kvm_kind, HOST_KVM_HARDWARE);
}

Test(nested_probe, eacces_says_join_the_kvm_group)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.kvm_open_errno = EACCES;
	nested_probe_decide(&f, &p);
	cr_assert_not(chk(&p, HOST_CHECK_KVM_DEVICE)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->reason,
				  "permission denied"));
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->fix,
				  "kvm group"));
	cr_assert_not(p.nested_supported);
	cr_assert_not(p.stock_kernels);
	cr_assert_not_null(strstr(p.stock_kernels_fix, "kvm group"));
	/* sysfs-only checks still answer. */
	cr_assert(chk(&p, HOST_CHECK_NESTED_PARAM)->ok);
}

Test(nested_probe, other_open_errors_have_no_fix)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.kvm_open_errno = EBUSY;
	nested_probe_decide(&f, &p);
	cr_assert_not(chk(&p, HOST_CHECK_KVM_DEVICE)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->reason,
				  "cannot open"));
	cr_assert_str_empty(chk(&p, HOST_CHECK_KVM_DEVICE)->fix);
}

Test(nested_probe, dev_kvm_that_is_not_kvm)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.kvm_api_errno = ENOTTY;
	nested_probe_decide(&f, &p);
	cr_assert_not(chk(&p, HOST_CHECK_KVM_DEVICE)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->reason,
				  "KVM_GET_API_VERSION"));
	cr_assert_not(p.nested_supported);
}

Test(nested_probe, wrong_api_version)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.kvm_api_version = 11;
	nested_probe_decide(&f, &p);
	cr_assert_not(chk(&p, HOST_CHECK_KVM_DEVICE)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_KVM_DEVICE)->reason,
				  "version 11"));
}

Test(nested_probe, no_nested_state_on_old_kernel)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.cap_nested_state = 0;
	nested_probe_decide(&f, &p);
	cr_assert_not(p.nested_supported);
	cr_assert_not(chk(&p, HOST_CHECK_NESTED_STATE_SIZE)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_STATE_SIZE)->fix,
				  "5.8+"));
}

Test(nested_probe, supported_cpuid_failure)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	f.cpuid_errno = ENOMEM;
	nested_probe_decide(&f, &p);
	cr_assert(chk(&p, HOST_CHECK_CPUID_VIRT)->checked);
	cr_assert_not(chk(&p, HOST_CHECK_CPUID_VIRT)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_CPUID_VIRT)->reason,
				  "KVM_GET_SUPPORTED_CPUID failed"));
}

Test(nested_probe, unknown_vendor_is_never_offered_nesting)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	strcpy(f.vendor_id, "CentaurHauls");
	nested_probe_decide(&f, &p);
	cr_assert_eq(p.vendor, HOST_VENDOR_OTHER);
	/* kvm_amd decides which bit to look at; the vendor still vetoes. */
	cr_assert_not(p.nested_supported);
}

Test(nested_probe, unknown_vendor_without_module)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	strcpy(f.vendor_id, "CentaurHauls");
	f.mod_amd = false;
	nested_probe_decide(&f, &p);
	cr_assert_eq(p.kvm_kind, HOST_KVM_UNKNOWN);
	cr_assert_not(chk(&p, HOST_CHECK_CPUID_VIRT)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_CPUID_VIRT)->reason,
				  "unknown CPU vendor"));
	cr_assert_str_empty(chk(&p, HOST_CHECK_NESTED_PARAM)->fix);
	cr_assert_not(p.stock_kernels);
}

Test(nested_probe, hygon_counts_as_amd)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	strcpy(f.vendor_id, "HygonGenuine");
	nested_probe_decide(&f, &p);
	cr_assert_eq(p.vendor, HOST_VENDOR_AMD);
	cr_assert(p.nested_supported);
}

Test(nested_probe, no_irqchip_means_no_stock_kernels)
{
	struct host_facts f = intel_good();
	struct host_probe p;

	f.cap_irqchip = 0;
	nested_probe_decide(&f, &p);
	cr_assert(p.nested_supported);
	cr_assert_not(p.stock_kernels);
	cr_assert_not_null(strstr(p.stock_kernels_reason, "irqchip"));
}

Test(nested_probe, odd_and_missing_parameters)
{
	struct host_facts f = intel_good();
	struct host_probe p;

	param(&f.intel_nested, "maybe");
	nested_probe_decide(&f, &p);
	cr_assert_not(chk(&p, HOST_CHECK_NESTED_PARAM)->ok);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_PARAM)->reason,
				  "not understood"));

	memset(&f.intel_nested, 0, sizeof(f.intel_nested));
	nested_probe_decide(&f, &p);
	cr_assert_not_null(strstr(chk(&p, HOST_CHECK_NESTED_PARAM)->reason,
				  "no nested parameter"));
}

Test(nested_probe, unterminated_vendor_id_is_cut)
{
	struct host_facts f = amd_good();
	struct host_probe p;

	memset(f.vendor_id, 'A', sizeof(f.vendor_id));
	nested_probe_decide(&f, &p);
	cr_assert_eq(strlen(p.facts.vendor_id), sizeof(f.vendor_id) - 1);
	cr_assert_eq(p.vendor, HOST_VENDOR_OTHER);
}

Test(nested_probe, param_bool)
{
	struct host_param hp = { 0 };

	cr_assert_eq(host_param_bool(&hp), -1);
	param(&hp, "Y");
	cr_assert_eq(host_param_bool(&hp), 1);
	param(&hp, "1");
	cr_assert_eq(host_param_bool(&hp), 1);
	param(&hp, "y");
	cr_assert_eq(host_param_bool(&hp), 1);
	param(&hp, "N");
	cr_assert_eq(host_param_bool(&hp), 0);
	param(&hp, "0");
	cr_assert_eq(host_param_bool(&hp), 0);
	param(&hp, "");
	cr_assert_eq(host_param_bool(&hp), -1);
	param(&hp, "YES");
	cr_assert_eq(host_param_bool(&hp), -1);
}

Test(nested_probe, names_are_stable)
{
	cr_assert_str_eq(host_vendor_name(HOST_VENDOR_INTEL), "intel");
	cr_assert_str_eq(host_vendor_name(HOST_VENDOR_AMD), "amd");
	cr_assert_str_eq(host_vendor_name(HOST_VENDOR_OTHER), "other");
	cr_assert_str_eq(host_kvm_kind_name(HOST_KVM_SOFTWARE), "software");
	cr_assert_str_eq(host_kvm_kind_name(HOST_KVM_HARDWARE), "hardware");
	cr_assert_str_eq(host_kvm_kind_name(HOST_KVM_NONE), "none");
	cr_assert_str_eq(host_kvm_module_name(HOST_KVM_MOD_PVM), "kvm_pvm");
	cr_assert_null(host_kvm_module_name(HOST_KVM_MOD_NONE));
	cr_assert_str_eq(host_check_name(HOST_CHECK_CPUID_VIRT), "cpuid_virt");
	cr_assert_str_eq(host_check_name(HOST_CHECK_NESTED_PARAM),
			 "nested_param");
	cr_assert_str_eq(host_check_name(HOST_CHECK_NESTED_STATE_SIZE),
			 "nested_state_size");
	cr_assert_str_eq(host_check_name(HOST_CHECK_EPT_NPT), "ept_npt");
	cr_assert_str_eq(host_check_name(HOST_CHECK_COUNT), "unknown");
}
