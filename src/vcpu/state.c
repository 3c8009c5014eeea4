/*
 * Saving and restoring a vCPU's state through KVM, nested state included.
 * The order (see include/mvm/vcpu_state.h) is the one Firecracker and
 * Cloud Hypervisor use; the comments below say where KVM makes it matter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vcpu.h"
#include "mvm/vcpu_state.h"

#define MSR_IA32_TSC_DEADLINE 0x6e0u

/*
 * The MSRs a guest (and a guest hypervisor) leaves state in. Those KVM
 * does not know on this host are left out at save time; the TSC deadline
 * is restored apart, after the LAPIC (see restore).
 */
static const uint32_t msr_list[] = {
	0x10,                   /* TSC */
	NESTED_MSR_IA32_FEATURE_CONTROL,
	0x48,                   /* SPEC_CTRL */
	0x174, 0x175, 0x176,    /* SYSENTER CS/ESP/EIP */
	0x1a0,                  /* MISC_ENABLE */
	0x277,                  /* PAT */
	0x2ff,                  /* MTRR default type */
	0x250, 0x258, 0x259,    /* fixed MTRRs */
	0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* var MTRRs */
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
	MSR_IA32_TSC_DEADLINE,
	0xc0000080,             /* EFER (also in sregs) */
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, /* STAR .. SFMASK */
	0xc0000102,             /* KERNEL_GS_BASE */
	0xc0000103,             /* TSC_AUX */
	0xc0010117,             /* VM_HSAVE_PA: where SVM L1 keeps host state */
	0x11, 0x12,             /* kvmclock, old numbers */
	0x4b564d00, 0x4b564d01, 0x4b564d02, 0x4b564d03, /* kvmclock, async */
	0x4b564d04, 0x4b564d05, 0x4b564d06, 0x4b564d07, /* PF, steal, EOI */
};
#define NR_MSRS (sizeof(msr_list) / sizeof(msr_list[0]))

static int fail_ioctl(struct vcpu *v, const char *what, struct mvm_err *err)
{
	int e = errno;

	return mvm_fail(err, -e, "vcpu %u state: %s: %s", v->id, what,
			strerror(e));
}

/*
 * An I/O or MMIO exit is complete only once KVM_RUN is entered again
 * (api.rst: before reading state, re-enter with immediate_exit). A string
 * instruction may exit once more; each exit is served as usual.
 */
int vcpu_finish_exit(struct vcpu *v, struct mvm_err *err)
{
	for (int i = 0; i < 4096; i++) {
		int r;

		if (v->run->exit_reason != KVM_EXIT_IO &&
		    v->run->exit_reason != KVM_EXIT_MMIO)
			return 0;
		v->run->immediate_exit = 1;
		r = ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				return 0;
			return fail_ioctl(v, "KVM_RUN (completing an exit)",
					  err);
		}
		if (!vcpu_handle_exit(v))
			return mvm_fail(err, -ESRCH, "vcpu %u state: the vCPU "
					"stopped while completing an exit",
					v->id);
	}
	return mvm_fail(err, -EBUSY, "vcpu %u state: the guest keeps exiting",
			v->id);
}

static int save_cpuid(struct vcpu *v, struct vcpu_state *st,
		      struct mvm_err *err)
{
	st->cpuid = calloc(1, sizeof(*st->cpuid) + VCPU_STATE_MAX_CPUID *
				      sizeof(struct kvm_cpuid_entry2));
	if (!st->cpuid)
		return mvm_fail(err, -ENOMEM, "out of memory");
	st->cpuid->nent = VCPU_STATE_MAX_CPUID;
	if (ioctl(v->fd, KVM_GET_CPUID2, st->cpuid) < 0)
		return fail_ioctl(v, "KVM_GET_CPUID2", err);
	return 0;
}

struct cpuid_call {
	struct vcpu_state st;
	struct mvm_err *err;
	int ret;
};

static void get_cpuid_on(struct vcpu *v, void *arg)
{
	struct cpuid_call *c = arg;

	c->ret = save_cpuid(v, &c->st, c->err);
}

int vcpu_get_cpuid(struct vcpu *v, struct kvm_cpuid2 **out,
		   struct mvm_err *err)
{
	struct cpuid_call c = { .err = err };
	int ret = vcpu_run_on(v, get_cpuid_on, &c);

	if (!ret)
		ret = c.ret;
	if (ret) {
		free(c.st.cpuid);
		*out = NULL;
		return ret == -ESRCH ? mvm_fail(err, ret, "vcpu %u: its "
						"thread has ended", v->id) :
				       ret;
	}
	*out = c.st.cpuid;
	return 0;
}

