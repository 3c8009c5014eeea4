/*
 * A virtio device behind the device interface (include/mvm/device.h): the
 * opaque is its transport, which pauses, resumes and resets it for the
 * model (transport.c) and whose blob (state.c: PCI config, MSI-X, queues,
 * then the model's part) is the node's data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "transport.h"

/* The node wraps virtio_save()'s blob, which has a version of its own. */
#define VIRTIO_NODE_VERSION 1
#define SAVE_FIRST_TRY (16u << 10)

/* A DRIVER_OK in the state (a load's) makes the device live. */
static int virtio_dev_activate(struct device *d, struct mvm_err *err)
{
	(void)err;
	transport_ctl(d->opaque);
	return 0;
}

static int virtio_dev_reset(struct device *d, struct mvm_err *err)
{
	return transport_reset(d->opaque, err);
}

static int virtio_dev_pause(struct device *d, struct mvm_err *err)
{
	return transport_pause(d->opaque, err);
}

static int virtio_dev_resume(struct device *d, struct mvm_err *err)
{
	(void)err;
	transport_resume(d->opaque);
	return 0;
}

/* virtio_save() says only "too small": try larger buffers until it fits. */
static int virtio_dev_save(struct device *d, struct dev_state_node *out,
			   struct mvm_err *err)
{
	for (size_t cap = SAVE_FIRST_TRY; cap <= DEV_STATE_MAX_LEN; cap *= 2) {
		void *buf = malloc(cap);
		size_t n;
		int ret;

		if (!buf)
			return mvm_fail(err, -ENOMEM, "out of memory");
		n = virtio_save(d->opaque, buf, cap);
		ret = n ? dev_state_node_set(out, d->id, VIRTIO_NODE_VERSION,
					     buf, n, err) : 0;
		free(buf);
		if (n)
			return ret;
	}
	return mvm_fail(err, -E2BIG, "%s: state larger than %u bytes", d->id,
			DEV_STATE_MAX_LEN);
}

static int virtio_dev_load(struct device *d, const struct dev_state_node *in,
			   struct mvm_err *err)
{
	int ret = dev_state_check(d, in, VIRTIO_NODE_VERSION, 1,
				  DEV_STATE_MAX_LEN, err);

	if (ret)
		return ret;
	return virtio_load_inactive(d->opaque, in->data, in->len, err);
}

/* t->name is "KIND ID": both are tokens, so the first space parts them. */
void virtio_device_id(const struct virtio_transport *t, char *buf,
		      size_t len)
{
	char *sp;

	snprintf(buf, len, "%s", t->name);
	sp = strchr(buf, ' ');
	if (sp)
		*sp = ':';
}

const struct device_ops virtio_device_ops = {
	.activate = virtio_dev_activate,
	.reset = virtio_dev_reset,
	.pause = virtio_dev_pause,
	.resume = virtio_dev_resume,
	.save = virtio_dev_save,
	.load = virtio_dev_load,
};
