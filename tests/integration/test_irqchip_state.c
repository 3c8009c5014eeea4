/*
 * KVM's PICs, IOAPIC and PIT through the irqchip device
 * (include/mvm/irqchip.h), on real KVM VMs without vCPUs: a state set up
 * in one VM comes back in a fresh one (saved again: the same bytes; KVM
 * reads back what was set), hostile nodes are refused without touching
 * the VM, and reset brings back the state KVM made.
 *
 * This needs /dev/kvm. Without it the tests fail saying so: they are not
 * skipped, since a skip reads as a pass.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/irqchip.h"

#define STATE_LEN (3 * 520 + 112)
#define PIT_OFF (3 * 520)
#define IOAPIC_OFF (2 * 520 + 8)

struct kvm_vm {
	int fd;
	struct dev_ctx ctx;
	struct irqchip *chip;
	struct device dev;
};

static int kvm_fd = -1;

static void open_kvm(void)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	cr_assert_geq(kvm_fd, 0, "/dev/kvm cannot be opened (%s): these "
		      "tests need KVM and did not run", strerror(errno));
}

static void close_kvm(void)
{
	if (kvm_fd >= 0)
		close(kvm_fd);
}

TestSuite(irqchip_state, .init = open_kvm, .fini = close_kvm);

/* A VM with the irqchip and PIT mvm creates (vm.c), and the device. */
static void vm_new(struct kvm_vm *v)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct mvm_err err = { .msg = "" };

	memset(v, 0, sizeof(*v));
	v->fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	cr_assert_geq(v->fd, 0, "KVM_CREATE_VM: %s", strerror(errno));
	cr_assert_eq(ioctl(v->fd, KVM_CREATE_IRQCHIP, 0), 0, "%s",
		     strerror(errno));
	cr_assert_eq(ioctl(v->fd, KVM_CREATE_PIT2, &pit), 0, "%s",
		     strerror(errno));
	v->ctx.vm_fd = v->fd;
	cr_assert_eq(irqchip_create(&v->ctx, &v->chip, &err), 0, "%s",
		     err.msg);
	v->dev = (struct device){ .ops = &irqchip_device_ops,
				  .opaque = v->chip };
	snprintf(v->dev.id, sizeof(v->dev.id), "irqchip");
}

static void vm_free(struct kvm_vm *v)
{
	irqchip_destroy(v->chip);
	close(v->fd);
}

static void save(struct kvm_vm *v, struct dev_state_node *n)
{
	struct mvm_err err = { .msg = "" };

	cr_assert_eq(v->dev.ops->pause(&v->dev, &err), 0);
	cr_assert_eq(v->dev.ops->save(&v->dev, n, &err), 0, "%s", err.msg);
	cr_assert_eq(n->len, STATE_LEN);
}

static struct kvm_irqchip chip(struct kvm_vm *v, __u32 id)
{
	struct kvm_irqchip c = { .chip_id = id };

	cr_assert_eq(ioctl(v->fd, KVM_GET_IRQCHIP, &c), 0);
	return c;
}

/*
 * What a guest leaves behind: PIC masks and vector bases, IOAPIC routes
 * (masked, so nothing fires), a line held high, PIT channels 1 and 2
 * programmed (channel 0 would start KVM's timer and change the state
 * under the test).
 */
static void program(struct kvm_vm *v)
{
	struct kvm_irqchip m = chip(v, KVM_IRQCHIP_PIC_MASTER);
	struct kvm_irqchip io = chip(v, KVM_IRQCHIP_IOAPIC);
	struct kvm_irq_level line = { .irq = 4, .level = 1 };
	struct kvm_pit_state2 pit;

	m.chip.pic.imr = 0x5a;
	m.chip.pic.irq_base = 0x20;
	m.chip.pic.elcr = 0x08;
	cr_assert_eq(ioctl(v->fd, KVM_SET_IRQCHIP, &m), 0);
	io.chip.ioapic.id = 3;
	io.chip.ioapic.redirtbl[4].bits = 0x10000 | 0x8000 | 0x34;
	io.chip.ioapic.redirtbl[9].bits = 0x10000 | 0x41;
	cr_assert_eq(ioctl(v->fd, KVM_SET_IRQCHIP, &io), 0);
	cr_assert_eq(ioctl(v->fd, KVM_IRQ_LINE, &line), 0);
	cr_assert_eq(ioctl(v->fd, KVM_GET_PIT2, &pit), 0);
	for (int i = 1; i < 3; i++) {
		pit.channels[i].mode = 3;
		pit.channels[i].rw_mode = 3;
		pit.channels[i].count = 0x1234 + i;
	}
	cr_assert_eq(ioctl(v->fd, KVM_SET_PIT2, &pit), 0);
}

