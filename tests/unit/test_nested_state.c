/* KVM_GET_NESTED_STATE parsing on synthetic VMX and SVM blobs. */
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
		"VMX nested-state parsing (synthetic blobs here): a real "
		"KVM_GET_NESTED_STATE after VMXON, with a vmcs12, "
		"with a shadow "
		"vmcs12, and in guest mode\n");
}

#define HDR 128u
#define PG 4096u
#define NO_PA (~0ull)

/* Header plus room for the largest data area, plus slack for tests. */
struct blob {
	union {
		struct kvm_nested_state s;
		uint8_t bytes[HDR + 3 * PG];
	};
};

static void vmx(struct blob *b, uint16_t flags, uint64_t vmxon,
		uint64_t vmcs12, uint32_t data)
{
	memset(b, 0, sizeof(*b));
	b->s.format = KVM_STATE_NESTED_FORMAT_VMX;
	b->s.flags = flags;
	b->s.size = HDR + data;
	b->s.hdr.vmx.vmxon_pa = vmxon;
	b->s.hdr.vmx.vmcs12_pa = vmcs12;
}

static void svm(struct blob *b, uint16_t flags, uint64_t vmcb, uint32_t data)
{
	memset(b, 0, sizeof(*b));
	b->s.format = KVM_STATE_NESTED_FORMAT_SVM;
	b->s.flags = flags;
	b->s.size = HDR + data;
	b->s.hdr.svm.vmcb_pa = vmcb;
}

static int parse(struct blob *b, const uint64_t *efer,
		 struct nested_state_facts *o, struct mvm_err *err)
{
	return nested_state_parse(b->bytes, b->s.size, efer, o, err);
}

Test(nested_state, vmx_idle_l1_is_no_hypervisor)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	vmx(&b, 0, NO_PA, NO_PA, 0);
	cr_assert_eq(parse(&b, NULL, &o, &err), 0, "%s", err.msg);
	cr_assert_eq(o.format, NESTED_FORMAT_VMX);
	cr_assert_not(o.vmxon_active);
	cr_assert_not(o.vmcs_loaded);
	cr_assert(o.l1_known);
	cr_assert_not(o.l1_hypervisor_active);
	cr_assert_not(o.l2_running);
	cr_assert_eq(o.data_len, 0);
}

Test(nested_state, vmx_after_vmxon_is_a_hypervisor)
{
	struct blob b;
	struct nested_state_facts o;

	vmx(&b, 0, 0x1000, NO_PA, 0);
	cr_assert_eq(parse(&b, NULL, &o, NULL), 0);
	cr_assert(o.vmxon_active);
	cr_assert_eq(o.vmxon_pa, 0x1000);
	cr_assert(o.l1_hypervisor_active);
	cr_assert_not(o.l2_running);
}

Test(nested_state, vmx_running_l2_with_vmcs12)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	vmx(&b, KVM_STATE_NESTED_GUEST_MODE | KVM_STATE_NESTED_RUN_PENDING,
	    0x1000, 0x2000, PG);
	b.s.hdr.vmx.smm.flags = KVM_STATE_NESTED_SMM_VMXON;
	cr_assert_eq(parse(&b, NULL, &o, &err), 0, "%s", err.msg);
	cr_assert(o.guest_mode);
	cr_assert(o.run_pending);
	cr_assert(o.vmcs_loaded);
	cr_assert_eq(o.vmcs12_pa, 0x2000);
	cr_assert_eq(o.smm_flags, KVM_STATE_NESTED_SMM_VMXON);
	cr_assert(o.l1_hypervisor_active);
	cr_assert(o.l2_running);
	cr_assert_eq(o.data_len, PG);
}

Test(nested_state, vmx_with_shadow_vmcs12)
{
	struct blob b;
	struct nested_state_facts o;

	vmx(&b, KVM_STATE_NESTED_GUEST_MODE, 0x1000, 0x2000, 2 * PG);
	cr_assert_eq(parse(&b, NULL, &o, NULL), 0);
	cr_assert_eq(o.data_len, 2 * PG);
}

Test(nested_state, vmx_enlightened_vmcs_has_no_vmcs12_address)
{
	struct blob b;
	struct nested_state_facts o;

	vmx(&b, KVM_STATE_NESTED_GUEST_MODE | KVM_STATE_NESTED_EVMCS, 0x1000,
	    NO_PA, PG);
	cr_assert_eq(parse(&b, NULL, &o, NULL), 0);
	cr_assert(o.evmcs);
	cr_assert(o.l2_running);
}

Test(nested_state, vmx_inconsistent_combinations)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	vmx(&b, KVM_STATE_NESTED_GUEST_MODE, NO_PA, NO_PA, 0);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "without VMXON"));

	vmx(&b, 0, NO_PA, 0x2000, PG);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);

	vmx(&b, 0, 0x1000, 0x2000, 0);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "no vmcs12"));

	vmx(&b, KVM_STATE_NESTED_RUN_PENDING, 0x1000, NO_PA, 0);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "run pending"));

	vmx(&b, 0, 0x1000, 0x2000, 100);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
}

