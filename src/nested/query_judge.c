/*
 * The pure half of the nesting query: what one vCPU's readings mean, and
 * where KVM's binary statistics file keeps the nesting counters. No ioctls
 * here, so every branch (including the Intel ones this project's machines
 * cannot run) is unit-tested on made-up readings and files.
 */
#include <stddef.h>
#include <string.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"

const char *nested_mechanism_name(enum host_vendor v)
{
	switch (v) {
	case HOST_VENDOR_INTEL:
		return "vmx";
	case HOST_VENDOR_AMD:
		return "svm";
	default:
		return NULL;
	}
}

void nested_vcpu_judge(enum host_vendor vendor,
		       const struct nested_vcpu_reading *r,
		       const uint64_t *prev_nested_run, bool *l1, bool *l2)
{
	bool in_l2 = false, ran_l2 = false;

	if (r->have_state)
		in_l2 |= r->state.guest_mode;
	if (r->have_guest_mode)
		in_l2 |= r->guest_mode;
	/* A counter that went backwards is a new source, not a run. */
	if (r->have_nested_run && prev_nested_run)
		ran_l2 = r->nested_run > *prev_nested_run;
	*l2 = in_l2 || ran_l2;

	/*
	 * KVM's nested state is the authority where it has an answer: VMXON
	 * is only there. SVM has no VMXON; parse_svm already folded EFER in.
	 * Without it, the control bit L1 must set before it can host: EFER.SVME
	 * (VMRUN faults without it) or CR4.VMXE (VMXON faults without it).
	 */
	if (r->have_state && r->state.l1_known)
		*l1 = r->state.l1_hypervisor_active;
	else if (r->have_sregs && vendor == HOST_VENDOR_AMD)
		*l1 = r->efer & NESTED_EFER_SVME;
	else if (r->have_sregs && vendor == HOST_VENDOR_INTEL)
		*l1 = r->cr4 & NESTED_CR4_VMXE;
	else
		*l1 = false;
	/* A guest that runs guests is a hypervisor, whatever else says. */
	*l1 = *l1 || *l2;
}

/* ---- binary statistics ------------------------------------------------- */

#define HDR_SIZE sizeof(struct kvm_stats_header)
#define DESC_SIZE sizeof(struct kvm_stats_desc)

_Static_assert(sizeof(struct kvm_stats_header) == 24, "stats header size");
_Static_assert(sizeof(struct kvm_stats_desc) == 16, "stats desc size");

/* KVM's names are short; its header says how long each slot is. */
#define NAME_SIZE_MAX 256

static int read_header(const void *buf, size_t len,
		       struct kvm_stats_header *h, size_t *desc_end,
		       struct mvm_err *err)
{
	uint64_t end;

	if (!buf || len < HDR_SIZE)
		return mvm_fail(err, -EINVAL, "stats: %zu bytes, shorter than "
				"the %zu-byte header", len, HDR_SIZE);
	memcpy(h, buf, HDR_SIZE);
	if (h->name_size == 0 || h->name_size > NAME_SIZE_MAX)
		return mvm_fail(err, -EINVAL, "stats: name size %u is out of "
				"range", h->name_size);
	if (h->desc_offset < HDR_SIZE)
		return mvm_fail(err, -EINVAL, "stats: descriptors at %u "
				"overlap the header", h->desc_offset);
	end = (uint64_t)h->desc_offset +
	      (uint64_t)h->num_desc * (DESC_SIZE + h->name_size);
	if (end > NESTED_STATS_PREFIX_MAX)
		return mvm_fail(err, -EINVAL, "stats: %u descriptors need "
				"%llu bytes, more than mvm reads",
				h->num_desc, (unsigned long long)end);
	*desc_end = (size_t)end;
	return 0;
}

int nested_stats_prefix_len(const void *buf, size_t len, size_t *need,
			    struct mvm_err *err)
{
	struct kvm_stats_header h;

	return read_header(buf, len, &h, need, err);
}

int nested_stats_layout_parse(const void *buf, size_t len,
			      struct nested_stats_layout *out,
			      struct mvm_err *err)
{
	const unsigned char *p = buf;
	struct kvm_stats_header h;
	size_t end;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = read_header(buf, len, &h, &end, err);
	if (ret)
		return ret;
	if (end > len)
		return mvm_fail(err, -EINVAL, "stats: descriptors end at %zu "
				"but only %zu bytes are present", end, len);
	for (uint32_t i = 0; i < h.num_desc; i++) {
		size_t at = h.desc_offset + (size_t)i * (DESC_SIZE + h.name_size);
		struct kvm_stats_desc d;
		char name[NAME_SIZE_MAX + 1];
		uint64_t off;

		memcpy(&d, p + at, DESC_SIZE);
		memcpy(name, p + at + DESC_SIZE, h.name_size);
		name[h.name_size] = '\0'; /* KVM pads with NULs; trust none */
		if (strcmp(name, "guest_mode") && strcmp(name, "nested_run"))
			continue;
		/* Both are one 64-bit value; anything else is not ours. */
		if (d.size != 1)
			return mvm_fail(err, -EINVAL, "stats: %s has %u values, "
					"not 1", name, d.size);
		off = (uint64_t)h.data_offset + d.offset;
		if (!strcmp(name, "guest_mode")) {
			out->has_guest_mode = true;
			out->guest_mode_off = off;
		} else {
			out->has_nested_run = true;
			out->nested_run_off = off;
		}
	}
	return 0;
}