Test(irqchip_state, state_comes_back_in_a_fresh_vm)
{
	struct mvm_err err = { .msg = "" };
	struct dev_state_node n, again, fresh;
	struct kvm_vm a, b;
	struct kvm_pit_state2 pit;

	vm_new(&a);
	vm_new(&b);
	save(&b, &fresh);
	program(&a);
	save(&a, &n);
	cr_assert(memcmp(n.data, fresh.data, STATE_LEN), "nothing changed");

	cr_assert_eq(b.dev.ops->load(&b.dev, &n, &err), 0, "%s", err.msg);
	save(&b, &again);
	cr_assert_arr_eq(again.data, n.data, STATE_LEN, "saved again");
	cr_assert_eq(chip(&b, KVM_IRQCHIP_PIC_MASTER).chip.pic.imr, 0x5a);
	cr_assert_eq(chip(&b, KVM_IRQCHIP_IOAPIC).chip.ioapic.redirtbl[4].bits,
		     0x18034);
	cr_assert(chip(&b, KVM_IRQCHIP_IOAPIC).chip.ioapic.irr & (1u << 4),
		  "the line held high");
	cr_assert_eq(ioctl(b.fd, KVM_GET_PIT2, &pit), 0);
	cr_assert_eq(pit.channels[2].count, 0x1236);
	cr_assert_eq(pit.channels[2].mode, 3);
	cr_assert_eq(b.dev.ops->resume(&b.dev, &err), 0);

	/* Reset: the state KVM made the VM with. */
	cr_assert_eq(b.dev.ops->reset(&b.dev, &err), 0, "%s", err.msg);
	dev_state_node_free(&again);
	save(&b, &again);
	cr_assert_arr_eq(again.data, fresh.data, STATE_LEN, "reset");
	dev_state_node_free(&n);
	dev_state_node_free(&again);
	dev_state_node_free(&fresh);
	vm_free(&a);
	vm_free(&b);
}

/* A copy of n with byte off xor'ed: refused, and the VM is unchanged. */
static void refused(struct kvm_vm *v, const struct dev_state_node *n,
		    size_t off, uint8_t x, const char *why)
{
	struct mvm_err err = { .msg = "" };
	struct dev_state_node bad = *n, before, after;
	uint8_t *p = malloc(n->len);

	cr_assert_not_null(p);
	memcpy(p, n->data, n->len);
	p[off] ^= x;
	bad.data = p;
	save(v, &before);
	cr_assert_eq(v->dev.ops->load(&v->dev, &bad, &err), -EINVAL, "%s",
		     why);
	cr_assert(strncmp(err.msg, "irqchip: state: ", 16) == 0, "%s",
		  err.msg);
	save(v, &after);
	cr_assert_arr_eq(after.data, before.data, STATE_LEN, "%s: the VM "
			 "changed", why);
	dev_state_node_free(&before);
	dev_state_node_free(&after);
	free(p);
}

Test(irqchip_state, hostile_nodes_are_refused)
{
	struct mvm_err err = { .msg = "" };
	struct dev_state_node n, bad;
	struct kvm_vm a, b;
	uint8_t *big;

	vm_new(&a);
	vm_new(&b);
	program(&a);
	save(&a, &n);

	bad = n;
	bad.len = n.len - 1;
	cr_assert_eq(b.dev.ops->load(&b.dev, &bad, &err), -EINVAL, "cut");
	big = calloc(1, n.len + 1);
	cr_assert_not_null(big);
	memcpy(big, n.data, n.len);
	bad.data = big;
	bad.len = n.len + 1;
	cr_assert_eq(b.dev.ops->load(&b.dev, &bad, &err), -EINVAL, "long");
	free(big);
	bad = n;
	bad.version = 2;
	cr_assert_eq(b.dev.ops->load(&b.dev, &bad, &err), -EINVAL, "version");
	bad = n;
	snprintf(bad.id, sizeof(bad.id), "serial0");
	cr_assert_eq(b.dev.ops->load(&b.dev, &bad, &err), -EINVAL, "id");

	refused(&b, &n, 0, 0x01, "a PIC's chip id");
	refused(&b, &n, 520 + 8 + 100, 0x01, "bytes past the PIC's state");
	refused(&b, &n, IOAPIC_OFF + 2, 0x10, "the IOAPIC moved");
	refused(&b, &n, PIT_OFF + 72, 0x80, "PIT flags");
	refused(&b, &n, PIT_OFF + 24 + 2, 0x01, "a PIT count of 0x11235");
	dev_state_node_free(&n);
	vm_free(&a);
	vm_free(&b);
}
