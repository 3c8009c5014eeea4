/*
 * The device registry and state nodes (include/mvm/device.h): devices
 * pause in order and resume in reverse, a device that cannot pause undoes
 * the others, and every node a load is given is checked before a device
 * sees it (id, version, length, data).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/err.h"

/* A device that records what was done to it, in one shared log. */
static char trail[256];

struct fake_dev {
	const char *name;
	int fail_pause; /* the pause fails with this */
	uint8_t state[4];
};

static void note(struct device *d, const char *what)
{
	struct fake_dev *f = d->opaque;
	size_t n = strlen(trail);

	snprintf(trail + n, sizeof(trail) - n, "%s%s:%s", n ? " " : "",
		 what, f->name);
}

static int f_activate(struct device *d, struct mvm_err *err)
{
	(void)err;
	note(d, "activate");
	return 0;
}

static int f_pause(struct device *d, struct mvm_err *err)
{
	struct fake_dev *f = d->opaque;

	note(d, "pause");
	if (f->fail_pause)
		return mvm_fail(err, f->fail_pause, "%s: cannot pause",
				d->id);
	return 0;
}

static int f_resume(struct device *d, struct mvm_err *err)
{
	(void)err;
	note(d, "resume");
	return 0;
}

static int f_save(struct device *d, struct dev_state_node *out,
		  struct mvm_err *err)
{
	struct fake_dev *f = d->opaque;

	return dev_state_node_set(out, d->id, 3, f->state, sizeof(f->state),
				  err);
}

static int f_load(struct device *d, const struct dev_state_node *in,
		  struct mvm_err *err)
{
	struct fake_dev *f = d->opaque;
	int ret = dev_state_check(d, in, 3, sizeof(f->state),
				  sizeof(f->state), err);

	if (!ret)
		memcpy(f->state, in->data, sizeof(f->state));
	return ret;
}

static const struct device_ops fake_ops = {
	.activate = f_activate,
	.reset = dev_nop,
	.pause = f_pause,
	.resume = f_resume,
	.save = f_save,
	.load = f_load,
};

static struct dev_registry reg;
static struct fake_dev a = { .name = "a" }, b = { .name = "b" },
		       c = { .name = "c" };

static void setup(void)
{
	struct mvm_err err = { .msg = "" };

	memset(&reg, 0, sizeof(reg));
	trail[0] = '\0';
	a.fail_pause = b.fail_pause = c.fail_pause = 0;
	cr_assert_eq(dev_register(&reg, "dev-a", &fake_ops, &a, &err), 0);
	cr_assert_eq(dev_register(&reg, "dev-b", &fake_ops, &b, &err), 0);
	cr_assert_eq(dev_register(&reg, "dev-c", &fake_ops, &c, &err), 0);
}

TestSuite(device, .init = setup);

Test(device, pause_in_order_resume_in_reverse)
{
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(dev_activate_all(&reg, &err), 0);
	cr_assert_eq(dev_pause_all(&reg, &err), 0);
	cr_assert_eq(reg.paused, 3);
	cr_assert_eq(dev_resume_all(&reg, &err), 0);
	cr_assert_eq(reg.paused, 0);
	cr_assert_str_eq(trail, "activate:a activate:b activate:c pause:a "
			 "pause:b pause:c resume:c resume:b resume:a");
}

Test(device, a_failed_pause_resumes_the_others)
{
	struct mvm_err err = { .msg = "" };

	b.fail_pause = -ETIMEDOUT;
	cr_assert_eq(dev_pause_all(&reg, &err), -ETIMEDOUT);
	cr_assert_str_eq(err.msg, "dev-b: cannot pause");
	cr_assert_eq(reg.paused, 0);
	cr_assert_str_eq(trail, "pause:a pause:b resume:a");
}

Test(device, registration_refuses_duplicates_and_long_ids)
{
	struct mvm_err err = { .msg = "" };
	char id[DEV_ID_MAX + 1];

	cr_assert_eq(dev_register(&reg, "dev-a", &fake_ops, &a, &err),
		     -EEXIST);
	memset(id, 'x', DEV_ID_MAX);
	id[DEV_ID_MAX] = '\0';
	cr_assert_eq(dev_register(&reg, id, &fake_ops, &a, &err), -EINVAL);
	cr_assert_eq(dev_register(&reg, "", &fake_ops, &a, &err), -EINVAL);
	cr_assert_eq(dev_find(&reg, "dev-c")->opaque, &c);
	cr_assert_null(dev_find(&reg, "dev-d"));
}

