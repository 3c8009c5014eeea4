/*
 * The nesting monitor: a timerfd on the VM's loop that re-runs the nesting
 * query every NESTED_MONITOR_MS, so that the query says on stderr when the
 * guest starts or stops being a hypervisor even if nobody asks the API: an
 * operator sees the moments when the policy starts and stops refusing
 * operations. When the VM starts, it also
 * prints the START policy's warning (nested guests without a network).
 *
 * It also carries the state round-trip test hook: with
 * MVM_TEST_STATE_ROUNDTRIP=N in the environment, N ticks (once the guest
 * runs a hypervisor, when nesting is exposed) save every vCPU's state,
 * pass it through the blob and restore it in place, and print one line
 * per vCPU. Tests use it to show that state saved with a nested guest
 * running restores into a guest that keeps running; each round trip first
 * looks (up to half a second, holding up the loop) for a moment when a
 * vCPU is in L2. It is a test aid, not a snapshot: devices and memory are
 * not part of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/nested.h"
#include "mvm/policy.h"
#include "mvm/vcpu.h"
#include "mvm/vcpu_state.h"
#include "mvm/vm.h"

#define ROUNDTRIP_ENV "MVM_TEST_STATE_ROUNDTRIP"
#define ROUNDTRIP_MAX 100

struct nested_monitor {
	struct vm *vm;
	int tfd;
	struct loop_watch watch;
	bool watching;
	unsigned roundtrips_left;
	const char *eol; /* "\r\n" while a raw-mode terminal may be stderr */
};

struct roundtrip_call {
	struct vcpu_state_roundtrip res;
	struct mvm_err err;
	int ret;
};

static void roundtrip_on_vcpu(struct vcpu *v, void *arg)
{
	struct roundtrip_call *c = arg;

	c->ret = vcpu_state_roundtrip(v, &c->res, &c->err);
}

struct peek {
	size_t max;
	bool in_l2;
};

/* On the vCPU's thread: is it running a nested guest at this moment? */
static void peek_vcpu(struct vcpu *v, void *arg)
{
	struct peek *p = arg;
	struct kvm_nested_state *st = calloc(1, p->max);

	if (!st)
		return;
	st->size = (uint32_t)p->max;
	if (ioctl(v->fd, KVM_GET_NESTED_STATE, st) == 0 &&
	    (st->flags & KVM_STATE_NESTED_GUEST_MODE))
		p->in_l2 = true;
	free(st);
}

/*
 * Pause every vCPU and look whether one is in a nested guest; if none is,
 * let them run 20 ms and look again, up to ROUNDTRIP_LOOKS times, so the
 * round trip can catch the interesting case (state saved while L2 runs).
 * Returns the number of looks taken, with the VM paused.
 */
#define ROUNDTRIP_LOOKS 25
static int pause_for_roundtrip(struct vm *vm, bool pause, bool *in_l2)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	int look;

	*in_l2 = false;
	for (look = 1;; look++) {
		struct peek p = { .max = max > 0 ? (size_t)max : 0 };

		if (pause && vm_pause(vm))
			return -1;
		for (unsigned i = 0; p.max && i < vm->nr_vcpus; i++)
			vcpu_run_on(vm->vcpus[i], peek_vcpu, &p);
		*in_l2 = p.in_l2;
		if (p.in_l2 || !vm->cfg.nested || !p.max || !pause ||
		    look == ROUNDTRIP_LOOKS)
			return look;
		vm_resume(vm);
		usleep(20000);
	}
}

static void roundtrip_all(struct nested_monitor *m)
{
	struct vm *vm = m->vm;
	/* Parked vCPUs cannot send each other IPIs that a restore would drop. */
	bool pause = !vm->paused, in_l2;
	int looks = pause_for_roundtrip(vm, pause, &in_l2);

	if (looks < 0)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct roundtrip_call c = { .err = { .msg = "" } };

		if (vcpu_run_on(vm->vcpus[i], roundtrip_on_vcpu, &c))
			continue;
		if (c.ret)
			fprintf(stderr, "mvm: test: vcpu %u state round trip "
				"failed: %s%s", i, c.err.msg, m->eol);
		else if (!vm->cfg.nested)
			fprintf(stderr, "mvm: test: %s%s", c.res.msg, m->eol);
		else
			fprintf(stderr, "mvm: test: %s [%d look%s for a "
				"running L2]%s", c.res.msg, looks,
				looks == 1 ? "" : "s", m->eol);
	}
	if (pause)
		vm_resume(vm);
}

static void tick(void *ctx)
{
	struct nested_monitor *m = ctx;
	struct vm_nested_facts f;
	uint64_t n;

	if (read(m->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if (atomic_load(&m->vm->stopping) ||
	    vm_nested_query(m->vm, &f, NULL))
		return;
	if (m->roundtrips_left && (!f.exposed || f.l1_hypervisor_active)) {
		m->roundtrips_left--;
		roundtrip_all(m);
	}
}

static unsigned roundtrips_wanted(void)
{
	const char *s = getenv(ROUNDTRIP_ENV);
	char *end;
	unsigned long n;

	if (!s || !*s)
		return 0;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n == 0 || n > ROUNDTRIP_MAX) {
		fprintf(stderr, "mvm: test: %s='%s' ignored (want 1 to %d)\n",
			ROUNDTRIP_ENV, s, ROUNDTRIP_MAX);
		return 0;
	}
	return (unsigned)n;
}

void nested_start_policy(const struct vm_config *cfg,
			 struct policy_verdict *v)
{
	struct policy_facts f = {
		.nested_exposed = cfg->nested,
		.nics = cfg->nr_nets,
	};

	for (unsigned i = 0; i < cfg->nr_nets; i++)
		f.nics_mac_spoofing += cfg->nets[i].mac_spoofing;
	policy_check(POLICY_OP_START, &f, v);
}

int vm_nested_monitor_start(struct vm *vm, struct mvm_err *err)
{
	struct itimerspec its = {
		.it_interval = { 0, NESTED_MONITOR_MS * 1000000L },
		.it_value = { 0, NESTED_MONITOR_MS * 1000000L },
	};
	struct nested_monitor *m;
	unsigned trips = roundtrips_wanted();
	struct policy_verdict v;
	int ret;

	/* Whoever started the VM hears what will not work (the API logs it). */
	nested_start_policy(&vm->cfg, &v);
	if (v.warning)
		fprintf(stderr, "mvm: %s\n", v.reason);
	if (!vm->cfg.nested && !trips)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return mvm_fail(err, -ENOMEM, "out of memory");
	m->vm = vm;
	m->roundtrips_left = trips;
	m->eol = isatty(STDERR_FILENO) ? "\r\n" : "\n";
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->tfd < 0) {
		ret = mvm_fail(err, -errno, "nested monitor: timerfd: %s",
			       strerror(errno));
		free(m);
		return ret;
	}
	vm->nested.mon = m;
	if (timerfd_settime(m->tfd, 0, &its, NULL) < 0)
		return mvm_fail(err, -errno, "nested monitor: timerfd: %s",
				strerror(errno));
	ret = loop_watch_add(vm->loop, &m->watch, m->tfd, tick, m);
	if (ret)
		return mvm_fail(err, ret, "nested monitor: cannot watch the "
				"timer");
	m->watching = true;
	return 0;
}

void vm_nested_monitor_stop(struct vm *vm)
{
	struct nested_monitor *m = vm->nested.mon;

	if (!m)
		return;
	if (m->watching)
		loop_watch_cancel(&m->watch);
	close(m->tfd);
	free(m);
	vm->nested.mon = NULL;
}
