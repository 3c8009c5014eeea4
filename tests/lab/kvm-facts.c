// SPDX-License-Identifier: MIT
/*
 * kvm-facts: print, one NAME=VALUE per line, what /dev/kvm offers: the API
 * version, a few capabilities mvm relies on or tests, and whether the CPUID
 * KVM supports for guests has SVM or VMX (nested virtualisation). Built
 * static so it runs in the lab's initramfs as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CAP(name) { #name, name }

static const struct {
	const char *name;
	int cap;
} caps[] = {
	CAP(KVM_CAP_NESTED_STATE),
	CAP(KVM_CAP_IRQCHIP),
	CAP(KVM_CAP_SPLIT_IRQCHIP),
	CAP(KVM_CAP_X2APIC_API),
	CAP(KVM_CAP_IRQFD),
	CAP(KVM_CAP_IOEVENTFD),
	CAP(KVM_CAP_USER_MEMORY),
	CAP(KVM_CAP_NR_VCPUS),
	CAP(KVM_CAP_MAX_VCPUS),
	CAP(KVM_CAP_IMMEDIATE_EXIT),
	CAP(KVM_CAP_TSC_DEADLINE_TIMER),
	CAP(KVM_CAP_XSAVE),
	CAP(KVM_CAP_XCRS),
	CAP(KVM_CAP_VCPU_EVENTS),
	CAP(KVM_CAP_DEBUGREGS),
	CAP(KVM_CAP_MP_STATE),
	CAP(KVM_CAP_ADJUST_CLOCK),
	CAP(KVM_CAP_DIRTY_LOG_RING),
	CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2),
	CAP(KVM_CAP_EXCEPTION_PAYLOAD),
	CAP(KVM_CAP_X86_USER_SPACE_MSR),
	CAP(KVM_CAP_HLT),
};

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("DEV_KVM=error:%s\n", strerror(errno));
		return 1;
	}
	printf("DEV_KVM=ok\n");
	printf("KVM_API_VERSION=%d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		printf("%s=%d\n", caps[i].name,
		       ioctl(kvm, KVM_CHECK_EXTENSION, caps[i].cap));

	/* The kernel says E2BIG while the array is too small: grow it. */
	struct kvm_cpuid2 *cpuid = NULL;
	int n = 64, r;
	for (;;) {
		cpuid = realloc(cpuid, sizeof(*cpuid) +
				       n * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			return 1;
		cpuid->nent = n;
		r = ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (r == 0 || errno != E2BIG)
			break;
		n *= 2;
	}
	if (r != 0) {
		printf("SUPPORTED_CPUID=error:%s\n", strerror(errno));
		return 1;
	}
	int svm = 0, vmx = 0;
	for (unsigned i = 0; i < cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
		if (e->function == 0x80000001)
			svm = (e->ecx >> 2) & 1;
		if (e->function == 1)
			vmx = (e->ecx >> 5) & 1;
	}
	printf("SUPPORTED_CPUID_SVM=%d\n", svm);
	printf("SUPPORTED_CPUID_VMX=%d\n", vmx);
	free(cpuid);
	close(kvm);
	return 0;
}
