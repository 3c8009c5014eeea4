/*
 * Knowing when the guest hosts guests. Each vCPU is asked on its own
 * thread (state ioctls belong there) for three things, any of which may be
 * missing on a given kernel: KVM_GET_NESTED_STATE, EFER/CR4 from
 * KVM_GET_SREGS, and the "guest_mode"/"nested_run" statistics from the
 * vCPU's binary stats file. query_judge.c decides what they mean; here they
 * are gathered and folded into the VM's facts.
 *
 * Only the loop thread queries, so vm->nested needs no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/vm_nested.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct nested_query_vcpu {
	int stats_fd; /* -1: no statistics for this vCPU */
	struct nested_stats_layout lay;
	uint64_t last_nested_run;
	bool last_valid;
};

struct nested_query {
	int state_max;   /* KVM_CAP_NESTED_STATE: the blob size, 0 for none */
	void *state_buf; /* state_max bytes, reused vCPU after vCPU */
	enum host_vendor vendor;
	bool probed;     /* host_supported is known */
	bool host_supported;
	unsigned nr;
	struct nested_query_vcpu v[];
};

/* Open and map a vCPU's stats file; -1 and no layout when KVM has none. */
static int open_stats(struct vcpu *v, struct nested_stats_layout *lay)
{
	unsigned char hdr[sizeof(struct kvm_stats_header)];
	unsigned char *buf;
	size_t need;
	int fd;

	memset(lay, 0, sizeof(*lay));
	fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return -1;
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    nested_stats_prefix_len(hdr, sizeof(hdr), &need, NULL))
		goto none;
	buf = malloc(need);
	if (!buf)
		goto none;
	if (pread(fd, buf, need, 0) != (ssize_t)need ||
	    nested_stats_layout_parse(buf, need, lay, NULL)) {
		free(buf);
		goto none;
	}
	free(buf);
	if (lay->has_guest_mode || lay->has_nested_run)
		return fd;
none:
	memset(lay, 0, sizeof(*lay));
	close(fd);
	return -1;
}

static void now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

int vm_nested_init(struct vm *vm, struct mvm_err *err)
{
	struct nested_query *q;
	int max = 0;

	q = calloc(1, sizeof(*q) + vm->nr_vcpus * sizeof(q->v[0]));
	if (!q)
		return mvm_fail(err, -ENOMEM, "out of memory");
	q->nr = vm->nr_vcpus;
	q->vendor = vcpu_cpuid_vendor(vm->supported_cpuid);
	for (unsigned i = 0; i < q->nr; i++)
		q->v[i].stats_fd = -1;
	if (vm->cfg.nested) {
		/* vm_create refused to get here unless the probe said yes. */
		q->probed = q->host_supported = true;
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			    KVM_CAP_NESTED_STATE);
		if (max >= (int)sizeof(struct kvm_nested_state)) {
			q->state_buf = malloc((size_t)max);
			if (q->state_buf)
				q->state_max = max;
		}
		for (unsigned i = 0; i < q->nr; i++)
			q->v[i].stats_fd = open_stats(vm->vcpus[i],
						      &q->v[i].lay);
	}
	vm->nested.q = q;
	vm->nested.facts = (struct vm_nested_facts){
		.exposed = vm->cfg.nested,
		.host_supported = q->host_supported,
		.mechanism = nested_mechanism_name(q->vendor),
	};
	now(&vm->nested.facts.since);
	return 0;
}

void vm_nested_fini(struct vm *vm)
{
	struct nested_query *q = vm->nested.q;

	if (!q)
		return;
	for (unsigned i = 0; i < q->nr; i++)
		if (q->v[i].stats_fd >= 0)
			close(q->v[i].stats_fd);
	free(q->state_buf);
	free(q);
	vm->nested.q = NULL;
}

struct read_ctx {
	struct nested_query *q;
	struct nested_vcpu_reading r;
	unsigned i;
};

static bool read_u64(int fd, uint64_t off, uint64_t *val)
{
	return pread(fd, val, sizeof(*val), (off_t)off) == sizeof(*val);
}