Test(nested_state, svm_without_efer_is_unknown_until_l2_runs)
{
	struct blob b;
	struct nested_state_facts o;

	svm(&b, KVM_STATE_NESTED_GIF_SET, 0, 0);
	cr_assert_eq(parse(&b, NULL, &o, NULL), 0);
	cr_assert_eq(o.format, NESTED_FORMAT_SVM);
	cr_assert(o.gif_set);
	cr_assert_not(o.l1_known);
	cr_assert_not(o.l1_hypervisor_active);
	cr_assert_not(o.l2_running);
	cr_assert_eq(o.vmxon_pa, NO_PA);
}

Test(nested_state, svm_efer_svme_decides)
{
	struct blob b;
	struct nested_state_facts o;
	uint64_t efer = NESTED_EFER_SVME | 0xd01; /* SVME|LMA|LME|SCE */
	uint64_t plain = 0xd01;

	svm(&b, 0, 0, 0);
	cr_assert_eq(parse(&b, &efer, &o, NULL), 0);
	cr_assert(o.l1_known);
	cr_assert(o.l1_hypervisor_active);
	cr_assert_not(o.l2_running);

	cr_assert_eq(parse(&b, &plain, &o, NULL), 0);
	cr_assert(o.l1_known);
	cr_assert_not(o.l1_hypervisor_active);
}

Test(nested_state, svm_running_l2)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	svm(&b, KVM_STATE_NESTED_GUEST_MODE | KVM_STATE_NESTED_GIF_SET,
	    0x7000, PG);
	cr_assert_eq(parse(&b, NULL, &o, &err), 0, "%s", err.msg);
	cr_assert(o.l2_running);
	cr_assert(o.l1_known);
	cr_assert(o.l1_hypervisor_active);
	cr_assert_eq(o.vmcb_pa, 0x7000);
}

Test(nested_state, svm_inconsistent_combinations)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	svm(&b, KVM_STATE_NESTED_GUEST_MODE, 0x7000, 0);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "vmcb12"));

	svm(&b, KVM_STATE_NESTED_GUEST_MODE, 0x7000, 2 * PG);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);

	svm(&b, KVM_STATE_NESTED_EVMCS, 0, 0);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
}

Test(nested_state, truncated_blobs)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	vmx(&b, KVM_STATE_NESTED_GUEST_MODE, 0x1000, 0x2000, PG);
	/* Shorter than the header. */
	cr_assert_eq(nested_state_parse(b.bytes, 8, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "header"));
	cr_assert_eq(nested_state_parse(b.bytes, 0, NULL, &o, NULL), -EINVAL);
	cr_assert_eq(nested_state_parse(NULL, 4096, NULL, &o, NULL), -EINVAL);
	/* Header complete, data cut short. */
	cr_assert_eq(nested_state_parse(b.bytes, HDR + PG - 1, NULL, &o, &err),
		     -EINVAL);
	cr_assert_not_null(strstr(err.msg, "only 4223"));
	/* Size field smaller than the header. */
	b.s.size = 64;
	cr_assert_eq(nested_state_parse(b.bytes, sizeof(b), NULL, &o, &err),
		     -EINVAL);
}

Test(nested_state, oversized_blobs)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	/* Size field beyond the buffer. */
	vmx(&b, 0, NO_PA, NO_PA, 0);
	b.s.size = 0xffffffff;
	cr_assert_eq(nested_state_parse(b.bytes, sizeof(b), NULL, &o, &err),
		     -EINVAL);
	/* Data longer than any format defines. */
	vmx(&b, KVM_STATE_NESTED_GUEST_MODE, 0x1000, 0x2000, 3 * PG);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "12288"));
	svm(&b, 0, 0, 3 * PG);
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	/* A caller buffer larger than the blob is fine: size rules. */
	vmx(&b, 0, 0x1000, NO_PA, 0);
	cr_assert_eq(nested_state_parse(b.bytes, sizeof(b), NULL, &o, NULL),
		     0);
	cr_assert_eq(o.size, HDR);
}

Test(nested_state, unknown_format)
{
	struct blob b;
	struct nested_state_facts o;
	struct mvm_err err;

	vmx(&b, 0, NO_PA, NO_PA, 0);
	b.s.format = 7;
	cr_assert_eq(parse(&b, NULL, &o, &err), -EINVAL);
	cr_assert_not_null(strstr(err.msg, "format 7"));
}

Test(nested_state, unaligned_buffer)
{
	struct blob b;
	struct nested_state_facts o;
	uint8_t *raw = malloc(sizeof(b) + 1);

	vmx(&b, KVM_STATE_NESTED_GUEST_MODE, 0x1000, 0x2000, PG);
	memcpy(raw + 1, b.bytes, HDR + PG);
	cr_assert_eq(nested_state_parse(raw + 1, HDR + PG, NULL, &o, NULL), 0);
	cr_assert_eq(o.vmcs12_pa, 0x2000);
	free(raw);
}

Test(nested_state, random_garbage_never_crashes)
{
	struct blob b;
	struct nested_state_facts o;
	uint32_t x = 12345;
	int i;
	size_t j, len;

	for (i = 0; i < 20000; i++) {
		for (j = 0; j < HDR + 8; j++) {
			x = x * 1103515245 + 12345;
			b.bytes[j] = x >> 16;
		}
		/* Keep the size field plausible half the time. */
		if (i & 1)
			b.s.size = HDR + (x % 3) * PG;
		b.s.format = (x >> 8) & 3;
		len = (x >> 4) % sizeof(b);
		(void)nested_state_parse(b.bytes, len, NULL, &o, NULL);
	}
}
