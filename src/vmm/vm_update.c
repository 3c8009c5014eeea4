/*
 * Changes to a running VM's devices, asked for by the API's PATCH calls.
 * The virtio-blk and virtio-net devices are not attached yet, so each
 * change is refused with -ENOTSUP and a message saying so; the API layer
 * has already validated and recorded the request. When the devices land,
 * these become calls into them.
 */
#include "mvm/err.h"
#include "mvm/vm.h"

int vm_drive_swap(struct vm *vm, const char *id, const char *path,
		  struct mvm_err *err)
{
	(void)vm;
	(void)path;
	return mvm_fail(err, -ENOTSUP, "drive %s: drive media swap is not "
			"supported yet", id);
}

int vm_drive_set_rate_limiter(struct vm *vm, const char *id,
			      const struct rate_limiter *rl,
			      struct mvm_err *err)
{
	(void)vm;
	(void)rl;
	return mvm_fail(err, -ENOTSUP, "drive %s: rate limiting is not "
			"supported yet", id);
}

int vm_net_set_rate_limiters(struct vm *vm, const char *id,
			     const struct rate_limiter *rx,
			     const struct rate_limiter *tx,
			     struct mvm_err *err)
{
	(void)vm;
	(void)rx;
	(void)tx;
	return mvm_fail(err, -ENOTSUP, "network interface %s: rate limiting "
			"is not supported yet", id);
}
