/*
 * KVM_GET_SUPPORTED_CPUID takes longer than creating the VM itself (KVM
 * executes CPUID for every leaf, which costs a trap on a KVM that runs
 * inside a VM: 0.27 ms against 0.11 ms for KVM_CREATE_VM on the machine
 * of README's "Benchmarks"), and nothing needs its answer until the CPU
 * template is checked and the vCPUs are made. So a short-lived thread asks
 * while the caller creates the VM, its RAM and irqchip and loads the
 * kernel, and is joined before any of those read it: no thread outlives
 * vm_create.
 *
 * The thread makes one ioctl into a buffer made for it: no allocation
 * there (a thread's first malloc would set up an arena of its own), no
 * report (the join asks again, in the caller, on any failure, so errors
 * read as they did).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/err.h"

#include "cpuid_async.h"

#define FIRST_NENT 128
#define MAX_NENT 4096

int vm_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out,
		       struct mvm_err *err)
{
	for (int n = FIRST_NENT; n <= MAX_NENT; n *= 2) {
		free(*out);
		*out = calloc(1, sizeof(**out) +
			      n * sizeof(struct kvm_cpuid_entry2));
		if (!*out)
			return mvm_fail(err, -ENOMEM, "out of memory");
		(*out)->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, *out) == 0)
			return 0;
		if (errno != E2BIG)
			break;
	}
	return mvm_fail_host(err, -errno, "kvm: KVM_GET_SUPPORTED_CPUID: %s",
			     strerror(errno));
}

static void *ask(void *opaque)
{
	struct cpuid_async *a = opaque;

	a->ret = ioctl(a->kvm_fd, KVM_GET_SUPPORTED_CPUID, a->set) < 0 ?
			 -errno : 0;
	return NULL;
}

void cpuid_async_start(struct cpuid_async *a, int kvm_fd)
{
	memset(a, 0, sizeof(*a));
	a->kvm_fd = kvm_fd;
	a->ret = -EAGAIN;
	a->set = calloc(1, sizeof(*a->set) +
			FIRST_NENT * sizeof(struct kvm_cpuid_entry2));
	if (!a->set)
		return;
	a->set->nent = FIRST_NENT;
	a->running = pthread_create(&a->thread, NULL, ask, a) == 0;
}

int cpuid_async_join(struct cpuid_async *a, bool want,
		     struct kvm_cpuid2 **out, struct mvm_err *err)
{
	if (a->running)
		pthread_join(a->thread, NULL);
	a->running = false;
	if (!want || a->ret || !a->set) {
		free(a->set);
		a->set = NULL;
		return want ? vm_supported_cpuid(a->kvm_fd, out, err) : 0;
	}
	free(*out);
	*out = a->set;
	a->set = NULL;
	return 0;
}
