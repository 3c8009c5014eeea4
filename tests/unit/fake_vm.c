#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/pci.h"
#include "mvm/virtio_dev.h"

#include "fake_vm.h"

void fake_vm_init(struct fake_vm *f, uint64_t gpa, uint32_t size)
{
	struct mvm_err err;

	memset(f, 0, sizeof(*f));
	f->vm.vm_fd = -1;
	bus_init(&f->vm.pio);
	bus_init(&f->vm.mmio);
	cr_assert_eq(loop_init(&f->loop, 64, &err), 0, "%s", err.msg);
	f->vm.loop = &f->loop;
	f->ram = calloc(1, size);
	cr_assert_not_null(f->ram);
	gm_add_host(&f->vm.mem, gpa, f->ram, size);
	cr_assert_eq(pci_create(&f->vm, &err), 0, "%s", err.msg);
}

void fake_vm_fini(struct fake_vm *f)
{
	virtio_destroy_devices(&f->vm);
	pci_destroy(&f->vm);
	loop_fini(&f->loop);
	bus_fini(&f->vm.pio);
	bus_fini(&f->vm.mmio);
	free(f->ram);
}
