/*
 * vCPU threads. Each loops on KVM_RUN; a kick (VCPU_KICK_SIGNAL plus
 * run->immediate_exit) brings it out so it can notice requests. The kick
 * signal is blocked everywhere except inside KVM_RUN's sigmask window, so a
 * kick can never be lost between the check and the ioctl.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/sandbox.h"
#include "mvm/vcpu_state.h"
#include "mvm/vcpu.h"

static void kick_handler(int sig)
{
	(void)sig; /* Its only job is to interrupt KVM_RUN with EINTR. */
}

int vcpu_signals_init(struct mvm_err *err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return mvm_fail(err, -errno, "sigaction: %s", strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	/* Blocked by default; vCPUs unblock it only during KVM_RUN. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return 0;
}

int vcpu_create(struct vcpu_ctx *ctx, unsigned id, struct vcpu **out,
		struct mvm_err *err)
{
	struct vcpu *v = calloc(1, sizeof(*v));
	void *run;

	*out = NULL;
	if (!v)
		return mvm_fail(err, -ENOMEM, "out of memory");
	v->ctx = ctx;
	v->id = id;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->fd = ioctl(ctx->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		int e = errno;
		free(v);
		return mvm_fail_host(err, -e, "vcpu %u: KVM_CREATE_VCPU: %s",
				     id, strerror(e));
	}
	run = mmap(NULL, (size_t)ctx->vcpu_mmap_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		int e = errno;
		close(v->fd);
		free(v);
		return mvm_fail_host(err, -e, "vcpu %u: mmap kvm_run: %s", id,
				     strerror(e));
	}
	v->run = run;
	*out = v;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	munmap(v->run, (size_t)v->ctx->vcpu_mmap_size);
	close(v->fd);
	pthread_mutex_destroy(&v->lock);
	pthread_cond_destroy(&v->cond);
	free(v);
}

static bool should_exit(struct vcpu *v)
{
	return atomic_load(&v->exit_thread) || atomic_load(v->ctx->stopping);
}

/*
 * Before parking: KVM completes a port or MMIO instruction only on the
 * next KVM_RUN, and a string instruction may exit to a device again. A
 * paused vCPU must not be halfway through one (its devices pause next, and
 * a save reads its registers), so finish it here, on this thread, without
 * running the guest on: cheaper than a round trip to it afterwards. False:
 * the vCPU cannot go on (it stopped, or KVM failed).
 */
static bool finish_before_park(struct vcpu *v)
{
	struct mvm_err err = { .msg = "" };
	int ret = vcpu_finish_exit(v, &err);

	if (!ret)
		return true;
	if (ret != -ESRCH) /* -ESRCH: the exit stopped the vCPU, as asked */
		vcpu_fatal(v, err.msg);
	return false;
}

/*
 * Serve run-on requests and pauses; called between KVM_RUN calls. False:
 * the thread must end.
 */
static bool serve_requests(struct vcpu *v)
{
	bool finished = false, ok = true;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		if (v->req_fn) {
			v->req_fn(v, v->req_arg);
			v->req_fn = NULL;
			pthread_cond_broadcast(&v->cond);
		}
		if (!v->pause_req || should_exit(v))
			break;
		if (!finished) {
			/* Unlocked: the exit may reach a device, which may
			 * ask this vCPU for something. Then look again. */
			pthread_mutex_unlock(&v->lock);
			ok = finish_before_park(v);
			pthread_mutex_lock(&v->lock);
			finished = true;
			if (!ok)
				break;
			continue;
		}
		if (!v->paused) {
			v->paused = true;
			pthread_cond_broadcast(&v->cond);
		}
		pthread_cond_wait(&v->cond, &v->lock);
	}
	v->paused = false;
	pthread_mutex_unlock(&v->lock);
	return ok;
}

static void thread_ended(struct vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	v->dead = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/*
 * A kick that lands outside KVM_RUN stays pending (it is blocked there),
 * and KVM_RUN does not dequeue it: every later KVM_RUN, whose mask lets it
 * in, would fail with EINTR at once, forever. Consume it here.
 */
static void eat_kick(void)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	while (sigtimedwait(&set, NULL, &zero) == VCPU_KICK_SIGNAL)
		;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct mvm_err err = { .msg = "" };
	char name[16];

	snprintf(name, sizeof(name), "mvm-vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	/* Before the first KVM_RUN: the guest never runs unfiltered. */
	if (sandbox_enter(SANDBOX_VCPU, &err)) {
		vcpu_fatal(v, err.msg);
		thread_ended(v);
		return NULL;
	}
	while (!should_exit(v)) {
		if (!serve_requests(v) || should_exit(v))
			break;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				eat_kick();
				continue;
			}
			char why[256];

			vcpu_text_ioctl("KVM_RUN", errno, why, sizeof(why));
			vcpu_fatal(v, why);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	thread_ended(v);
	return NULL;
}

int vcpu_start(struct vcpu *v, struct mvm_err *err)
{
	struct {
		__u32 len;
		__u8 set[8];
	} mask = { .len = 8 };
	sigset_t cur;
	int ret;

	/* KVM_RUN runs with this mask: everything as now, but kicks let in. */
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	sigdelset(&cur, VCPU_KICK_SIGNAL);
	memcpy(mask.set, &cur, sizeof(mask.set));
	if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &mask) < 0)
		return mvm_fail_host(err, -errno, "vcpu %u: "
				     "KVM_SET_SIGNAL_MASK: %s", v->id,
				     strerror(errno));
	ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (ret)
		return mvm_fail_host(err, -ret, "vcpu %u: pthread_create: %s",
				     v->id, strerror(ret));
	v->thread_started = true;
	return 0;
}

