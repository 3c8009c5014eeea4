/*
 * The device registry and state nodes (include/mvm/device.h): the generic
 * half of pausing, saving, loading and resuming a VM's devices, which the
 * VM (src/vmm/vm_state.c) runs with its vCPUs around it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/err.h"

/* A NUL within the array: an id from a hostile node may have none. */
static bool id_ok(const char id[DEV_ID_MAX])
{
	return memchr(id, '\0', DEV_ID_MAX) && id[0];
}

int dev_register(struct dev_registry *r, const char *id,
		 const struct device_ops *ops, void *opaque,
		 struct mvm_err *err)
{
	struct device *d;

	if (!*id || strlen(id) >= DEV_ID_MAX)
		return mvm_fail(err, -EINVAL, "device '%.40s': id empty or "
				"longer than %d bytes", id, DEV_ID_MAX - 1);
	if (dev_find(r, id))
		return mvm_fail(err, -EEXIST, "device %s: registered twice",
				id);
	if (r->nr == DEV_REGISTRY_MAX)
		return mvm_fail(err, -ENOSPC, "device %s: more than %d "
				"devices", id, DEV_REGISTRY_MAX);
	d = &r->dev[r->nr++];
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->ops = ops;
	d->opaque = opaque;
	return 0;
}

struct device *dev_find(struct dev_registry *r, const char *id)
{
	for (unsigned i = 0; i < r->nr; i++)
		if (!strcmp(r->dev[i].id, id))
			return &r->dev[i];
	return NULL;
}

int dev_activate_all(struct dev_registry *r, struct mvm_err *err)
{
	for (unsigned i = 0; i < r->nr; i++) {
		int ret = r->dev[i].ops->activate(&r->dev[i], err);

		if (ret)
			return ret;
	}
	return 0;
}

int dev_pause_all(struct dev_registry *r, struct mvm_err *err)
{
	while (r->paused < r->nr) {
		struct device *d = &r->dev[r->paused];
		int ret = d->ops->pause(d, err);

		if (ret) {
			/* Its message is the one to keep, not resume's. */
			dev_resume_all(r, NULL);
			return ret;
		}
		r->paused++;
	}
	return 0;
}

int dev_resume_all(struct dev_registry *r, struct mvm_err *err)
{
	int first = 0;

	while (r->paused) {
		struct device *d = &r->dev[--r->paused];
		int ret = d->ops->resume(d, first ? NULL : err);

		if (ret && !first)
			first = ret;
	}
	return first;
}

int dev_save_all(struct dev_registry *r, struct dev_state_list *out,
		 struct mvm_err *err)
{
	for (unsigned i = 0; i < r->nr; i++) {
		struct dev_state_node n = { .version = 0 };
		int ret = r->dev[i].ops->save(&r->dev[i], &n, err);

		if (!ret)
			ret = dev_state_list_add(out, &n, err);
		dev_state_node_free(&n);
		if (ret)
			return ret;
	}
	return 0;
}

int dev_load_all(struct dev_registry *r, const struct dev_state_list *in,
		 struct mvm_err *err)
{
	for (unsigned i = 0; i < r->nr; i++) {
		struct device *d = &r->dev[i];
		const struct dev_state_node *n = dev_state_list_find(in, d->id);
		int ret;

		if (!n)
			return mvm_fail(err, -EINVAL, "%s: the state has no "
					"node for this device", d->id);
		ret = d->ops->load(d, n, err);
		if (ret)
			return ret;
	}
	return 0;
}

int dev_state_node_set(struct dev_state_node *n, const char *id,
		       uint32_t version, const void *data, size_t len,
		       struct mvm_err *err)
{
	memset(n, 0, sizeof(*n));
	if (strlen(id) >= DEV_ID_MAX || len > DEV_STATE_MAX_LEN)
		return mvm_fail(err, -EINVAL, "%.40s: state of %zu bytes "
				"does not fit a node", id, len);
	if (len) {
		n->data = malloc(len);
		if (!n->data)
			return mvm_fail(err, -ENOMEM, "out of memory");
		memcpy(n->data, data, len);
	}
	snprintf(n->id, sizeof(n->id), "%s", id);
	n->version = version;
	n->len = len;
	return 0;
}

