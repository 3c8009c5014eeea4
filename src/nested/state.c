/*
 * Parser of KVM_GET_NESTED_STATE blobs. The blob may come from a snapshot
 * file or a migration stream, so it is treated as hostile: every length is
 * checked before use and combinations KVM would never produce are refused,
 * since KVM_SET_NESTED_STATE would refuse them later anyway.
 */
#include <stddef.h>
#include <string.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"

#define HDR_SIZE sizeof(struct kvm_nested_state)
#define NO_PA ((uint64_t)-1)

/* The fixed layout below is what KVM documents; catch header drift. */
_Static_assert(sizeof(struct kvm_nested_state) == 128, "nested hdr size");
_Static_assert(offsetof(struct kvm_nested_state, hdr) == 8, "hdr offset");

/*
 * The data area after the header has a fixed shape per format (vmcs12 and
 * its shadow for VMX, one vmcb12 for SVM); new fields go into the header
 * padding, so anything longer is not from KVM.
 */
#define VMX_DATA_MAX sizeof(struct kvm_vmx_nested_state_data)
#define SVM_DATA_MAX sizeof(struct kvm_svm_nested_state_data)
#define PAGE_4K 4096u

static int parse_vmx(const struct kvm_nested_state *h,
		     struct nested_state_facts *o, struct mvm_err *err)
{
	o->vmxon_pa = h->hdr.vmx.vmxon_pa;
	o->vmcs12_pa = h->hdr.vmx.vmcs12_pa;
	o->smm_flags = h->hdr.vmx.smm.flags;
	o->vmxon_active = o->vmxon_pa != NO_PA;
	o->vmcs_loaded = o->vmcs12_pa != NO_PA;

	if (o->data_len != 0 && o->data_len != PAGE_4K &&
	    o->data_len != VMX_DATA_MAX)
		return mvm_fail(err, -EINVAL, "nested state: VMX data of %u "
				"bytes is neither 0, 4096 nor 8192",
				o->data_len);
	if (o->guest_mode && !o->vmxon_active)
		return mvm_fail(err, -EINVAL, "nested state: guest mode "
				"without VMXON");
	if (o->vmcs_loaded && !o->vmxon_active)
		return mvm_fail(err, -EINVAL, "nested state: a VMCS is loaded "
				"without VMXON");
	/* An enlightened VMCS travels in the data with no vmcs12 address. */
	if (o->vmcs_loaded && !o->evmcs && o->data_len < PAGE_4K)
		return mvm_fail(err, -EINVAL, "nested state: VMCS at 0x%llx "
				"but no vmcs12 in the data",
				(unsigned long long)o->vmcs12_pa);

	o->l1_hypervisor_active = o->vmxon_active;
	o->l1_known = true;
	return 0;
}

static int parse_svm(const struct kvm_nested_state *h, const uint64_t *efer,
		     struct nested_state_facts *o, struct mvm_err *err)
{
	o->vmcb_pa = h->hdr.svm.vmcb_pa;
	o->vmxon_pa = NO_PA;
	o->vmcs12_pa = NO_PA;

	if (o->data_len != 0 && o->data_len != SVM_DATA_MAX)
		return mvm_fail(err, -EINVAL, "nested state: SVM data of %u "
				"bytes is neither 0 nor 4096", o->data_len);
	if (o->evmcs)
		return mvm_fail(err, -EINVAL, "nested state: enlightened VMCS "
				"flag on SVM state");
	if (o->guest_mode && o->data_len < SVM_DATA_MAX)
		return mvm_fail(err, -EINVAL, "nested state: SVM guest mode "
				"without the vmcb12 save area");

	/*
	 * SVM has no VMXON: L1 turns on EFER.SVME, which lives in the vCPU's
	 * sregs rather than here. Running L2 proves it either way.
	 */
	if (o->guest_mode) {
		o->l1_hypervisor_active = true;
		o->l1_known = true;
	} else if (efer) {
		o->l1_hypervisor_active = *efer & NESTED_EFER_SVME;
		o->l1_known = true;
	}
	return 0;
}

int nested_state_parse(const void *buf, size_t len, const uint64_t *efer,
		       struct nested_state_facts *out, struct mvm_err *err)
{
	struct kvm_nested_state h;
	int r;

	memset(out, 0, sizeof(*out));
	if (!buf || len < HDR_SIZE)
		return mvm_fail(err, -EINVAL, "nested state: %zu bytes, "
				"shorter than the %zu-byte header", len,
				HDR_SIZE);
	/* Copy out: the caller's buffer need not be aligned. */
	memcpy(&h, buf, HDR_SIZE);
	if (h.size < HDR_SIZE)
		return mvm_fail(err, -EINVAL, "nested state: size field %u is "
				"smaller than the header", h.size);
	if (h.size > len)
		return mvm_fail(err, -EINVAL, "nested state: size field says "
				"%u bytes but only %zu are present", h.size,
				len);

	out->flags = h.flags;
	out->size = h.size;
	out->data_len = h.size - HDR_SIZE;
	out->guest_mode = h.flags & KVM_STATE_NESTED_GUEST_MODE;
	out->run_pending = h.flags & KVM_STATE_NESTED_RUN_PENDING;
	out->evmcs = h.flags & KVM_STATE_NESTED_EVMCS;
	out->gif_set = h.flags & KVM_STATE_NESTED_GIF_SET;
	out->l2_running = out->guest_mode;

	if (out->run_pending && !out->guest_mode)
		return mvm_fail(err, -EINVAL, "nested state: run pending "
				"outside guest mode");

	switch (h.format) {
	case KVM_STATE_NESTED_FORMAT_VMX:
		out->format = NESTED_FORMAT_VMX;
		r = parse_vmx(&h, out, err);
		break;
	case KVM_STATE_NESTED_FORMAT_SVM:
		out->format = NESTED_FORMAT_SVM;
		r = parse_svm(&h, efer, out, err);
		break;
	default:
		return mvm_fail(err, -EINVAL, "nested state: unknown format %u",
				h.format);
	}
	return r;
}
