/*
 * virtio-mem (virtio 1.2, 5.15): a region of guest memory above RAM
 * whose blocks the driver plugs and unplugs on request, to bring the
 * plugged size to the size the host asks for (Firecracker's PATCH
 * /hotplug/memory). The region is reserved and registered with KVM when
 * the VM is built (the VM layer does that); a plug only records the
 * blocks, since the guest's first touch populates them, and an unplug
 * gives their pages back to the host (gm_discard), so mvm's RSS drops.
 *
 * One queue of requests, answered inline on the loop like virtio-rng's:
 * nothing is ever in flight, and a pause has nothing to wait for.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/mem.h"
#include "mvm/virtio_dev.h"

#include "devices.h"
#include "virtio_mem.h"

#define QUEUE_SIZE 128
#define MIB (UINT64_C(1) << 20)

void vmem_config_update(struct vmem *m)
{
	struct vmem_blocks *b = &m->b;

	m->config = (struct vmem_config){
		.block_size = b->block_size,
		.addr = b->addr,
		.region_size = b->nr * b->block_size,
		.usable_region_size = b->usable * b->block_size,
		.plugged_size = b->plugged * b->block_size,
		.requested_size = b->requested * b->block_size,
	};
}

/* vCPU threads, under the transport's lock; pci.c checked off + len. */
static void vmem_config_read(void *dev, uint32_t off, uint8_t *data,
			     uint32_t len)
{
	struct vmem *m = dev;

	memcpy(data, (const uint8_t *)&m->config + off, len);
}

static int discard(void *arg, uint64_t gpa, uint64_t len)
{
	struct vmem *m = arg;
	struct mvm_err err = { .msg = "" };
	int ret = gm_discard(m->ctx->mem, gpa, len, &err);

	if (ret)
		virtio_log(m->t, "unplug: %s", err.msg);
	return ret;
}

/* One chain: the 24-byte request, then room for the 10-byte answer. */
static uint32_t serve(struct vmem *m, const struct virtq_chain *c)
{
	struct vmem_resp resp = { .type = VIRTIO_MEM_RESP_ERROR };
	const struct iovec *in = m->iov + c->nr_out;
	struct vmem_req rq;
	const char *why = NULL;
	uint64_t plugged = m->b.plugged;
	uint16_t state = 0;

	if (c->out_len < sizeof(rq) || c->in_len < sizeof(resp)) {
		virtio_log(m->t, "queue 0: request of %u bytes with %u for "
			   "the answer (want %zu and %zu); failed", c->out_len,
			   c->in_len, sizeof(rq), sizeof(resp));
		return 0;
	}
	iov_to_buf(m->iov, c->nr_out, 0, &rq, sizeof(rq));
	resp.type = vmem_request(&m->b, &rq, &state, discard, m, &why);
	resp.state = state;
	if (why)
		virtio_log(m->t, "request %u at %#llx+%u blocks: %s",
			   rq.type, (unsigned long long)rq.addr,
			   rq.nb_blocks, why);
	if (m->b.plugged != plugged) {
		/* 5.15.4: no notification for plugged_size alone. */
		virtio_config_begin(m->t);
		vmem_config_update(m);
		virtio_config_end(m->t, true);
	}
	return (uint32_t)iov_from_buf(in, c->nr_in, 0, &resp, sizeof(resp));
}

