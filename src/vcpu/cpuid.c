/*
 * Per-vCPU CPUID: KVM's supported set, with a coherent topology (one
 * package; one thread per core, or two with SMT; APIC ID = vCPU index, so
 * vCPUs 2n and 2n+1 are a core's threads with SMT) and the hypervisor
 * bit. Guests size their per-CPU structures from these leaves, so they must
 * agree with the MADT (which lists APIC IDs 0..n-1 either way).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vcpu.h"

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)

struct topo {
	unsigned id;          /* APIC ID of this vCPU */
	unsigned nr;          /* vCPUs in the package */
	unsigned threads;     /* threads a core: 1, or 2 with SMT */
	unsigned thread_bits; /* APIC ID bits that number a core's threads */
	unsigned pkg_bits;    /* APIC ID bits that number the package's CPUs */
};

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

/*
 * A lone vCPU has no sibling: with SMT asked and one vCPU (Firecracker
 * allows it) the guest sees one thread, as it would see any other way.
 */
static void topo_init(struct topo *t, unsigned id, unsigned nr, bool smt)
{
	t->id = id;
	t->nr = nr;
	t->threads = smt && nr > 1 ? 2 : 1;
	t->thread_bits = bits_for(t->threads);
	t->pkg_bits = t->thread_bits + bits_for((nr + t->threads - 1) /
						t->threads);
}

/* Leaves 0xB and 0x1F: level 0 is SMT, level 1 the cores. */
static void fix_ext_topology(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	e->edx = t->id;
	switch (e->index) {
	case 0:
		e->eax = t->thread_bits;
		e->ebx = t->threads;
		e->ecx = (1u << 8) | 0;
		break;
	case 1:
		e->eax = t->pkg_bits;
		e->ebx = t->nr;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

/* Intel's cache leaf: cores a package, and which CPUs share each cache. */
static void fix_cache_leaf(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	unsigned level = (e->eax >> 5) & 7;
	unsigned cores_bits = t->pkg_bits - t->thread_bits;

	e->eax &= 0x3fff;
	e->eax |= ((1u << cores_bits) - 1) << 26;
	if (level == 3)
		e->eax |= ((1u << t->pkg_bits) - 1) << 14;
	else if (level)
		e->eax |= ((1u << t->thread_bits) - 1) << 14;
}

static void fix_entry(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	switch (e->function) {
	case 0x1:
		e->ebx = (e->ebx & 0xffff) | (t->id << 24) |
			 ((1u << t->pkg_bits) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (t->nr > 1)
			e->edx |= CPUID_1_EDX_HTT;
		else
			e->edx &= ~CPUID_1_EDX_HTT;
		break;
	case 0x4:
		fix_cache_leaf(e, t);
		break;
	case 0xb:
	case 0x1f:
		fix_ext_topology(e, t);
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~0xf0ffu) | (t->pkg_bits << 12) |
			 (t->nr - 1);
		break;
	case 0x8000001e:
		/* Extended APIC ID; compute unit (core) id, threads - 1. */
		e->eax = t->id;
		e->ebx = ((t->threads - 1) << 8) |
			 ((t->id >> t->thread_bits) & 0xff);
		e->ecx = 0; /* node 0 */
		break;
	default:
		break;
	}
}

enum host_vendor vcpu_cpuid_vendor(const struct kvm_cpuid2 *c)
{
	const struct kvm_cpuid_entry2 *e = nested_cpuid_find(c, 0, 0);
	char id[13] = "";

	if (e) {
		memcpy(id, &e->ebx, 4);
		memcpy(id + 4, &e->edx, 4);
		memcpy(id + 8, &e->ecx, 4);
	}
	return host_vendor_from_id(id);
}

/* Intel guests booted without firmware find IA32_FEATURE_CONTROL unlocked
 * and VMXON would fault: mvm plays firmware and locks it with VMX on. */
static int set_feature_control(struct vcpu *v, enum host_vendor vendor,
			       struct mvm_err *err)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msrs = { .hdr.nmsrs = 1 };
	uint64_t val = nested_feature_control_value(vendor, v->ctx->nested);

	if (!val)
		return 0;
	msrs.e.index = NESTED_MSR_IA32_FEATURE_CONTROL;
	msrs.e.data = val;
	if (ioctl(v->fd, KVM_SET_MSRS, &msrs) != 1)
		return mvm_fail(err, -EIO, "vcpu %u: cannot set "
				"IA32_FEATURE_CONTROL for nested VMX", v->id);
	return 0;
}

/*
 * KVM emulates the LAPIC's TSC-deadline mode in its in-kernel LAPIC, but
 * KVM_GET_SUPPORTED_CPUID does not list it (it depends on that LAPIC):
 * the VMM says so, as QEMU and Firecracker do. Without it Linux times its
 * LAPIC against the PIT at boot (100 ms of PIT ticks, each a VM exit) and
 * then re-arms the LAPIC timer by count; with it the calibration is
 * skipped and each timer event is one MSR write.
 */
static void add_tsc_deadline(struct kvm_cpuid2 *c, int kvm_fd)
{
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) <= 0)
		return;
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= CPUID_1_ECX_TSC_DEADLINE;
}

/*
 * KVM may report only some sub-leaves of 0xB (here: just level 0), so the
 * topology leaf is rewritten whole: SMT level, core level, terminator.
 * The table was allocated with room for the extra entries.
 */
static void rebuild_leaf_0xb(struct kvm_cpuid2 *c, const struct topo *t)
{
	const struct kvm_cpuid_entry2 *leaf0 = nested_cpuid_find(c, 0, 0);
	unsigned out = 0;

	if (!leaf0 || leaf0->eax < 0xb)
		return;
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function != 0xb)
			c->entries[out++] = c->entries[i];
	for (unsigned sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e = &c->entries[out++];

		memset(e, 0, sizeof(*e));
		e->function = 0xb;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		fix_ext_topology(e, t);
	}
	c->nent = out;
}

int vcpu_set_cpuid(struct vcpu *v, struct mvm_err *err)
{
	const struct kvm_cpuid2 *sup = v->ctx->supported_cpuid;
	struct topo t;
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	/* Three spare entries for rebuild_leaf_0xb(). */
	struct kvm_cpuid2 *c = malloc(sz + 3 * sizeof(sup->entries[0]));
	enum host_vendor vendor;
	int ret = 0;

	if (!c)
		return mvm_fail(err, -ENOMEM, "out of memory");
	memcpy(c, sup, sz);
	topo_init(&t, v->id, v->ctx->nr_cpus, v->ctx->smt);
	for (unsigned i = 0; i < c->nent; i++)
		fix_entry(&c->entries[i], &t);
	rebuild_leaf_0xb(c, &t);
	add_tsc_deadline(c, v->ctx->kvm_fd);
	vendor = vcpu_cpuid_vendor(sup);
	ret = nested_cpuid_shape(c, sup, vendor, v->ctx->nested, err);
	/* The template last: what it fixes, it fixes over mvm's choices. */
	if (!ret && v->ctx->tmpl)
		ret = cpu_template_apply_cpuid(v->ctx->tmpl, c, err);
	if (ret)
		goto out;
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		ret = mvm_fail(err, -errno, "vcpu %u: KVM_SET_CPUID2: %s",
			       v->id, strerror(errno));
		goto out;
	}
	/* Order matters: the MSR is only writable once CPUID shows VMX. */
	ret = set_feature_control(v, vendor, err);
	if (!ret && v->ctx->tmpl)
		ret = cpu_template_set_msrs(v->ctx->tmpl, v->fd, v->id, err);
out:
	free(c);
	return ret;
}