void dev_state_node_free(struct dev_state_node *n)
{
	free(n->data);
	memset(n, 0, sizeof(*n));
}

int dev_state_bad(const struct device *d, struct mvm_err *err,
		  const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mvm_fail(err, -EINVAL, "%s: state: %s", d->id, what);
}

int dev_state_check(const struct device *d, const struct dev_state_node *in,
		    uint32_t version, size_t min, size_t max,
		    struct mvm_err *err)
{
	if (!id_ok(in->id))
		return dev_state_bad(d, err, "a node without a valid id");
	if (strcmp(in->id, d->id))
		return dev_state_bad(d, err, "the node is %.*s's", DEV_ID_MAX,
				     in->id);
	if (in->version != version)
		return dev_state_bad(d, err, "version %u, this mvm reads %u",
				     in->version, version);
	if (min == max && in->len != min)
		return dev_state_bad(d, err, "%zu bytes, expected %zu",
				     in->len, min);
	if (in->len < min || in->len > max)
		return dev_state_bad(d, err, "%zu bytes, expected %zu to %zu",
				     in->len, min, max);
	if (in->len && !in->data)
		return dev_state_bad(d, err, "%zu bytes without data",
				     in->len);
	return 0;
}

int dev_state_list_add(struct dev_state_list *l, struct dev_state_node *n,
		       struct mvm_err *err)
{
	if (l->nr == l->cap) {
		unsigned cap = l->cap ? l->cap * 2 : 16;
		struct dev_state_node *p;

		if (l->nr >= DEV_STATE_MAX_NODES)
			return mvm_fail(err, -ENOSPC, "state: more than %d "
					"nodes", DEV_STATE_MAX_NODES);
		p = realloc(l->node, cap * sizeof(*p));
		if (!p)
			return mvm_fail(err, -ENOMEM, "out of memory");
		l->node = p;
		l->cap = cap;
	}
	l->node[l->nr++] = *n;
	memset(n, 0, sizeof(*n));
	return 0;
}

const struct dev_state_node *dev_state_list_find(
	const struct dev_state_list *l, const char *id)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (id_ok(l->node[i].id) && !strcmp(l->node[i].id, id))
			return &l->node[i];
	return NULL;
}

int dev_state_list_check(const struct dev_state_list *l,
			 struct mvm_err *err)
{
	if (l->nr > DEV_STATE_MAX_NODES)
		return mvm_fail(err, -EINVAL, "state: %u nodes, at most %d",
				l->nr, DEV_STATE_MAX_NODES);
	for (unsigned i = 0; i < l->nr; i++) {
		const struct dev_state_node *n = &l->node[i];

		if (!id_ok(n->id))
			return mvm_fail(err, -EINVAL, "state: node %u has no "
					"valid id", i);
		if (n->len > DEV_STATE_MAX_LEN)
			return mvm_fail(err, -EINVAL, "%s: state: %zu bytes, "
					"at most %u", n->id, n->len,
					DEV_STATE_MAX_LEN);
		if (n->len && !n->data)
			return mvm_fail(err, -EINVAL, "%s: state: %zu bytes "
					"without data", n->id, n->len);
		if (dev_state_list_find(l, n->id) != n)
			return mvm_fail(err, -EINVAL, "%s: state: two nodes "
					"for it", n->id);
	}
	return 0;
}

void dev_state_list_free(struct dev_state_list *l)
{
	for (unsigned i = 0; i < l->nr; i++)
		dev_state_node_free(&l->node[i]);
	free(l->node);
	memset(l, 0, sizeof(*l));
}

int dev_nop(struct device *d, struct mvm_err *err)
{
	(void)d;
	(void)err;
	return 0;
}

int dev_save_empty(struct device *d, struct dev_state_node *out,
		   struct mvm_err *err)
{
	return dev_state_node_set(out, d->id, 1, NULL, 0, err);
}

int dev_load_empty(struct device *d, const struct dev_state_node *in,
		   struct mvm_err *err)
{
	return dev_state_check(d, in, 1, 0, 0, err);
}

const struct device_ops dev_stateless_ops = {
	.activate = dev_nop,
	.reset = dev_nop,
	.pause = dev_nop,
	.resume = dev_nop,
	.save = dev_save_empty,
	.load = dev_load_empty,
};
