/*
 * What a vCPU stop says about KVM (src/vcpu/stop_text.c): the failed
 * ioctl and its errno by name, an internal-error exit's suberror, the
 * instruction bytes and data words KVM gave, and a failed entry's
 * hardware reason decoded for VMX and SVM; and no read past KVM's arrays
 * whatever counts the shared page holds, no write past the buffer.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mvm/vcpu.h"

static struct kvm_run run;

static void reset(void)
{
	memset(&run, 0, sizeof(run));
}

Test(stop_text, kvm_run_eio_names_ioctl_and_dead_vm)
{
	char buf[256];

	vcpu_text_ioctl("KVM_RUN", EIO, buf, sizeof(buf));
	cr_assert(strstr(buf, "KVM_RUN failed: Input/output error (EIO)"),
		  "%s", buf);
	cr_assert(strstr(buf, "killed the VM"), "%s", buf);
	vcpu_text_ioctl("KVM_RUN", EFAULT, buf, sizeof(buf));
	cr_assert_str_eq(buf, "KVM_RUN failed: Bad address (EFAULT)");
	vcpu_text_ioctl("KVM_RUN", 200, buf, sizeof(buf));
	cr_assert(strstr(buf, "(errno 200)"), "%s", buf);
}

Test(stop_text, internal_error_data_words)
{
	char buf[512];

	reset();
	run.internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
	run.internal.ndata = 3;
	run.internal.data[0] = 0x80000b0e;
	run.internal.data[1] = 0x31;
	run.internal.data[2] = 0x12345678;
	vcpu_text_internal_error(&run, buf, sizeof(buf));
	cr_assert_str_eq(buf, "KVM event delivery failure (suberror 3), data "
			 "0x80000b0e 0x31 0x12345678");
}

Test(stop_text, emulation_failure_instruction_bytes)
{
	char buf[512];

	reset();
	run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run.emulation_failure.ndata = 4;
	run.emulation_failure.flags =
		KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run.emulation_failure.insn_size = 3;
	run.emulation_failure.insn_bytes[0] = 0xf3;
	run.emulation_failure.insn_bytes[1] = 0x0f;
	run.emulation_failure.insn_bytes[2] = 0xc7;
	run.internal.data[3] = 0xabc;
	vcpu_text_internal_error(&run, buf, sizeof(buf));
	cr_assert_str_eq(buf, "KVM emulation failure (suberror 1), "
			 "instruction f3 0f c7, data 0xabc");
}

/* Counts from KVM's side of the page are bounded by the arrays. */
Test(stop_text, hostile_counts_stay_in_bounds)
{
	char buf[2048];

	reset();
	run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run.emulation_failure.ndata = 0xffffffff;
	run.emulation_failure.flags = ~0ull;
	run.emulation_failure.insn_size = 0xff;
	memset(run.emulation_failure.insn_bytes, 0x90, 15);
	vcpu_text_internal_error(&run, buf, sizeof(buf));
	cr_assert(strstr(buf, "ndata 4294967295 (over 16: first 16 shown)"),
		  "%s", buf);
	/* 15 instruction bytes at most, then data[3..15]: 13 words. */
	cr_assert(strstr(buf, "instruction 90 90 90 90 90 90 90 90 90 90 90 "
			      "90 90 90 90, data"), "%s", buf);
	size_t words = 0;
	for (const char *p = strstr(buf, ", data"); (p = strstr(p, " 0"));
	     p++)
		words++;
	cr_assert_eq(words, 13, "%s", buf);
}

Test(stop_text, small_buffers_are_cut_not_overrun)
{
	char buf[24];

	memset(buf, 'x', sizeof(buf));
	reset();
	run.internal.suberror = KVM_INTERNAL_ERROR_SIMUL_EX;
	run.internal.ndata = 16;
	vcpu_text_internal_error(&run, buf, 16);
	cr_assert_eq(strlen(buf), 15);
	cr_assert_eq(buf[16], 'x', "wrote past the size given");
	vcpu_text_fail_entry(&run, buf, 1);
	cr_assert_str_eq(buf, "");
	vcpu_text_ioctl("KVM_RUN", EIO, buf, 0);
	cr_assert_eq(buf[0], '\0', "size 0 must write nothing");
}

Test(stop_text, fail_entry_vmx_invalid_guest_state)
{
	char buf[256];

	reset();
	run.fail_entry.hardware_entry_failure_reason = 0x80000021;
	run.fail_entry.cpu = 1;
	vcpu_text_fail_entry(&run, buf, sizeof(buf));
	cr_assert_str_eq(buf, "VM entry failed: hardware reason 0x80000021 "
			 "(VMX exit reason 33 with entry failure: invalid "
			 "guest state) on host CPU 1");
}

Test(stop_text, fail_entry_vmx_instruction_error_and_svm)
{
	char buf[256];

	reset();
	run.fail_entry.hardware_entry_failure_reason = 7;
	vcpu_text_fail_entry(&run, buf, sizeof(buf));
	cr_assert(strstr(buf, "(VMX VM-instruction error 7: invalid control "
			      "field(s)) on host CPU 0"), "%s", buf);
	run.fail_entry.hardware_entry_failure_reason = ~0ull;
	vcpu_text_fail_entry(&run, buf, sizeof(buf));
	cr_assert(strstr(buf, "SVM VMEXIT_INVALID"), "%s", buf);
	run.fail_entry.hardware_entry_failure_reason = 0x1234;
	vcpu_text_fail_entry(&run, buf, sizeof(buf));
	cr_assert_str_eq(buf, "VM entry failed: hardware reason 0x1234 on "
			 "host CPU 0");
}
