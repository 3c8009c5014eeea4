/*
 * Pausing, saving, loading and resuming a whole VM (include/mvm/vm_state.h):
 * the vCPUs through their threads (src/vcpu/), the devices through their
 * registry (include/mvm/device.h), in the order each needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "mvm/clock.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/vcpu.h"
#include "mvm/vcpu_state.h"
#include "mvm/vm.h"
#include "mvm/vm_state.h"

static bool all_paused(const struct vm *vm)
{
	return vm->paused && vm->devices.paused == vm->devices.nr;
}

int vm_pause_all(struct vm *vm, struct mvm_err *err)
{
	int ret;

	if (vm->pausing)
		return mvm_fail(err, -EBUSY, "a pause is under way");
	if (all_paused(vm))
		return 0;
	/* Each vCPU finishes the instruction it exited in before it parks
	 * (src/vcpu/vcpu.c): no device access is half done when they pause. */
	if (!vm->paused && vm_pause(vm))
		return mvm_fail(err, -ESRCH, "cannot pause: a vCPU has "
				"stopped");
	vm->pausing = true;
	/* Devices run the loop for their I/O: no API request meanwhile. */
	loop_hold(vm->loop);
	ret = dev_pause_all(&vm->devices, err);
	loop_release(vm->loop);
	vm->pausing = false;
	if (ret)
		vm_resume(vm);
	return ret;
}

struct clock_call {
	struct mvm_err err;
	int ret;
};

static void clock_stopped_on_vcpu(struct vcpu *v, void *arg)
{
	struct clock_call *c = arg;

	c->ret = vcpu_kvmclock_stopped(v, &c->err);
}

/*
 * Every vCPU's kvmclock says the VM was stopped, as QEMU does on each
 * resume: the guest's clock went on (or, restored with clock_realtime,
 * jumped) while its watchdogs could not run.
 */
static int tell_clock_stopped(struct vm *vm, struct mvm_err *err)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct clock_call c = { .err = { .msg = "" } };

		if (vcpu_run_on(vm->vcpus[i], clock_stopped_on_vcpu, &c))
			continue; /* its thread has ended: no guest to tell */
		if (c.ret)
			return mvm_fail_host(err, c.ret, "%s", c.err.msg);
	}
	return 0;
}

int vm_resume_all(struct vm *vm, struct mvm_err *err)
{
	int ret, clock = 0;

	if (vm->pausing)
		return mvm_fail(err, -EBUSY, "a pause is under way");
	/* While the vCPUs are still parked; a device's failure says more. */
	if (vm->vm_fd >= 0 && vm->paused)
		clock = tell_clock_stopped(vm, err);
	ret = dev_resume_all(&vm->devices, err);
	vm_resume(vm);
	return ret ? ret : clock;
}

/* One vCPU's part, on its own thread (its state ioctls belong there). */
struct vcpu_call {
	struct dev_state_node *out;      /* save */
	const struct dev_state_node *in; /* load */
	struct mvm_err err;
	int ret;
};

static void save_on_vcpu(struct vcpu *v, void *arg)
{
	struct vcpu_call *c = arg;
	struct vcpu_state st;
	void *blob = NULL;
	size_t len = 0;
	char id[16];

	c->ret = vcpu_state_save(v, &st, &c->err);
	if (!c->ret)
		c->ret = vcpu_state_encode(&st, &blob, &len, &c->err);
	vcpu_state_free(&st);
	snprintf(id, sizeof(id), "vcpu%u", v->id);
	if (!c->ret)
		c->ret = dev_state_node_set(c->out, id, VCPU_STATE_VERSION,
					    blob, len, &c->err);
	free(blob);
}

static int save_vcpus(struct vm *vm, struct dev_state_list *out,
		      struct mvm_err *err)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct dev_state_node n = { .version = 0 };
		struct vcpu_call c = { .out = &n, .err = { .msg = "" } };
		int ret = vcpu_run_on(vm->vcpus[i], save_on_vcpu, &c);

		if (ret)
			return mvm_fail(err, ret, "vcpu %u: its thread has "
					"ended", i);
		if (c.ret) {
			dev_state_node_free(&n);
			return mvm_fail(err, c.ret, "%s", c.err.msg);
		}
		ret = dev_state_list_add(out, &n, err);
		dev_state_node_free(&n);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The VM-wide kvmclock: what the guest's clocksource reads, counted by
 * KVM from the host's clock. Not a device's, and not a vCPU's: without
 * it a restored guest's clock would jump to the new VM's count (near 0)
 * and its timers with it.
 */