/* KVM_GET_MSRS stops at the first MSR it does not know: skip it, go on. */
static int save_msrs(struct vcpu *v, struct vcpu_state *st,
		     struct mvm_err *err)
{
	struct kvm_msrs *m;
	size_t pos = 0, kept = 0;

	st->msrs = calloc(1, sizeof(*st->msrs) +
				     NR_MSRS * sizeof(struct kvm_msr_entry));
	m = calloc(1, sizeof(*m) + NR_MSRS * sizeof(struct kvm_msr_entry));
	if (!st->msrs || !m) {
		free(m);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	while (pos < NR_MSRS) {
		int r;

		m->nmsrs = (uint32_t)(NR_MSRS - pos);
		for (size_t i = 0; i < m->nmsrs; i++)
			m->entries[i] = (struct kvm_msr_entry){
				.index = msr_list[pos + i] };
		r = ioctl(v->fd, KVM_GET_MSRS, m);
		if (r < 0) {
			int ret = fail_ioctl(v, "KVM_GET_MSRS", err);

			free(m);
			return ret;
		}
		memcpy(&st->msrs->entries[kept], m->entries,
		       (size_t)r * sizeof(m->entries[0]));
		kept += (size_t)r;
		pos += (size_t)r + 1; /* +1: the one KVM refused */
	}
	st->msrs->nmsrs = (uint32_t)kept;
	free(m);
	return 0;
}

static int save_xsave(struct vcpu *v, struct vcpu_state *st,
		      struct mvm_err *err)
{
	int size;

