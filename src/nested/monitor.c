/*
 * The nesting monitor: a timerfd on the VM's loop that re-runs the nesting
 * query every NESTED_MONITOR_MS and says on stderr when the guest starts
 * or stops being a hypervisor, so an operator sees the moments when the
 * policy starts and stops refusing operations. When the VM starts, it also
 * prints the START policy's warning (nested guests without a network).
 *
 * It also carries the state round-trip test hook: with
 * MVM_TEST_STATE_ROUNDTRIP=N in the environment, N ticks (once the guest
 * runs a hypervisor, when nesting is exposed) save every vCPU's state,
 * pass it through the blob and restore it in place, and print one line
 * per vCPU. Tests use it to show that state saved with a nested guest
 * running restores into a guest that keeps running. It is a test aid,
 * not a snapshot: devices and memory are not part of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	bool l1_logged; /* the L1 state stderr last heard about */
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

static void roundtrip_all(struct nested_monitor *m)
{
	struct vm *vm = m->vm;
	/* Parked vCPUs cannot send each other IPIs that a restore would drop. */
	bool pause = !vm->paused;

	if (pause && vm_pause(vm))
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct roundtrip_call c = { .err = { "" } };

		if (vcpu_run_on(vm->vcpus[i], roundtrip_on_vcpu, &c))
			continue;
		if (c.ret)
			fprintf(stderr, "mvm: test: vcpu %u state round trip "
				"failed: %s%s", i, c.err.msg, m->eol);
		else
			fprintf(stderr, "mvm: test: %s%s", c.res.msg, m->eol);
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
	if (f.exposed && f.l1_hypervisor_active != m->l1_logged) {
		m->l1_logged = f.l1_hypervisor_active;
		if (f.l1_hypervisor_active)
			fprintf(stderr, "mvm: nested: L1 hypervisor active "
				"(%s)%s", f.mechanism ? f.mechanism : "?",
				m->eol);
		else
			fprintf(stderr, "mvm: nested: L1 hypervisor "
				"inactive%s", m->eol);
	}
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