int vcpu_start_paused(struct vcpu *v, struct mvm_err *err)
{
	/* Asked before the thread exists: it parks before its first run. */
	pthread_mutex_lock(&v->lock);
	v->pause_req = true;
	pthread_mutex_unlock(&v->lock);
	return vcpu_start(v, err);
}

void vcpu_kick(struct vcpu *v)
{
	if (!v || !v->thread_started)
		return;
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (!v || !v->thread_started)
		return;
	atomic_store(&v->exit_thread, true);
	pthread_mutex_lock(&v->lock);
	pthread_cond_broadcast(&v->cond); /* wake a paused thread */
	pthread_mutex_unlock(&v->lock);
	vcpu_kick(v);
	pthread_join(v->thread, NULL);
	v->thread_started = false;
}

int vcpu_run_on(struct vcpu *v, void (*fn)(struct vcpu *v, void *arg),
		void *arg)
{
	int ret = 0;

	if (!v->thread_started) {
		fn(v, arg);
		return 0;
	}
	pthread_mutex_lock(&v->lock);
	while (v->req_fn && !v->dead) /* one request at a time */
		pthread_cond_wait(&v->cond, &v->lock);
	if (v->dead) {
		ret = -ESRCH;
		goto out;
	}
	v->req_fn = fn;
	v->req_arg = arg;
	pthread_cond_broadcast(&v->cond); /* a paused thread serves it too */
	pthread_mutex_unlock(&v->lock);
	vcpu_kick(v);
	pthread_mutex_lock(&v->lock);
	while (v->req_fn == fn && v->req_arg == arg && !v->dead)
		pthread_cond_wait(&v->cond, &v->lock);
	if (v->req_fn == fn && v->req_arg == arg) { /* died first */
		v->req_fn = NULL;
		ret = -ESRCH;
	}
out:
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void vcpu_pause_ask(struct vcpu *v)
{
	if (!v->thread_started)
		return;
	pthread_mutex_lock(&v->lock);
	v->pause_req = true;
	pthread_mutex_unlock(&v->lock);
	vcpu_kick(v);
}

int vcpu_pause(struct vcpu *v)
{
	vcpu_pause_ask(v);
	return vcpu_pause_wait(v);
}

int vcpu_pause_wait(struct vcpu *v)
{
	int ret = 0;

	if (!v->thread_started)
		return 0;
	pthread_mutex_lock(&v->lock);
	while (!v->paused && !v->dead)
		pthread_cond_wait(&v->cond, &v->lock);
	if (v->dead)
		ret = -ESRCH;
	pthread_mutex_unlock(&v->lock);
	return ret;
}

void vcpu_resume(struct vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	v->pause_req = false;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}