	if (ioctl(v->ctx->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0)
		return 0;
	/* Larger than 4 KiB with AMX and friends; then XSAVE2 is needed. */
	size = ioctl(v->ctx->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (size < (int)sizeof(struct kvm_xsave))
		size = sizeof(struct kvm_xsave);
	if ((uint32_t)size > VCPU_STATE_MAX_XSAVE)
		return mvm_fail(err, -E2BIG, "vcpu %u state: XSAVE area of %d "
				"bytes", v->id, size);
	st->xsave = calloc(1, (size_t)size);
	if (!st->xsave)
		return mvm_fail(err, -ENOMEM, "out of memory");
	st->xsave_len = (uint32_t)size;
	if (size > (int)sizeof(struct kvm_xsave)) {
		if (ioctl(v->fd, KVM_GET_XSAVE2, st->xsave) < 0)
			return fail_ioctl(v, "KVM_GET_XSAVE2", err);
	} else if (ioctl(v->fd, KVM_GET_XSAVE, st->xsave) < 0) {
		return fail_ioctl(v, "KVM_GET_XSAVE", err);
	}
	return 0;
}

static int save_nested(struct vcpu *v, struct vcpu_state *st,
		       struct mvm_err *err)
{
	int max = ioctl(v->ctx->kvm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_NESTED_STATE);
	struct kvm_nested_state *ns;

	/*
	 * Without VMX/SVM in its CPUID the guest has no nested state, only
	 * KVM's empty header: a snapshot that carried it would look, to a
	 * host that cannot nest, like one it cannot restore.
	 */
	if (!v->ctx->nested || max < (int)sizeof(*ns))
		return 0;
	if ((uint32_t)max > VCPU_STATE_MAX_NESTED)
		return mvm_fail(err, -E2BIG, "vcpu %u state: nested state of "
				"%d bytes", v->id, max);
	ns = calloc(1, (size_t)max);
	if (!ns)
		return mvm_fail(err, -ENOMEM, "out of memory");
	ns->size = (uint32_t)max;
	if (ioctl(v->fd, KVM_GET_NESTED_STATE, ns) < 0) {
		int ret = fail_ioctl(v, "KVM_GET_NESTED_STATE", err);

		free(ns);
		return ret;
	}
	if (ns->size < sizeof(*ns) || ns->size > (uint32_t)max) {
		uint32_t got = ns->size;

		free(ns);
		return mvm_fail(err, -EIO, "vcpu %u state: KVM returned a "
				"nested state of %u bytes", v->id, got);
	}
	st->nested = ns;
	st->nested_len = ns->size;
	return 0;
}

static bool cap(struct vcpu *v, long c)
{
	return ioctl(v->ctx->kvm_fd, KVM_CHECK_EXTENSION, c) > 0;
}

int vcpu_state_save(struct vcpu *v, struct vcpu_state *st,
		    struct mvm_err *err)
{
	int ret;

	memset(st, 0, sizeof(*st));
	ret = vcpu_finish_exit(v, err);
	if (!ret)
		ret = save_cpuid(v, st, err);
	if (!ret && ioctl(v->fd, KVM_GET_SREGS, &st->sregs) < 0)
		ret = fail_ioctl(v, "KVM_GET_SREGS", err);
	if (!ret)
		ret = save_msrs(v, st, err);
	if (!ret && ioctl(v->fd, KVM_GET_REGS, &st->regs) < 0)
		ret = fail_ioctl(v, "KVM_GET_REGS", err);
	if (!ret) {
		st->have_fpu = ioctl(v->fd, KVM_GET_FPU, &st->fpu) == 0;
		ret = save_xsave(v, st, err);
	}
	if (!ret && cap(v, KVM_CAP_XCRS)) {
		if (ioctl(v->fd, KVM_GET_XCRS, &st->xcrs) < 0)
			ret = fail_ioctl(v, "KVM_GET_XCRS", err);
		st->have_xcrs = !ret;
	}
	if (!ret && ioctl(v->fd, KVM_GET_LAPIC, &st->lapic) < 0)
		ret = fail_ioctl(v, "KVM_GET_LAPIC", err);
	if (!ret && ioctl(v->fd, KVM_GET_VCPU_EVENTS, &st->events) < 0)
		ret = fail_ioctl(v, "KVM_GET_VCPU_EVENTS", err);
	if (!ret && ioctl(v->fd, KVM_GET_MP_STATE, &st->mp_state) < 0)
		ret = fail_ioctl(v, "KVM_GET_MP_STATE", err);
	if (!ret && cap(v, KVM_CAP_DEBUGREGS)) {
		if (ioctl(v->fd, KVM_GET_DEBUGREGS, &st->debugregs) < 0)
			ret = fail_ioctl(v, "KVM_GET_DEBUGREGS", err);
		st->have_debugregs = !ret;
	}
	/* Last, so it describes the same instant as everything above. */
	if (!ret)
		ret = save_nested(v, st, err);
	if (!ret && !st->have_fpu && !st->xsave)
		ret = fail_ioctl(v, "KVM_GET_FPU", err);
	if (ret)
		vcpu_state_free(st);
	return ret;
}

/* Set every MSR but the TSC deadline, or (deadline_only) only it. */
static int restore_msrs(struct vcpu *v, const struct kvm_msrs *src,
			bool deadline_only, struct mvm_err *err)
{
	struct kvm_msrs *m;
	uint32_t n = 0;
	int r;

	m = calloc(1, sizeof(*m) + src->nmsrs * sizeof(src->entries[0]));
	if (!m)
		return mvm_fail(err, -ENOMEM, "out of memory");
	for (uint32_t i = 0; i < src->nmsrs; i++)
		if ((src->entries[i].index == MSR_IA32_TSC_DEADLINE) ==
		    deadline_only)
			m->entries[n++] = src->entries[i];
	m->nmsrs = n;
	r = n ? ioctl(v->fd, KVM_SET_MSRS, m) : 0;
	if (r < 0) {
		int ret = fail_ioctl(v, "KVM_SET_MSRS", err);

		free(m);
		return ret;
	}
	if ((uint32_t)r != n) {
		uint32_t idx = m->entries[r].index;

		free(m);
		return mvm_fail(err, -EINVAL, "vcpu %u state: KVM_SET_MSRS "
				"refused MSR 0x%x", v->id, idx);
	}
	free(m);
	return 0;
}

static int restore_xsave(struct vcpu *v, const struct vcpu_state *st,
			 struct mvm_err *err)
{
	int size;

	if (!st->xsave)
		return 0;
	size = ioctl(v->ctx->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (size < (int)sizeof(struct kvm_xsave))
		size = sizeof(struct kvm_xsave);
	/* KVM reads exactly its own size: a different one is another CPU. */
	if ((uint32_t)size != st->xsave_len)
		return mvm_fail(err, -EINVAL, "vcpu %u state: XSAVE area of %u "
				"bytes, this host's KVM uses %d", v->id,
				st->xsave_len, size);
	if (ioctl(v->fd, KVM_SET_XSAVE, st->xsave) < 0)
		return fail_ioctl(v, "KVM_SET_XSAVE", err);
	return 0;
}

static bool same_entry(const struct kvm_cpuid_entry2 *a,
		       const struct kvm_cpuid_entry2 *b)
{
	return a->function == b->function && a->index == b->index &&
	       a->flags == b->flags && a->eax == b->eax && a->ebx == b->ebx &&
	       a->ecx == b->ecx && a->edx == b->edx;
}

/*
 * KVM lets a vCPU that has run only "change" its CPUID to the same table,
 * and its check recomputes the bits that follow CR4 (OSXSAVE) from the
 * current CR4, which is L2's while L2 runs: the identical table is then
 * refused. A vCPU that already has the table needs no call.
 */
static int restore_cpuid(struct vcpu *v, const struct vcpu_state *st,
			 struct mvm_err *err)
{
	struct kvm_cpuid2 *cur;
	bool same;

	cur = calloc(1, sizeof(*cur) + VCPU_STATE_MAX_CPUID *
					     sizeof(struct kvm_cpuid_entry2));
	if (!cur)
		return mvm_fail(err, -ENOMEM, "out of memory");
	cur->nent = VCPU_STATE_MAX_CPUID;
	same = ioctl(v->fd, KVM_GET_CPUID2, cur) == 0 &&
	       cur->nent == st->cpuid->nent;
	for (uint32_t i = 0; same && i < cur->nent; i++)
		same = same_entry(&cur->entries[i], &st->cpuid->entries[i]);
	free(cur);
	if (same)
		return 0;
	if (ioctl(v->fd, KVM_SET_CPUID2, st->cpuid) < 0)
		return fail_ioctl(v, "KVM_SET_CPUID2 (KVM refuses a different "
				  "CPUID once a vCPU has run)", err);
	return 0;
}

static int restore_nested(struct vcpu *v, const struct vcpu_state *st,
			  struct mvm_err *err)
{
	int max;

	if (!st->nested)
		return 0;
	max = ioctl(v->ctx->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	if (max <= 0)
		return mvm_fail(err, -EOPNOTSUPP, "vcpu %u state: the state "
				"has nested state, but this host's KVM cannot "
				"restore it (KVM_CAP_NESTED_STATE is 0)",
				v->id);
	if (st->nested_len > (uint32_t)max)
		return mvm_fail(err, -EINVAL, "vcpu %u state: nested state of "
				"%u bytes, this host's KVM takes %d", v->id,
				st->nested_len, max);
	if (ioctl(v->fd, KVM_SET_NESTED_STATE, st->nested) < 0)
		return fail_ioctl(v, "KVM_SET_NESTED_STATE", err);
	return 0;
}

int vcpu_state_restore(struct vcpu *v, const struct vcpu_state *st,
		       struct mvm_err *err)
{
	struct kvm_vcpu_events ev = st->events;
	int ret;

	if (!st->cpuid || !st->msrs)
		return mvm_fail(err, -EINVAL, "vcpu %u state: incomplete",
				v->id);
	/* A pending exit would land on top of the restored registers. */
	ret = vcpu_finish_exit(v, err);
	/* CPUID first: which MSRs and sregs bits are legal depends on it. */
	if (!ret)
		ret = restore_cpuid(v, st, err);
	/* EFER (SVME) and CR4 (VMXE) before anything that checks them. */
	if (!ret && ioctl(v->fd, KVM_SET_SREGS, &st->sregs) < 0)
		ret = fail_ioctl(v, "KVM_SET_SREGS", err);
	if (!ret)
		ret = restore_msrs(v, st->msrs, false, err);
	if (!ret && ioctl(v->fd, KVM_SET_REGS, &st->regs) < 0)
		ret = fail_ioctl(v, "KVM_SET_REGS", err);
	if (!ret && st->have_fpu && ioctl(v->fd, KVM_SET_FPU, &st->fpu) < 0)
		ret = fail_ioctl(v, "KVM_SET_FPU", err);
	/* XSAVE after FPU: it holds the same registers and more. */
	if (!ret)
		ret = restore_xsave(v, st, err);
	if (!ret && st->have_xcrs && ioctl(v->fd, KVM_SET_XCRS, &st->xcrs) < 0)
		ret = fail_ioctl(v, "KVM_SET_XCRS", err);
	if (!ret && ioctl(v->fd, KVM_SET_LAPIC, &st->lapic) < 0)
		ret = fail_ioctl(v, "KVM_SET_LAPIC", err);
	/* Writing the LAPIC stops its timer: re-arm the deadline after it. */
	if (!ret)
		ret = restore_msrs(v, st->msrs, true, err);
	/* Pending NMIs and the SIPI vector are state too. */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
		    KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (!ret && ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		ret = fail_ioctl(v, "KVM_SET_VCPU_EVENTS", err);
	if (!ret && ioctl(v->fd, KVM_SET_MP_STATE, &st->mp_state) < 0)
		ret = fail_ioctl(v, "KVM_SET_MP_STATE", err);
	if (!ret && st->have_debugregs &&
	    ioctl(v->fd, KVM_SET_DEBUGREGS, &st->debugregs) < 0)
		ret = fail_ioctl(v, "KVM_SET_DEBUGREGS", err);
	/* Last: KVM validates it against everything set above. */
	if (!ret)
		ret = restore_nested(v, st, err);
	return ret;
}

int vcpu_kvmclock_stopped(struct vcpu *v, struct mvm_err *err)
{
	if (ioctl(v->fd, KVM_KVMCLOCK_CTRL, 0) == 0 || errno == EINVAL)
		return 0;
	atomic_fetch_add_explicit(&v->counts.kvmclock_ctrl_fails, 1,
				  memory_order_relaxed);
	return fail_ioctl(v, "KVM_KVMCLOCK_CTRL", err);
}
