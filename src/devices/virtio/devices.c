/*
 * The virtio devices a VM's configuration asks for, created in a fixed
 * order (entropy, disks, NICs) so PCI slots are stable from boot to boot.
 */
#include "mvm/err.h"
#include "mvm/virtio_dev.h"
#include "mvm/vm.h"

#include "devices.h"

int virtio_create_devices(struct vm *vm, struct mvm_err *err)
{
	int ret;

	if (vm->cfg.rng) {
		ret = rng_create(vm, err);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < vm->cfg.nr_disks; i++) {
		ret = blk_create(vm, &vm->cfg.disks[i], err);
		if (ret)
			return ret;
	}
	for (unsigned i = 0; i < vm->cfg.nr_nets; i++) {
		ret = net_create(vm, &vm->cfg.nets[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

void virtio_destroy_devices(struct vm *vm)
{
	while (vm->virtio_devs)
		virtio_pci_destroy(vm->virtio_devs);
}

void virtio_counters_take(struct vm *vm, uint16_t device_id,
			  uint64_t d[VIRTIO_CTR_COUNT])
{
	for (struct virtio_dev *t = vm->virtio_devs; t; t = t->next) {
		struct virtio_counters *c = &t->counters;

		if (t->info.device_id != device_id)
			continue;
		for (int i = 0; i < VIRTIO_CTR_COUNT; i++) {
			d[i] += c->total[i] - c->reported[i];
			c->reported[i] = c->total[i];
		}
	}
}
