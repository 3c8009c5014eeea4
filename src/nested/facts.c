/*
 * Host probe, fact gathering: the thin layer that reads CPUID, sysfs and
 * /dev/kvm and records what it saw without judging it. Judging happens in
 * probe.c, which tests drive with made-up facts. The sysfs root and the KVM
 * device are parameters so tests can aim this layer at a fake tree.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"

/* KVM reports about 60 leaves today; the loop grows past this if needed. */
#define CPUID_NENT_START 128
#define CPUID_NENT_MAX 4096

static void host_cpuid(struct host_facts *f)
{
	unsigned int a, b, c, d;

	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(f->vendor_id, &b, 4);
		memcpy(f->vendor_id + 4, &d, 4);
		memcpy(f->vendor_id + 8, &c, 4);
		f->vendor_id[12] = '\0';
	}
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		f->host_vmx = c & NESTED_CPUID_VMX_BIT;
		f->host_hypervisor = c & (1u << 31);
	}
	if (__get_cpuid(0x80000001, &a, &b, &c, &d))
		f->host_svm = c & NESTED_CPUID_SVM_BIT;
}

static bool module_present(const char *root, const char *mod)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/module/%s", root, mod);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void read_param(const char *root, const char *mod, const char *name,
		       struct host_param *hp)
{
	char path[512];
	ssize_t n;
	int fd;

	memset(hp, 0, sizeof(*hp));
	snprintf(path, sizeof(path), "%s/module/%s/parameters/%s", root, mod,
		 name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, hp->raw, sizeof(hp->raw) - 1);
	close(fd);
	if (n < 0)
		return;
	hp->raw[n] = '\0';
	hp->raw[strcspn(hp->raw, "\n")] = '\0';
	hp->present = true;
}

static int supported_cpuid(int kvm, struct host_facts *f,
			   struct mvm_err *err)
{
	const struct kvm_cpuid_entry2 *e;
	struct kvm_cpuid2 *c;
	int nent = CPUID_NENT_START;

	for (;;) {
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return mvm_fail(err, -ENOMEM,
					"host probe: out of memory");
		c->nent = nent;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		f->cpuid_errno = errno;
		free(c);
		if (f->cpuid_errno != E2BIG || nent >= CPUID_NENT_MAX)
			return 0;
		nent *= 2;
	}
	f->cpuid_errno = 0;
	e = nested_cpuid_find(c, 1, 0);
	f->sup_vmx = e && (e->ecx & NESTED_CPUID_VMX_BIT);
	e = nested_cpuid_find(c, 0x80000001, 0);
	f->sup_svm = e && (e->ecx & NESTED_CPUID_SVM_BIT);
	free(c);
	return 0;
}

static int probe_kvm(const char *dev, struct host_facts *f,
		     struct mvm_err *err)
{
	int kvm, r;

	kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		f->kvm_open_errno = errno;
		return 0;
	}
	r = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (r < 0) {
		/* Not KVM after all (tests aim this at a plain file). */
		f->kvm_api_errno = errno;
		close(kvm);
		return 0;
	}
	f->kvm_api_version = r;
	/* A failed KVM_CHECK_EXTENSION means "not supported", i.e. 0. */
	r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	f->cap_nested_state = r > 0 ? r : 0;
	r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP);
	f->cap_irqchip = r > 0 ? r : 0;
	r = supported_cpuid(kvm, f, err);
	close(kvm);
	return r;
}

int nested_facts_gather(struct host_facts *f, const char *sysfs_root,
			const char *kvm_dev, struct mvm_err *err)
{
	char path[512];
	struct stat st;

	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), "%s/module", sysfs_root);
	/* Without sysfs no module can be identified: the probe cannot run. */
	if (stat(path, &st) < 0) {
		int e = errno;

		return mvm_fail(err, -e, "host probe: cannot read %s: %s",
				path, strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return mvm_fail(err, -ENOTDIR, "host probe: %s is not a "
				"directory", path);

	host_cpuid(f);
	f->mod_kvm = module_present(sysfs_root, "kvm");
	f->mod_intel = module_present(sysfs_root, "kvm_intel");
	f->mod_amd = module_present(sysfs_root, "kvm_amd");
	f->mod_pvm = module_present(sysfs_root, "kvm_pvm");
	read_param(sysfs_root, "kvm_intel", "nested", &f->intel_nested);
	read_param(sysfs_root, "kvm_intel", "ept", &f->intel_ept);
	read_param(sysfs_root, "kvm_amd", "nested", &f->amd_nested);
	read_param(sysfs_root, "kvm_amd", "npt", &f->amd_npt);
	return probe_kvm(kvm_dev, f, err);
}

int nested_probe_host_at(struct host_probe *p, const char *sysfs_root,
			 const char *kvm_dev, struct mvm_err *err)
{
	struct host_facts f;
	int r;

	r = nested_facts_gather(&f, sysfs_root, kvm_dev, err);
	if (r < 0)
		return r;
	nested_probe_decide(&f, p);
	return 0;
}

int nested_probe_host(struct host_probe *p, struct mvm_err *err)
{
	return nested_probe_host_at(p, "/sys", "/dev/kvm", err);
}
