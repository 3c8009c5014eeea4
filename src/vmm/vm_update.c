/*
 * Changes to a running VM's devices, asked for by the API's PATCH calls;
 * the API layer has already validated the request. Media swap is the
 * virtio-blk device's; rate limiting is not implemented, so it is refused
 * with -ENOTSUP and a message saying so.
 */
#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "mvm/vm.h"

int vm_drive_swap(struct vm *vm, const char *id, const char *path,
		  struct mvm_err *err)
{
	return virtio_blk_swap(vm, id, path, err);
}

/* Size 0 is Firecracker's "no limit": nothing to refuse. */
static bool limits(const struct rate_limiter *rl)
{
	return rl && (rl->bandwidth.size || rl->ops.size);
}

int vm_drive_set_rate_limiter(struct vm *vm, const char *id,
			      const struct rate_limiter *rl,
			      struct mvm_err *err)
{
	(void)vm;
	if (!limits(rl))
		return 0;
	return mvm_fail(err, -ENOTSUP, "drive %s: rate limiting is not "
			"supported yet", id);
}

int vm_net_set_rate_limiters(struct vm *vm, const char *id,
			     const struct rate_limiter *rx,
			     const struct rate_limiter *tx,
			     struct mvm_err *err)
{
	(void)vm;
	if (!limits(rx) && !limits(tx))
		return 0;
	return mvm_fail(err, -ENOTSUP, "network interface %s: rate limiting "
			"is not supported yet", id);
}