/* On the vCPU's thread: gather what this kernel offers. */
static void read_vcpu(struct vcpu *v, void *arg)
{
	struct read_ctx *c = arg;
	struct nested_query_vcpu *qv = &c->q->v[c->i];
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) == 0) {
		c->r.have_sregs = true;
		c->r.efer = s.efer;
		c->r.cr4 = s.cr4;
	}
	if (c->q->state_max) {
		struct kvm_nested_state *st = c->q->state_buf;

		memset(st, 0, sizeof(*st));
		st->size = (uint32_t)c->q->state_max;
		if (ioctl(v->fd, KVM_GET_NESTED_STATE, st) == 0 &&
		    nested_state_parse(st, (size_t)c->q->state_max,
				       c->r.have_sregs ? &c->r.efer : NULL,
				       &c->r.state, NULL) == 0)
			c->r.have_state = true;
	}
	if (qv->stats_fd >= 0) {
		uint64_t val;

		if (qv->lay.has_guest_mode &&
		    read_u64(qv->stats_fd, qv->lay.guest_mode_off, &val)) {
			c->r.have_guest_mode = true;
			c->r.guest_mode = val != 0;
		}
		if (qv->lay.has_nested_run &&
		    read_u64(qv->stats_fd, qv->lay.nested_run_off, &val)) {
			c->r.have_nested_run = true;
			c->r.nested_run = val;
		}
	}
}

static void probe_host_once(struct nested_query *q)
{
	struct host_probe p;

	if (q->probed)
		return;
	q->probed = true;
	if (nested_probe_host(&p, NULL) == 0)
		q->host_supported = p.nested_supported;
}

/*
 * Say on stderr that the guest started or stopped being a hypervisor, at
 * the moment a query (the monitor's tick or an API request) first sees it:
 * whoever reads the new state from the API can already read the line.
 */
static void log_l1_change(const struct vm_nested_facts *f)
{
	/* A terminal in raw mode needs its carriage return. */
	const char *eol = isatty(STDERR_FILENO) ? "\r\n" : "\n";

	if (f->l1_hypervisor_active)
		fprintf(stderr, "mvm: nested: L1 hypervisor active (%s)%s",
			f->mechanism ? f->mechanism : "?", eol);
	else
		fprintf(stderr, "mvm: nested: L1 hypervisor inactive%s", eol);
}

int vm_nested_query(struct vm *vm, struct vm_nested_facts *out,
		    struct mvm_err *err)
{
	struct vm_nested_facts *f = &vm->nested.facts;
	struct nested_query *q = vm->nested.q;
	bool l1 = false, l2 = false;

	if (!q) {
		memset(out, 0, sizeof(*out));
		return mvm_fail(err, -ENODEV, "nested: the VM is not built");
	}
	probe_host_once(q);
	f->host_supported = q->host_supported;
	/* Without VMX/SVM in its CPUID the guest cannot host anything. */
	for (unsigned i = 0; f->exposed && i < q->nr && i < vm->nr_vcpus;
	     i++) {
		struct read_ctx c = { .q = q, .i = i };
		struct nested_query_vcpu *qv = &q->v[i];
		bool vl1, vl2;

		/* A vCPU whose thread has ended has nothing to say. */
		if (vcpu_run_on(vm->vcpus[i], read_vcpu, &c))
			continue;
		nested_vcpu_judge(q->vendor, &c.r,
				  qv->last_valid ? &qv->last_nested_run : NULL,
				  &vl1, &vl2);
		if (c.r.have_nested_run) {
			qv->last_nested_run = c.r.nested_run;
			qv->last_valid = true;
		}
		l1 |= vl1;
		l2 |= vl2;
	}
	if (l1 != f->l1_hypervisor_active || l2 != f->l2_running) {
		bool l1_changed = l1 != f->l1_hypervisor_active;

		f->l1_hypervisor_active = l1;
		f->l2_running = l2;
		now(&f->since);
		if (l1_changed)
			log_l1_change(f);
	}
	*out = *f;
	return 0;
}

void vm_nested_facts(struct vm *vm, bool *l1_hypervisor_active,
		     bool *l2_running)
{
	struct vm_nested_facts f;

	*l1_hypervisor_active = *l2_running = false;
	if (!vm || vm_nested_query(vm, &f, NULL))
		return;
	*l1_hypervisor_active = f.l1_hypervisor_active;
	*l2_running = f.l2_running;
}

int nested_facts_unbooted(bool exposed, struct vm_nested_facts *out,
			  struct mvm_err *err)
{
	struct host_probe p;
	int ret;

	memset(out, 0, sizeof(*out));
	out->exposed = exposed;
	ret = nested_probe_host(&p, err);
	if (ret)
		return ret;
	out->host_supported = p.nested_supported;
	out->mechanism = nested_mechanism_name(p.vendor);
	return 0;
}