static void vmem_queue_notify(void *dev, struct virtio_queue *q)
{
	struct vmem *m = dev;
	struct virtq_chain c;
	unsigned cap = sizeof(m->iov) / sizeof(m->iov[0]);

	do {
		virtio_queue_notify_disable(q);
		while (virtio_serving(m->t) &&
		       virtio_queue_pop(q, &c, m->iov, cap) > 0)
			virtio_queue_complete(q, c.head, serve(m, &c));
	} while (virtio_serving(m->t) && virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
}

/* 5.15.5: a device reset changes no block's state. */
static void vmem_reset(void *dev)
{
	struct vmem *m = dev;

	virtio_reset_done(m->t);
}

static void vmem_destroy(void *dev)
{
	struct vmem *m = dev;

	vmem_blocks_fini(&m->b);
	free(m);
}

static const struct virtio_dev_ops vmem_ops = {
	.config_read = vmem_config_read,
	.queue_notify = vmem_queue_notify,
	.reset = vmem_reset,
	.save = vmem_save,
	.load = vmem_load,
	.destroy = vmem_destroy,
};

static int vmem_init(struct vmem *m, const struct mem_hotplug_config *cfg,
		     uint64_t gpa, struct mvm_err *err)
{
	uint64_t block = cfg->block_mib * MIB;
	int ret;

	if (!cfg->block_mib || cfg->block_mib > UINT64_MAX / MIB ||
	    cfg->total_mib > UINT64_MAX / MIB ||
	    cfg->requested_mib > cfg->total_mib ||
	    (cfg->requested_mib * MIB) % block)
		return mvm_fail(err, -EINVAL, "virtio-mem: a region of %llu "
				"MiB in blocks of %llu MiB, %llu requested, "
				"is not a valid shape",
				(unsigned long long)cfg->total_mib,
				(unsigned long long)cfg->block_mib,
				(unsigned long long)cfg->requested_mib);
	ret = vmem_blocks_init(&m->b, gpa, cfg->total_mib * MIB, block);
	if (ret == -ENOMEM)
		return mvm_fail(err, ret, "out of memory");
	if (ret)
		return mvm_fail(err, ret, "virtio-mem: region %#llx+%llu MiB "
				"is not in whole aligned blocks of %llu MiB",
				(unsigned long long)gpa,
				(unsigned long long)cfg->total_mib,
				(unsigned long long)cfg->block_mib);
	m->b.requested = cfg->requested_mib * MIB / block;
	vmem_config_update(m);
	return 0;
}

int virtio_mem_create(struct dev_ctx *ctx, const struct mem_hotplug_config *cfg,
		      uint64_t gpa, struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-mem",
		.id = "mem0",
		.device_id = VIRTIO_ID_MEM,
		.pci_class = 0xff0000, /* unclassified device */
		.features = VIRTIO_BIT(VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE),
		.nr_queues = 1,
		.queue_size = QUEUE_SIZE,
		.config_size = sizeof(struct vmem_config),
	};
	struct vmem *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return mvm_fail(err, -ENOMEM, "out of memory");
	m->ctx = ctx;
	ret = vmem_init(m, cfg, gpa, err);
	if (!ret)
		ret = virtio_pci_create(ctx, &info, &vmem_ops, m, &m->t, err);
	if (ret)
		vmem_destroy(m);
	return ret;
}

static bool any(const void *dev, const void *arg)
{
	(void)dev;
	(void)arg;
	return true;
}

static struct vmem *find(struct dev_ctx *ctx, struct mvm_err *err)
{
	struct vmem *m = virtio_find(ctx, VIRTIO_ID_MEM, any, NULL);

	if (!m)
		mvm_fail(err, -ENOENT, "memory hotplug: the VM has no "
			 "virtio-mem device");
	return m;
}

int virtio_mem_resize(struct dev_ctx *ctx, uint64_t requested,
		      struct mvm_err *err)
{
	struct vmem *m = find(ctx, err);
	uint64_t size;

	if (!m)
		return -ENOENT;
	size = m->b.nr * m->b.block_size;
	if (requested > size || requested % m->b.block_size)
		return mvm_fail(err, -EINVAL, "memory hotplug: %llu bytes is "
				"not a whole number of %llu-byte blocks up to "
				"%llu", (unsigned long long)requested,
				(unsigned long long)m->b.block_size,
				(unsigned long long)size);
	virtio_config_begin(m->t);
	m->b.requested = requested / m->b.block_size;
	vmem_config_update(m);
	virtio_config_end(m->t, false);
	/* 5.15.4: the driver is told; paused, it waits in the PBA. */
	if (virtio_active(m->t))
		virtio_config_changed(m->t);
	return 0;
}

int virtio_mem_status(struct dev_ctx *ctx, struct virtio_mem_status *st,
		      struct mvm_err *err)
{
	struct vmem *m = find(ctx, err);

	if (!m)
		return -ENOENT;
	*st = (struct virtio_mem_status){
		.addr = m->b.addr,
		.region_size = m->b.nr * m->b.block_size,
		.block_size = m->b.block_size,
		.usable = m->b.usable * m->b.block_size,
		.plugged = m->b.plugged * m->b.block_size,
		.requested = m->b.requested * m->b.block_size,
	};
	return 0;
}