static int save_clock(struct vm *vm, struct dev_state_list *out,
		      struct mvm_err *err)
{
	struct kvm_clock_data c;
	struct dev_state_node n = { .version = 0 };
	int ret;

	if (vm->vm_fd < 0)
		return 0; /* no KVM VM (a unit test's): no clock */
	memset(&c, 0, sizeof(c));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &c) < 0)
		return mvm_fail(err, -errno, "KVM_GET_CLOCK: %s",
				strerror(errno));
	/*
	 * KVM pairs the clock with the wall-clock time only on hosts whose
	 * own clocksource is the TSC; elsewhere mvm reads it at once, so
	 * that clock_realtime works from any host's snapshot.
	 */
	if (!(c.flags & KVM_CLOCK_REALTIME)) {
		c.realtime = mvm_real_ns();
		c.flags |= KVM_CLOCK_REALTIME;
	}
	ret = dev_state_node_set(&n, VM_CLOCK_NODE, VM_CLOCK_VERSION, &c,
				 sizeof(c), err);
	if (!ret)
		ret = dev_state_list_add(out, &n, err);
	dev_state_node_free(&n);
	return ret;
}

int vm_save_all(struct vm *vm, struct dev_state_list *out,
		struct mvm_err *err)
{
	int ret;

	if (!all_paused(vm) || vm->pausing)
		return mvm_fail(err, -EINVAL, "cannot save: the VM is not "
				"paused");
	ret = save_vcpus(vm, out, err);
	if (!ret)
		ret = dev_save_all(&vm->devices, out, err);
	if (!ret)
		ret = save_clock(vm, out, err);
	if (ret)
		dev_state_list_free(out);
	return ret;
}

static void load_on_vcpu(struct vcpu *v, void *arg)
{
	struct vcpu_call *c = arg;
	struct vcpu_state st = { .cpuid = NULL };

	c->ret = vcpu_state_decode(c->in->data, c->in->len, &st, &c->err);
	if (!c->ret)
		c->ret = vcpu_state_restore(v, &st, &c->err);
	vcpu_state_free(&st);
}

static int load_vcpu(struct vm *vm, unsigned i,
		     const struct dev_state_list *in, struct mvm_err *err)
{
	/* Not a device, but its node is checked as a device's would be. */
	struct device pseudo = { .opaque = NULL };
	struct vcpu_call c = { .err = { .msg = "" } };
	int ret;

	snprintf(pseudo.id, sizeof(pseudo.id), "vcpu%u", i);
	c.in = dev_state_list_find(in, pseudo.id);
	if (!c.in)
		return mvm_fail(err, -EINVAL, "%s: the state has no node for "
				"this vCPU", pseudo.id);
	ret = dev_state_check(&pseudo, c.in, VCPU_STATE_VERSION,
			      VCPU_STATE_HEADER_SIZE, DEV_STATE_MAX_LEN, err);
	if (ret)
		return ret;
	ret = vcpu_run_on(vm->vcpus[i], load_on_vcpu, &c);
	if (ret)
		return mvm_fail(err, ret, "vcpu %u: its thread has ended", i);
	return c.ret ? mvm_fail(err, c.ret, "%s", c.err.msg) : 0;
}

/* A node neither a device nor a vCPU of this VM claims, or NULL. */
static const char *stray(struct vm *vm, const struct dev_state_list *in)
{
	for (unsigned i = 0; i < in->nr; i++) {
		const char *id = in->node[i].id;
		unsigned n;
		char end;

		if (dev_find(&vm->devices, id) || !strcmp(id, VM_CLOCK_NODE))
			continue;
		if (sscanf(id, "vcpu%u%c", &n, &end) == 1 &&
		    n < vm->nr_vcpus) {
			char canon[16];

			snprintf(canon, sizeof(canon), "vcpu%u", n);
			if (!strcmp(canon, id))
				continue;
		}
		return id;
	}
	return NULL;
}

