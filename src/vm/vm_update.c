/*
 * Changes to a running VM's devices, asked for by the API's PATCH calls;
 * the API layer has already validated the request. Media swap is the
 * virtio-blk device's, a memory resize the virtio-mem device's. (Rate
 * limiters that would limit are refused where they are shaped,
 * src/api/shapes_dev.c.)
 */
#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "mvm/vm.h"

int vm_drive_swap(struct vm *vm, const char *id, const char *path,
		  struct mvm_err *err)
{
	return virtio_blk_swap(&vm->dev_ctx, id, path, err);
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
	return virtio_blk_handover(&vm->dev_ctx, release, err);
}
