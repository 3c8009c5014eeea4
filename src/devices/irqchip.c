/*
 * KVM's PICs, IOAPIC and PIT as one device (include/mvm/irqchip.h). They
 * live in the kernel: nothing of theirs is in flight in mvm, so pause and
 * resume have nothing to do. While paused the PIT keeps counting in the
 * kernel and its interrupts wait in the controllers (and the parked
 * vCPUs' LAPICs), which is state a save takes at that moment.
 *
 * The state is KVM's own structs. The layout is KVM's ABI, fixed for
 * x86-64; the bytes of each chip's union beyond its own struct are zero
 * (mvm zeroes them before KVM fills the rest), and a load insists on it.
 */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/irqchip.h"

#define IRQCHIP_STATE_VERSION 1
#define PIT_COUNT_MAX 0x10000 /* a 16-bit counter; 0 loads as 65536 */
#define PIT_FLAGS (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)

struct irqchip_saved {
	struct kvm_irqchip chip[3]; /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
};
_Static_assert(sizeof(struct irqchip_saved) == 3 * 520 + 112,
	       "KVM's structs changed: a new IRQCHIP_STATE_VERSION");

static const __u32 chip_ids[3] = { KVM_IRQCHIP_PIC_MASTER,
				   KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC };

struct irqchip {
	int vm_fd;
	struct irqchip_saved boot; /* as KVM made them: what reset restores */
};

static int kvm_failed(struct mvm_err *err, const char *what)
{
	int e = errno;

	return mvm_fail_host(err, -e, "irqchip: %s: %s", what, strerror(e));
}

static int get_state(int vm_fd, struct irqchip_saved *s, struct mvm_err *err)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 3; i++) {
		s->chip[i].chip_id = chip_ids[i];
		if (ioctl(vm_fd, KVM_GET_IRQCHIP, &s->chip[i]) < 0)
			return kvm_failed(err, "KVM_GET_IRQCHIP");
	}
	if (ioctl(vm_fd, KVM_GET_PIT2, &s->pit) < 0)
		return kvm_failed(err, "KVM_GET_PIT2");
	/*
	 * When a count was loaded, in host time: KVM sets it anew whenever
	 * it loads a count, KVM_SET_PIT2 included. Kept, it would only make
	 * two saves of the same state differ.
	 */
	for (int i = 0; i < 3; i++)
		s->pit.channels[i].count_load_time = 0;
	return 0;
}

static int set_state(int vm_fd, const struct irqchip_saved *s,
		     struct mvm_err *err)
{
	struct irqchip_saved c = *s; /* KVM's ioctls take non-const */

	for (int i = 0; i < 3; i++)
		if (ioctl(vm_fd, KVM_SET_IRQCHIP, &c.chip[i]) < 0)
			return kvm_failed(err, "KVM_SET_IRQCHIP");
	if (ioctl(vm_fd, KVM_SET_PIT2, &c.pit) < 0)
		return kvm_failed(err, "KVM_SET_PIT2");
	return 0;
}

int irqchip_create(struct dev_ctx *ctx, struct irqchip **out,
		   struct mvm_err *err)
{
	struct irqchip *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return mvm_fail(err, -ENOMEM, "out of memory");
	c->vm_fd = ctx->vm_fd;
	ret = get_state(c->vm_fd, &c->boot, err);
	if (ret) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void irqchip_destroy(struct irqchip *c)
{
	free(c);
}

static bool zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Bytes of chip i's union that its struct does not use. */
static bool tail_zero(const struct kvm_irqchip *c, int i)
{
	size_t used = i < 2 ? sizeof(c->chip.pic) : sizeof(c->chip.ioapic);

	return zero(c->chip.dummy + used, sizeof(c->chip.dummy) - used);
}

/*
 * What mvm can judge; the values inside (vectors, masks, counts) are the
 * guest's business, and KVM takes any of them from any VMM.
 */
static int check(struct irqchip *ic, const struct device *d,
		 const struct irqchip_saved *s, struct mvm_err *err)
{
	for (int i = 0; i < 3; i++) {
		if (s->chip[i].chip_id != chip_ids[i] || s->chip[i].pad ||
		    !tail_zero(&s->chip[i], i))
			return dev_state_bad(d, err, "chip %d is not a %s", i,
					     i < 2 ? "PIC" : "IOAPIC");
	}
	/* The IOAPIC stays where this VM's MADT says it is. */
	if (s->chip[2].chip.ioapic.base_address !=
	    ic->boot.chip[2].chip.ioapic.base_address)
		return dev_state_bad(d, err, "the IOAPIC at %#llx",
				     (unsigned long long)
				     s->chip[2].chip.ioapic.base_address);
	if (s->pit.flags & ~PIT_FLAGS || !zero(s->pit.reserved,
						 sizeof(s->pit.reserved)))
		return dev_state_bad(d, err, "PIT flags %#x", s->pit.flags);
	for (int i = 0; i < 3; i++)
		if (s->pit.channels[i].count > PIT_COUNT_MAX)
			return dev_state_bad(d, err, "PIT channel %d counts "
					     "from %u", i,
					     s->pit.channels[i].count);
	return 0;
}

static int irqchip_dev_reset(struct device *d, struct mvm_err *err)
{
	struct irqchip *c = d->opaque;

	return set_state(c->vm_fd, &c->boot, err);
}

static int irqchip_dev_save(struct device *d, struct dev_state_node *out,
			    struct mvm_err *err)
{
	struct irqchip *c = d->opaque;
	struct irqchip_saved s;
	int ret = get_state(c->vm_fd, &s, err);

	if (ret)
		return ret;
	return dev_state_node_set(out, d->id, IRQCHIP_STATE_VERSION, &s,
				  sizeof(s), err);
}

static int irqchip_dev_load(struct device *d, const struct dev_state_node *in,
			    struct mvm_err *err)
{
	struct irqchip *c = d->opaque;
	struct irqchip_saved s;
	int ret;

	ret = dev_state_check(d, in, IRQCHIP_STATE_VERSION, sizeof(s),
			      sizeof(s), err);
	if (ret)
		return ret;
	memcpy(&s, in->data, sizeof(s));
	ret = check(c, d, &s, err);
	return ret ? ret : set_state(c->vm_fd, &s, err);
}

const struct device_ops irqchip_device_ops = {
	.activate = dev_nop,
	.reset = irqchip_dev_reset,
	.pause = dev_nop,
	.resume = dev_nop,
	.save = irqchip_dev_save,
	.load = irqchip_dev_load,
};
