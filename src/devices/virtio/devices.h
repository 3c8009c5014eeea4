/* Constructors of the virtio device models. */
#ifndef MVM_VIRTIO_DEVICES_H
#define MVM_VIRTIO_DEVICES_H

struct vm;
struct mvm_err;
struct disk_config;
struct net_config;

int rng_create(struct vm *vm, struct mvm_err *err);
int blk_create(struct vm *vm, const struct disk_config *cfg,
	       struct mvm_err *err);
int net_create(struct vm *vm, const struct net_config *cfg,
	       struct mvm_err *err);

#endif
