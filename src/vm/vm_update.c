/*
 * Changes to a running VM's devices, asked for by the API's PATCH calls;
 * the API layer has already validated the request. Media swap and rate
 * limiters are the virtio-blk and -net devices', a memory resize the
 * virtio-mem device's.
 */
#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "mvm/vm.h"

int vm_drive_swap(struct vm *vm, const char *id, const char *path,
		  struct mvm_err *err)
{
	return virtio_blk_swap(&vm->dev_ctx, id, path, err);
}

int vm_drive_rate_limit(struct vm *vm, const char *id,
			const struct token_bucket *bandwidth,
			const struct token_bucket *ops, struct mvm_err *err)
{
	return virtio_blk_rate_limit(&vm->dev_ctx, id, bandwidth, ops, err);
}

int vm_net_rate_limit(struct vm *vm, const char *id,
		      const struct token_bucket *rx_bandwidth,
		      const struct token_bucket *rx_ops,
		      const struct token_bucket *tx_bandwidth,
		      const struct token_bucket *tx_ops, struct mvm_err *err)
{
	return virtio_net_rate_limit(&vm->dev_ctx, id, rx_bandwidth, rx_ops,
				     tx_bandwidth, tx_ops, err);
}

int vm_mem_resize(struct vm *vm, uint64_t requested, struct mvm_err *err)
{
	return virtio_mem_resize(&vm->dev_ctx, requested, err);
}

int vm_mem_status(struct vm *vm, struct virtio_mem_status *st,
		  struct mvm_err *err)
{
	return virtio_mem_status(&vm->dev_ctx, st, err);
}

int vm_disks_handover(struct vm *vm, bool release, struct mvm_err *err)
{
	/* pmem files take no lock; a release makes their data durable. */
	if (release) {
		int ret = virtio_pmem_sync(&vm->dev_ctx, err);

		if (ret)
			return ret;
	}
	return virtio_blk_handover(&vm->dev_ctx, release, err);
}
