/*
 * The nesting monitor: a timerfd on the VM's loop that re-runs the nesting
 * query every NESTED_MONITOR_MS, so that the query says on stderr when the
 * guest starts or stops being a hypervisor even if nobody asks the API: an
 * operator sees the moments when the policy starts and stops refusing
 * operations. When the VM starts, it also
 * prints the START policy's warning (nested guests without a network).
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
#include "mvm/vm_nested.h"
#include "mvm/policy.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct nested_monitor {
	struct vm *vm;
	int tfd;
	struct loop_watch watch;
	bool watching;
};

static void tick(void *ctx)
{
	struct nested_monitor *m = ctx;
	struct vm_nested_facts f;
	uint64_t n;

	if (read(m->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	/* The query itself logs a change (src/vm/nested_query.c). */
	if (!atomic_load(&m->vm->stopping))
		vm_nested_query(m->vm, &f, NULL);
}

void nested_start_policy(const struct vm_config *cfg,
			 struct policy_verdict *v)
{
	struct policy_facts f = {
		.nested_exposed = cfg->nested,
		.nics = cfg->nr_nets,
	};

	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		f.nics_mac_spoofing += cfg->nets[i].mac_spoofing;
		f.nat |= cfg->nets[i].user;
	}
	policy_check(POLICY_OP_START, &f, v);
}

int vm_nested_monitor_start(struct vm *vm, struct mvm_err *err)
{
	struct itimerspec its = {
		.it_interval = { 0, NESTED_MONITOR_MS * 1000000L },
		.it_value = { 0, NESTED_MONITOR_MS * 1000000L },
	};
	struct nested_monitor *m;
	struct policy_verdict v;
	int ret;

	/* Whoever started the VM hears what will not work (the API logs it). */
	nested_start_policy(&vm->cfg, &v);
	if (v.warning)
		fprintf(stderr, "mvm: %s\n", v.reason);
	if (!vm->cfg.nested)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return mvm_fail(err, -ENOMEM, "out of memory");
	m->vm = vm;
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