Test(device, save_all_then_load_all)
{
	struct mvm_err err = { .msg = "" };
	struct dev_state_list l = { 0 };

	memcpy(a.state, "AAAA", 4);
	memcpy(c.state, "CCCC", 4);
	cr_assert_eq(dev_save_all(&reg, &l, &err), 0, "%s", err.msg);
	cr_assert_eq(l.nr, 3);
	cr_assert_str_eq(l.node[2].id, "dev-c");
	cr_assert_eq(dev_state_list_check(&l, &err), 0, "%s", err.msg);
	memset(a.state, 0, 4);
	memset(c.state, 0, 4);
	cr_assert_eq(dev_load_all(&reg, &l, &err), 0, "%s", err.msg);
	cr_assert_arr_eq(a.state, "AAAA", 4);
	cr_assert_arr_eq(c.state, "CCCC", 4);

	/* A node missing: the device it was for says so. */
	l.node[1].id[4] = 'x';
	cr_assert_eq(dev_load_all(&reg, &l, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-b: the state has no node for this "
			 "device");
	/* Two nodes for one device. */
	l.node[1].id[4] = 'a';
	cr_assert_eq(dev_state_list_check(&l, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-a: state: two nodes for it");
	dev_state_list_free(&l);
	cr_assert_eq(l.nr, 0);
}

Test(device, every_node_is_checked_before_a_device_sees_it)
{
	struct mvm_err err = { .msg = "" };
	struct device *d = dev_find(&reg, "dev-a");
	struct dev_state_node n;

	cr_assert_eq(f_save(d, &n, &err), 0);
	n.version = 4;
	cr_assert_eq(f_load(d, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-a: state: version 4, this mvm reads 3");
	n.version = 3;
	n.len = 3;
	cr_assert_eq(f_load(d, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-a: state: 3 bytes, expected 4");
	n.len = 4096; /* oversized: the buffer is never read past 4 */
	cr_assert_eq(f_load(d, &n, &err), -EINVAL);
	n.len = 4;
	memcpy(n.id, "dev-b", 6);
	cr_assert_eq(f_load(d, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-a: state: the node is dev-b's");
	memset(n.id, 'z', sizeof(n.id)); /* no NUL anywhere */
	cr_assert_eq(f_load(d, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-a: state: a node without a valid id");
	dev_state_node_free(&n);
	cr_assert_eq(dev_state_node_set(&n, "dev-a", 3, NULL, 0, &err), 0);
	n.len = 4; /* a length without data */
	cr_assert_eq(f_load(d, &n, &err), -EINVAL);
}

Test(device, empty_nodes_for_devices_without_state)
{
	struct mvm_err err = { .msg = "" };
	struct device *d = dev_find(&reg, "dev-b");
	struct dev_state_node n;
	uint8_t one = 1;

	cr_assert_eq(dev_save_empty(d, &n, &err), 0);
	cr_assert_eq(n.len, 0);
	cr_assert_null(n.data);
	cr_assert_eq(dev_load_empty(d, &n, &err), 0);
	dev_state_node_free(&n);
	cr_assert_eq(dev_state_node_set(&n, "dev-b", 1, &one, 1, &err), 0);
	cr_assert_eq(dev_load_empty(d, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "dev-b: state: 1 bytes, expected 0");
	dev_state_node_free(&n);
}

Test(device, a_list_has_a_bound)
{
	struct mvm_err err = { .msg = "" };
	struct dev_state_list l = { 0 };
	int ret = 0;

	for (unsigned i = 0; !ret && i <= DEV_STATE_MAX_NODES; i++) {
		struct dev_state_node n;
		char id[16];

		snprintf(id, sizeof(id), "n%u", i);
		cr_assert_eq(dev_state_node_set(&n, id, 1, NULL, 0, &err), 0);
		ret = dev_state_list_add(&l, &n, &err);
		dev_state_node_free(&n);
	}
	cr_assert_eq(ret, -ENOSPC);
	cr_assert_eq(l.nr, DEV_STATE_MAX_NODES);
	dev_state_list_free(&l);
}
