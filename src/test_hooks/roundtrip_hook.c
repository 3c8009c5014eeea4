/*
 * MVM_TEST_STATE_ROUNDTRIP=N and MVM_TEST_VM_ROUNDTRIP=N
 * (include/mvm/test_hooks.h): a timer on the VM's loop that, N times half
 * a second apart, pauses the whole VM (vm_pause_all) and runs the vCPU
 * state round trip (state_roundtrip.c) on every vCPU, or the round trip
 * of the whole VM's state (vm_roundtrip.c). With nesting exposed it waits
 * until the guest runs a hypervisor, and each vCPU round trip first looks
 * (up to half a second, holding up the loop: a test aid may) for a moment
 * when a vCPU is inside a nested guest, the interesting case.
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
#include "mvm/test_hooks.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "mvm/vm_state.h"
#include "state_roundtrip.h"

#define ROUNDTRIP_ENV "MVM_TEST_STATE_ROUNDTRIP"
#define VM_ROUNDTRIP_ENV "MVM_TEST_VM_ROUNDTRIP"
#define ROUNDTRIP_MAX 100
#define ROUNDTRIP_PERIOD_MS 500
#define ROUNDTRIP_LOOKS 25

struct roundtrip_hook {
	struct vm *vm;
	int tfd;
	struct loop_watch watch;
	unsigned left;    /* vCPU round trips still to do */
	unsigned vm_left; /* whole-VM round trips still to do */
	bool busy; /* a pause runs the loop: a tick then must not nest */
	const char *eol; /* "\r\n" while a raw-mode terminal may be stderr */
};

/* One hook per process: only one VM runs at a time. */
static struct roundtrip_hook *hook;

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
 * let them run 20 ms and look again, up to ROUNDTRIP_LOOKS times. Returns
 * the number of looks taken, with the VM paused (if pause), or -1.
 */
static int pause_and_look(struct vm *vm, bool pause)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);

	for (int look = 1;; look++) {
		struct peek p = { .max = max > 0 ? (size_t)max : 0 };

		if (pause && vm_pause_all(vm, NULL))
			return -1;
		for (unsigned i = 0; p.max && i < vm->nr_vcpus; i++)
			vcpu_run_on(vm->vcpus[i], peek_vcpu, &p);
		if (p.in_l2 || !vm->cfg.nested || !p.max || !pause ||
		    look == ROUNDTRIP_LOOKS)
			return look;
		vm_resume_all(vm, NULL);
		usleep(20000);
	}
}

static void print_result(const struct roundtrip_hook *h, unsigned i,
			 const struct roundtrip_call *c, int looks)
{
	if (c->ret)
		fprintf(stderr, "mvm: test: vcpu %u state round trip failed: "
			"%s%s", i, c->err.msg, h->eol);
	else if (!h->vm->cfg.nested)
		fprintf(stderr, "mvm: test: %s%s", c->res.msg, h->eol);
	else
		fprintf(stderr, "mvm: test: %s [%d look%s for a running L2]%s",
			c->res.msg, looks, looks == 1 ? "" : "s", h->eol);
}

static void roundtrip_all(struct roundtrip_hook *h)
{
	struct vm *vm = h->vm;
	/* Parked vCPUs cannot send each other IPIs that a restore would drop. */
	bool pause = !vm->paused;
	int looks = pause_and_look(vm, pause);

	if (looks < 0)
		return;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct roundtrip_call c = { .err = { .msg = "" } };

		if (!vcpu_run_on(vm->vcpus[i], roundtrip_on_vcpu, &c))
			print_result(h, i, &c, looks);
	}
	if (pause)
		vm_resume_all(vm, NULL);
}

/* The whole VM's state, saved, loaded in place and saved again. */
static void vm_roundtrip(struct roundtrip_hook *h)
{
	struct vm *vm = h->vm;
	struct mvm_err err = { .msg = "" };
	bool pause = !vm->paused;
	char msg[256];

	if (pause && vm_pause_all(vm, &err)) {
		fprintf(stderr, "mvm: test: vm state round trip failed: %s%s",
			err.msg, h->eol);
		return;
	}
	if (vm_state_roundtrip(vm, msg, sizeof(msg), &err))
		fprintf(stderr, "mvm: test: vm state round trip failed: %s%s",
			err.msg, h->eol);
	else
		fprintf(stderr, "mvm: test: %s%s", msg, h->eol);
	if (pause)
		vm_resume_all(vm, NULL);
}

static void tick(void *ctx)
{
	struct roundtrip_hook *h = ctx;
	bool l1_active = false, l2_running;
	uint64_t n;

	if (read(h->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	if ((!h->left && !h->vm_left) || h->busy ||
	    atomic_load(&h->vm->stopping))
		return;
	if (h->vm->cfg.nested)
		vm_nested_facts(h->vm, &l1_active, &l2_running);
	if (h->vm->cfg.nested && !l1_active)
		return;
	h->busy = true;
	if (h->left) {
		h->left--;
		roundtrip_all(h);
	}
	if (h->vm_left) {
		h->vm_left--;
		vm_roundtrip(h);
	}
	h->busy = false;
}

static unsigned wanted(const char *env)
{
	const char *s = getenv(env);
	char *end;
	unsigned long n;

	if (!s || !*s)
		return 0;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n == 0 || n > ROUNDTRIP_MAX) {
		fprintf(stderr, "mvm: test: %s='%s' ignored (want 1 to %d)\n",
			env, s, ROUNDTRIP_MAX);
		return 0;
	}
	return (unsigned)n;
}

int test_hooks_vm_started(struct vm *vm, struct mvm_err *err)
{
	struct itimerspec its = {
		.it_interval = { 0, ROUNDTRIP_PERIOD_MS * 1000000L },
		.it_value = { 0, ROUNDTRIP_PERIOD_MS * 1000000L },
	};
	unsigned n = wanted(ROUNDTRIP_ENV), vm_n = wanted(VM_ROUNDTRIP_ENV);
	struct roundtrip_hook *h;
	int ret;

	if ((!n && !vm_n) || hook)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return mvm_fail(err, -ENOMEM, "out of memory");
	h->vm = vm;
	h->left = n;
	h->vm_left = vm_n;
	h->eol = isatty(STDERR_FILENO) ? "\r\n" : "\n";
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->tfd < 0 || timerfd_settime(h->tfd, 0, &its, NULL) < 0) {
		ret = mvm_fail(err, -errno, "test hook: timerfd: %s",
			       strerror(errno));
		goto fail;
	}
	ret = loop_watch_add(vm->loop, &h->watch, h->tfd, tick, h);
	if (ret) {
		mvm_fail(err, ret, "test hook: cannot watch the timer");
		goto fail;
	}
	hook = h;
	return 0;
fail:
	if (h->tfd >= 0)
		close(h->tfd);
	free(h);
	return ret;
}

void test_hooks_vm_stopping(struct vm *vm)
{
	struct roundtrip_hook *h = hook;

	if (!h || h->vm != vm)
		return;
	loop_watch_cancel(&h->watch);
	close(h->tfd);
	free(h);
	hook = NULL;
}
