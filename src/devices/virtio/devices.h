/* Constructors of the virtio device models. */
#ifndef MVM_VIRTIO_DEVICES_H
#define MVM_VIRTIO_DEVICES_H

struct dev_ctx;
struct mvm_err;
struct disk_config;
struct net_config;
struct balloon_config;
struct mem_hotplug_config;
struct pmem_config;
struct vsock_config;

struct rate_limiter;

int rng_create(struct dev_ctx *ctx, const struct rate_limiter *rl,
	       struct mvm_err *err);
/* One queue per vCPU (of cpus), up to BLK_MAX_QUEUES. */
int blk_create(struct dev_ctx *ctx, const struct disk_config *cfg,
	       unsigned cpus, struct mvm_err *err);
int net_create(struct dev_ctx *ctx, const struct net_config *cfg,
	       struct mvm_err *err);
int balloon_create(struct dev_ctx *ctx, const struct balloon_config *cfg,
		   struct mvm_err *err);

/* cfg's region is in guest memory already, at gpa. */
int virtio_mem_create(struct dev_ctx *ctx, const struct mem_hotplug_config *cfg,
		      uint64_t gpa, struct mvm_err *err);

/*
 * cfg's file mapped at gpa (2 MiB-aligned) in KVM memory slot slot; the
 * region must end by limit. *size: its size, the file's rounded up to
 * 2 MiB.
 */
int pmem_create(struct dev_ctx *ctx, const struct pmem_config *cfg,
		uint64_t gpa, uint64_t limit, uint32_t slot,
		uint64_t *size, struct mvm_err *err);

/* cfg's virtio-vsock, listening on its uds_path from now on. */
int vsock_create(struct dev_ctx *ctx, const struct vsock_config *cfg,
		 struct mvm_err *err);

#endif
