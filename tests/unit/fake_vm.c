#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/pci.h"
#include "mvm/virtio_dev.h"

#include "fake_vm.h"

static struct fake_vm *ctx_fake(struct dev_ctx *ctx)
{
	return (struct fake_vm *)((char *)ctx - offsetof(struct fake_vm, ctx));
}

static int fake_irq_line(struct dev_ctx *ctx, unsigned irq, int level)
{
	struct fake_vm *f = ctx_fake(ctx);

	cr_assert_lt(irq, FAKE_VM_IRQS, "IRQ %u is no legacy line", irq);
	f->irq[irq] = level;
	return 0;
}

/* The first request decides, as with a real VM. */
static void fake_request_stop(struct dev_ctx *ctx, enum vm_stop_kind kind,
			      int status, const char *msg)
{
	struct fake_vm *f = ctx_fake(ctx);

	(void)msg;
	if (f->stop_kind != VM_STOP_NONE)
		return;
	f->stop_kind = kind;
	f->stop_status = status;
}

void fake_vm_init(struct fake_vm *f, uint64_t gpa, uint32_t size)
{
	struct mvm_err err;

	memset(f, 0, sizeof(*f));
	bus_init(&f->pio);
	bus_init(&f->mmio);
	cr_assert_eq(loop_init(&f->loop, 64, &err), 0, "%s", err.msg);
	f->ctx = (struct dev_ctx){
		.mem = &f->mem,
		.loop = &f->loop,
		.pio = &f->pio,
		.mmio = &f->mmio,
		.vm_fd = -1, /* no KVM: its ioctls fail, as devices allow */
		.irq_line = fake_irq_line,
		.request_stop = fake_request_stop,
	};
	f->ram = calloc(1, size);
	cr_assert_not_null(f->ram);
	gm_add_host(&f->mem, gpa, f->ram, size);
	cr_assert_eq(pci_create(&f->ctx, &err), 0, "%s", err.msg);
}

static bool quiesced(void *ctx)
{
	return ((struct dev_ctx *)ctx)->busy == 0;
}

void fake_vm_fini(struct fake_vm *f)
{
	/* As a VM's teardown: stop the devices, let the loop finish. */
	virtio_stop_devices(&f->ctx);
	while (!quiesced(&f->ctx) &&
	       loop_run_until(&f->loop, quiesced, &f->ctx, 5000) == 0)
		;
	cr_assert(quiesced(&f->ctx), "the devices did not quiesce");
	virtio_destroy_devices(&f->ctx);
	pci_destroy(&f->ctx);
	loop_fini(&f->loop);
	bus_fini(&f->pio);
	bus_fini(&f->mmio);
	free(f->ram);
}