/*
 * KVM's PIT (part of the irqchip) keeps counting while the vCPUs load. A
 * tick it raises into a LAPIC that KVM_SET_LAPIC then overwrites is lost,
 * and a one-shot PIT (Linux's tick when it judged its LAPIC timer
 * unusable) never fires again: the guest's timers die. Loading the
 * irqchip once more after the LAPICs re-arms the PIT from the saved
 * count, and re-delivers the IOAPIC's latched edges into the loaded
 * LAPICs: at worst a tick comes twice.
 */
static int reload_irqchip(struct vm *vm, const struct dev_state_list *in,
			  struct mvm_err *err)
{
	const struct dev_state_node *n = dev_state_list_find(in, "irqchip");
	struct device *d = dev_find(&vm->devices, "irqchip");

	return n && d ? d->ops->load(d, n, err) : 0;
}

/* The KVM_CLOCK_* flags this host's KVM_SET_CLOCK takes. */
static int clock_caps(struct vm *vm)
{
	int r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ADJUST_CLOCK);

	return r > 0 ? r : 0;
}

/*
 * Put the kvmclock back: from where it stood when saved (the guest saw no
 * time pass), or, with realtime, advanced by the wall-clock time since
 * (KVM_CLOCK_REALTIME: KVM adds the difference of the saved realtime and
 * now). A state without the node (none of mvm's own) leaves the clock.
 */
static int load_clock(struct vm *vm, const struct dev_state_list *in,
		      bool realtime, struct mvm_err *err)
{
	const struct dev_state_node *n = dev_state_list_find(in,
							     VM_CLOCK_NODE);
	struct device pseudo = { .id = VM_CLOCK_NODE };
	struct kvm_clock_data c;
	int ret;

	if (!n)
		return 0;
	ret = dev_state_check(&pseudo, n, VM_CLOCK_VERSION, sizeof(c),
			      sizeof(c), err);
	if (ret)
		return ret;
	memcpy(&c, n->data, sizeof(c));
	if (realtime && !(c.flags & KVM_CLOCK_REALTIME))
		return mvm_fail(err, -EINVAL, "kvmclock: the state has no "
				"wall-clock time to advance the clock from");
	/*
	 * KVM advances the clock itself where it can (KVM_CLOCK_REALTIME,
	 * on a TSC-clocked host); elsewhere mvm adds the time that passed.
	 */
	if (realtime && !(clock_caps(vm) & KVM_CLOCK_REALTIME)) {
		uint64_t now = mvm_real_ns();

		if (now > c.realtime)
			c.clock += now - c.realtime;
		realtime = false;
	}
	/* KVM takes REALTIME as the one flag that asks for something. */
	c.flags = realtime ? KVM_CLOCK_REALTIME : 0;
	memset(c.pad, 0, sizeof(c.pad));
	c.host_tsc = 0;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &c) < 0)
		return mvm_fail(err, -errno, "kvmclock: KVM_SET_CLOCK: %s",
				strerror(errno));
	return 0;
}

int vm_load_all(struct vm *vm, const struct dev_state_list *in,
		struct mvm_err *err)
{
	return vm_load_all_opts(vm, in, NULL, err);
}

int vm_load_all_opts(struct vm *vm, const struct dev_state_list *in,
		     const struct vm_load_opts *opts, struct mvm_err *err)
{
	const char *extra;
	int ret;

	if (!all_paused(vm) || vm->pausing)
		return mvm_fail(err, -EINVAL, "cannot load: the VM is not "
				"paused");
	ret = dev_state_list_check(in, err);
	if (ret)
		return ret;
	extra = stray(vm, in);
	if (extra)
		return mvm_fail(err, -EINVAL, "state for '%s', which this VM "
				"does not have", extra);
	ret = dev_load_all(&vm->devices, in, err);
	if (!ret)
		ret = dev_activate_all(&vm->devices, err);
	for (unsigned i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = load_vcpu(vm, i, in, err);
	if (!ret)
		ret = reload_irqchip(vm, in, err);
	if (!ret)
		ret = load_clock(vm, in, opts && opts->clock_realtime, err);
	return ret;
}
