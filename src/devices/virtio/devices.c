/*
 * The virtio devices a VM's configuration asks for, created in a fixed
 * order (entropy, disks, NICs, the balloon, virtio-mem, pmem,
 * vsock) so PCI slots are
 * stable from boot to boot.
 */
#include <string.h>

#include "mvm/dev_config.h"
#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/virtio_dev.h"

#include "devices.h"
#include "transport.h"

/* The pmem regions, one after the other from the window's start. */
static int create_pmems(struct dev_ctx *ctx,
			const struct virtio_devs_config *cfg,
			struct mvm_err *err)
{
	uint64_t gpa = LAYOUT_PMEM, size;

	for (unsigned i = 0; i < cfg->nr_pmems; i++) {
		int ret = pmem_create(ctx, &cfg->pmems[i], gpa,
				      LAYOUT_PMEM + LAYOUT_PMEM_SIZE,
				      cfg->pmem_slot + i, &size, err);

		if (ret)
			return ret;
		gpa += size;
	}
	return 0;
}

int virtio_create_devices(struct dev_ctx *ctx, const struct virtio_devs_config *cfg,
			  struct mvm_err *err)
{
	int ret;

	if (cfg->rng) {
		ret = rng_create(ctx, &cfg->rng_rl, err);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		ret = blk_create(ctx, &cfg->disks[i], cfg->cpus, err);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		ret = net_create(ctx, &cfg->nets[i], err);
		if (ret)
			return ret;
	}
	if (cfg->balloon && cfg->balloon->enabled) {
		ret = balloon_create(ctx, cfg->balloon, err);
		if (ret)
			return ret;
	}
	if (cfg->mem_hotplug && cfg->mem_hotplug->total_mib) {
		ret = virtio_mem_create(ctx, cfg->mem_hotplug,
					cfg->mem_hotplug_gpa, err);
		if (ret)
			return ret;
	}
	ret = create_pmems(ctx, cfg, err);
	if (ret)
		return ret;
	if (cfg->vsock && cfg->vsock->guest_cid)
		return vsock_create(ctx, cfg->vsock, err);
	return 0;
}

void virtio_stop_devices(struct dev_ctx *ctx)
{
	/*
	 * One count held meanwhile: a device that is idle at once must not
	 * report all of them quiesced before the next one is even asked.
	 */
	ctx->busy++;
	for (struct virtio_transport *t = ctx->virtio_devs; t; t = t->next)
		virtio_pci_stop(t);
	transport_busy_put(ctx);
}

void virtio_destroy_devices(struct dev_ctx *ctx)
{
	while (ctx->virtio_devs)
		virtio_pci_destroy(ctx->virtio_devs);
}

void virtio_counters_take_each(struct dev_ctx *ctx, uint16_t device_id,
			       void (*fn)(void *arg, const char *id,
					  const uint64_t d[VIRTIO_CTR_COUNT]),
			       void *arg)
{
	for (struct virtio_transport *t = ctx->virtio_devs; t; t = t->next) {
		struct virtio_counters *c = &t->counters;
		uint64_t d[VIRTIO_CTR_COUNT];
		const char *id = strchr(t->name, ' '); /* "virtio-blk ID" */

		if (t->info.device_id != device_id)
			continue;
		for (int i = 0; i < VIRTIO_CTR_COUNT; i++) {
			d[i] = c->total[i] - c->reported[i];
			c->reported[i] = c->total[i];
		}
		fn(arg, id ? id + 1 : t->name, d);
	}
}

void virtio_counters_take(struct dev_ctx *ctx, uint16_t device_id,
			  uint64_t d[VIRTIO_CTR_COUNT])
{
	for (struct virtio_transport *t = ctx->virtio_devs; t; t = t->next) {
		struct virtio_counters *c = &t->counters;

		if (t->info.device_id != device_id)
			continue;
		for (int i = 0; i < VIRTIO_CTR_COUNT; i++) {
			d[i] += c->total[i] - c->reported[i];
			c->reported[i] = c->total[i];
		}
	}
}
