/*
 * The generic path of include/mvm/vm_state.h on a VM without KVM or
 * vCPUs, whose registry holds devices that log what is done to them:
 * pause in order and resume in reverse, a refused pause undone, save and
 * load only when paused, activate after every device has loaded, and a
 * state with a node too many, too few or twice refused before any device
 * sees it. (With vCPUs and KVM: tests/integration/test_vm_state.c.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/vm.h"
#include "mvm/vm_state.h"

static char trail[512];

static void note(struct device *d, const char *what)
{
	size_t n = strlen(trail);

	snprintf(trail + n, sizeof(trail) - n, "%s%s:%s", n ? " " : "", what,
		 d->id);
}

static int refuse_pause; /* the pause of "dev-b" fails with this */

static int l_activate(struct device *d, struct mvm_err *err)
{
	(void)err;
	note(d, "activate");
	return 0;
}

static int l_pause(struct device *d, struct mvm_err *err)
{
	note(d, "pause");
	if (refuse_pause && !strcmp(d->id, "dev-b"))
		return mvm_fail(err, refuse_pause, "%s: stuck", d->id);
	return 0;
}

static int l_resume(struct device *d, struct mvm_err *err)
{
	(void)err;
	note(d, "resume");
	return 0;
}

static int l_load(struct device *d, const struct dev_state_node *in,
		  struct mvm_err *err)
{
	int ret = dev_load_empty(d, in, err);

	if (!ret)
		note(d, "load");
	return ret;
}

static const struct device_ops log_ops = {
	.activate = l_activate,
	.reset = dev_nop,
	.pause = l_pause,
	.resume = l_resume,
	.save = dev_save_empty,
	.load = l_load,
};

static struct vm vm;
static struct mvm_err err;

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	vm.vm_fd = -1; /* no KVM: no kvmclock to save */
	vm.loop = calloc(1, sizeof(*vm.loop));
	cr_assert_not_null(vm.loop);
	cr_assert_eq(loop_init(vm.loop, 8, &err), 0);
	trail[0] = '\0';
	refuse_pause = 0;
	cr_assert_eq(dev_register(&vm.devices, "dev-a", &log_ops, NULL,
				  &err), 0);
	cr_assert_eq(dev_register(&vm.devices, "dev-b", &log_ops, NULL,
				  &err), 0);
}

static void teardown(void)
{
	loop_fini(vm.loop);
	free(vm.loop);
}

TestSuite(vm_state, .init = setup, .fini = teardown);

Test(vm_state, pause_save_load_resume)
{
	struct dev_state_list l = { 0 };

	cr_assert_eq(vm_save_all(&vm, &l, &err), -EINVAL, "running");
	cr_assert_str_eq(err.msg, "cannot save: the VM is not paused");
	cr_assert_eq(vm_pause_all(&vm, &err), 0, "%s", err.msg);
	cr_assert(vm.paused);
	cr_assert_eq(vm_pause_all(&vm, &err), 0, "paused again: nothing");
	cr_assert_eq(vm_save_all(&vm, &l, &err), 0, "%s", err.msg);
	cr_assert_eq(l.nr, 2);
	cr_assert_eq(vm_load_all(&vm, &l, &err), 0, "%s", err.msg);
	cr_assert_eq(vm_resume_all(&vm, &err), 0);
	cr_assert_not(vm.paused);
	cr_assert_str_eq(trail, "pause:dev-a pause:dev-b load:dev-a "
			 "load:dev-b activate:dev-a activate:dev-b "
			 "resume:dev-b resume:dev-a");
	cr_assert_eq(vm_load_all(&vm, &l, &err), -EINVAL, "running");
	dev_state_list_free(&l);
}

Test(vm_state, a_refused_pause_leaves_the_vm_running)
{
	refuse_pause = -ETIMEDOUT;
	cr_assert_eq(vm_pause_all(&vm, &err), -ETIMEDOUT);
	cr_assert_str_eq(err.msg, "dev-b: stuck");
	cr_assert_not(vm.paused);
	cr_assert_eq(vm.devices.paused, 0);
	cr_assert_str_eq(trail, "pause:dev-a pause:dev-b resume:dev-a");
}

/* A state of the paused VM, then one node changed by the caller. */
static void state(struct dev_state_list *l)
{
	cr_assert_eq(vm_pause_all(&vm, &err), 0);
	cr_assert_eq(vm_save_all(&vm, l, &err), 0);
	trail[0] = '\0';
}

Test(vm_state, a_node_for_nobody_is_refused_before_any_load)
{
	struct dev_state_list l = { 0 };
	struct dev_state_node extra;

	state(&l);
	cr_assert_eq(dev_state_node_set(&extra, "vcpu0", 1, NULL, 0, &err),
		     0);
	cr_assert_eq(dev_state_list_add(&l, &extra, &err), 0);
	cr_assert_eq(vm_load_all(&vm, &l, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "state for 'vcpu0', which this VM does not "
			 "have");
	cr_assert_str_eq(trail, "", "no device loaded");
	dev_state_list_free(&l);
}

Test(vm_state, a_missing_or_doubled_node_is_refused)
{
	struct dev_state_list l = { 0 };

	state(&l);
	snprintf(l.node[1].id, sizeof(l.node[1].id), "dev-a");
	cr_assert_eq(vm_load_all(&vm, &l, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-a: state: two nodes for it");
	l.nr = 1;
	cr_assert_eq(vm_load_all(&vm, &l, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-b: the state has no node for this "
			 "device");
	l.nr = 2;
	dev_state_list_free(&l);
}
