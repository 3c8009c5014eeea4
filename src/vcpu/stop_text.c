/*
 * What a vCPU stop says about KVM: which ioctl failed and how, what an
 * internal-error exit carried, why a VM entry failed. A stop must be
 * diagnosable from its one line, so nothing KVM reported is dropped; and
 * since KVM's counts (ndata, insn_size) come from the kernel's side of a
 * shared page, each is bounded before use.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mvm/vcpu.h"

#define INTERNAL_DATA_MAX 16 /* kvm_run.internal.data[] */
#define INSN_BYTES_MAX 15    /* kvm_run.emulation_failure.insn_bytes[] */
#define VMX_ENTRY_FAILED (1ull << 31)
#define SVM_EXIT_INVALID (~0ull)

/* appendf BUF SIZE: add to what BUF holds, never past SIZE. */
static void appendf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static const char *errno_name(int e)
{
	switch (e) {
	case EIO:
		return "EIO";
	case EFAULT:
		return "EFAULT";
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	case ENOEXEC:
		return "ENOEXEC";
	case ENXIO:
		return "ENXIO";
	case EBUSY:
		return "EBUSY";
	case EPERM:
		return "EPERM";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	default:
		return NULL;
	}
}

void vcpu_text_ioctl(const char *ioctl_name, int err, char *buf, size_t size)
{
	const char *name = errno_name(err);

	if (!size)
		return;
	buf[0] = '\0';
	if (name)
		appendf(buf, size, "%s failed: %s (%s)", ioctl_name,
			strerror(err), name);
	else
		appendf(buf, size, "%s failed: %s (errno %d)", ioctl_name,
			strerror(err), err);
	/* Linux answers every ioctl of a VM its KVM_BUG_ON() killed so. */
	if (err == EIO)
		appendf(buf, size, "; EIO from KVM means KVM found a bug of "
			"its own and killed the VM (see the host's kernel log)");
	else if (err == ENOEXEC)
		appendf(buf, size, "; KVM could not enter the guest (its "
			"state is invalid for this CPU)");
}

static const char *internal_kind(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "emulation failure";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "event delivery failure";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected hardware exit reason";
	default:
		return "internal error";
	}
}

void vcpu_text_internal_error(const struct kvm_run *run, char *buf,
			      size_t size)
{
	uint32_t sub = run->internal.suberror;
	uint32_t n = run->internal.ndata;
	uint32_t first = 0;

	if (!size)
		return;
	buf[0] = '\0';
	appendf(buf, size, "KVM %s (suberror %u)", internal_kind(sub), sub);
	if (n > INTERNAL_DATA_MAX) {
		appendf(buf, size, ", ndata %u (over %u: first %u shown)", n,
			INTERNAL_DATA_MAX, INTERNAL_DATA_MAX);
		n = INTERNAL_DATA_MAX;
	}
	/* An emulation failure may say which instruction KVM could not do:
	 * flags, then a size byte and up to 15 bytes (data[0..2]). */
	if (sub == KVM_INTERNAL_ERROR_EMULATION && n >= 3 &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned len = run->emulation_failure.insn_size;

		if (len > INSN_BYTES_MAX)
			len = INSN_BYTES_MAX;
		appendf(buf, size, ", instruction");
		for (unsigned i = 0; i < len; i++)
			appendf(buf, size, " %02x",
				run->emulation_failure.insn_bytes[i]);
		if (!len)
			appendf(buf, size, " (none fetched)");
		first = 3;
	}
	if (n > first) {
		appendf(buf, size, ", data");
		for (uint32_t i = first; i < n; i++)
			appendf(buf, size, " %#llx",
				(unsigned long long)run->internal.data[i]);
	}
}

/* VMX's VM-instruction error numbers a failed VMLAUNCH/VMRESUME gives. */
static const char *vmx_instruction_error(uint64_t e)
{
	switch (e) {
	case 2:
		return "VMLAUNCH with a non-clear VMCS";
	case 3:
		return "VMRESUME with a non-launched VMCS";
	case 7:
		return "invalid control field(s)";
	case 8:
		return "invalid host-state field(s)";
	case 26:
		return "entry with events blocked by MOV SS";
	default:
		return NULL;
	}
}

/* VMX's basic exit reasons for an entry that failed on the guest's side. */
static const char *vmx_entry_failure(uint64_t basic)
{
	switch (basic) {
	case 33:
		return "invalid guest state";
	case 34:
		return "MSR loading";
	case 41:
		return "machine check";
	default:
		return NULL;
	}
}

void vcpu_text_fail_entry(const struct kvm_run *run, char *buf, size_t size)
{
	uint64_t r = run->fail_entry.hardware_entry_failure_reason;
	const char *what;

	if (!size)
		return;
	buf[0] = '\0';
	appendf(buf, size, "VM entry failed: hardware reason %#llx",
		(unsigned long long)r);
	if (r == SVM_EXIT_INVALID) {
		appendf(buf, size, " (SVM VMEXIT_INVALID: the VMCB's state "
			"is invalid)");
	} else if (r & VMX_ENTRY_FAILED) {
		what = vmx_entry_failure(r & 0xffff);
		appendf(buf, size, " (VMX exit reason %llu with entry "
			"failure: %s)", (unsigned long long)(r & 0xffff),
			what ? what : "unknown");
	} else if ((what = vmx_instruction_error(r))) {
		appendf(buf, size, " (VMX VM-instruction error %llu: %s)",
			(unsigned long long)r, what);
	}
	appendf(buf, size, " on host CPU %u", run->fail_entry.cpu);
}
