/*
 * KVM's supported CPUID set (cpuid_async.c), which a VM's vCPUs and CPU
 * template start from, asked on a short-lived thread while the VM is built.
 */
#ifndef MVM_VM_CPUID_ASYNC_H
#define MVM_VM_CPUID_ASYNC_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

struct mvm_err;

struct cpuid_async {
	pthread_t thread;
	bool running;          /* the thread was started: join it */
	int kvm_fd;
	struct kvm_cpuid2 *set; /* its buffer, made before it starts */
	int ret;               /* its ioctl's: 0 or -errno */
};

/* The supported set, the buffer grown as KVM asks (*out is replaced). */
int vm_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out,
		       struct mvm_err *err);

/*
 * Start asking for it. Nothing is reported here: a thread that could not
 * start, or a set that did not fit the first buffer, is asked again by the
 * join, in the caller's thread.
 */
void cpuid_async_start(struct cpuid_async *a, int kvm_fd);

/*
 * Wait for the thread (always, once cpuid_async_start was called), then
 * hand the set to *out, asked again here if the thread had none. With
 * want false (the VM's build failed already) the set is only dropped.
 */
int cpuid_async_join(struct cpuid_async *a, bool want,
		     struct kvm_cpuid2 **out, struct mvm_err *err);

#endif
