/*
 * The virtio PCI transport without KVM: a fake device model behind it, a
 * real event loop, guest memory in this process. The driver's side is
 * played through the VM's MMIO bus, as a guest would: feature negotiation,
 * the status state machine, queue setup and its freeze, notifications,
 * reset (immediate before DRIVER_OK, through the loop after), NEEDS_RESET
 * on a bad ring, ISR, device config and the PCI_CFG window.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/loop.h"
#include "mvm/pci.h"
#include "mvm/virtio_dev.h"

#include "fake_vm.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE (1u << 20)
#define FAKE_FEATURE 3
#define CC 0x0000
#define ISR 0x1000
#define DEVCFG 0x2000
#define NOTIFY 0x3000

struct fake {
	struct virtio_transport *t;
	int activated, notified, resets;
	unsigned last_queue;
	bool hold_reset; /* pretend I/O is in flight */
};

static struct fake_vm fvm;
#define loop (fvm.loop)
static struct fake fake;
static uint64_t bar;

static void stop(void)
{
	loop_stop(&loop);
}

static void f_config_read(void *dev, uint32_t off, uint8_t *data,
			  uint32_t len)
{
	(void)dev;
	for (uint32_t i = 0; i < len; i++)
		data[i] = (uint8_t)(0xc0 + off + i);
}

static void f_activate(void *dev)
{
	((struct fake *)dev)->activated++;
	stop();
}

static void f_queue_notify(void *dev, struct virtio_queue *q)
{
	((struct fake *)dev)->notified++;
	((struct fake *)dev)->last_queue = q->index;
	stop();
}

static void f_reset(void *dev)
{
	struct fake *f = dev;

	f->resets++;
	if (!f->hold_reset)
		virtio_reset_done(f->t);
	stop();
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = f_config_read,
	.activate = f_activate,
	.queue_notify = f_queue_notify,
	.reset = f_reset,
};

static void setup(void)
{
	struct virtio_dev_info info = {
		.kind = "virtio-fake", .id = "f0", .device_id = 42,
		.pci_class = 0xff0000, .features = VIRTIO_BIT(FAKE_FEATURE),
		.nr_queues = 2, .queue_size = 64, .config_size = 8,
	};
	struct mvm_err err;

	memset(&fake, 0, sizeof(fake));
	fake_vm_init(&fvm, RAM_GPA, RAM_SIZE);
	cr_assert_eq(virtio_pci_create(&fvm.ctx, &info, &fake_ops, &fake,
				       &fake.t, &err), 0, "%s", err.msg);
	bar = fake.t->pci.bar[0].at;
	cr_assert(fake.t->pci.bar[0].mapped);
	alarm(10); /* a loop that never stops must not hang the suite */
}

static void teardown(void)
{
	fake.hold_reset = false;
	fake_vm_fini(&fvm);
	alarm(0);
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

static uint32_t rd(uint64_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };

	cr_assert(bus_dispatch(&fvm.mmio, bar + off, d, len, false));
	return len == 1 ? d[0] : len == 2 ? pci_get16(d) : pci_get32(d);
}

static void wr(uint64_t off, uint32_t len, uint32_t v)
{
	uint8_t d[8];

	pci_put32(d, v);
	cr_assert(bus_dispatch(&fvm.mmio, bar + off, d, len, true));
}

static uint64_t device_features(void)
{
	wr(CC + 0x00, 4, 0);
	uint64_t f = rd(CC + 0x04, 4);
	wr(CC + 0x00, 4, 1);
	return f | (uint64_t)rd(CC + 0x04, 4) << 32;
}

static void driver_features(uint64_t f)
{
	wr(CC + 0x08, 4, 0);
	wr(CC + 0x0c, 4, (uint32_t)f);
	wr(CC + 0x08, 4, 1);
	wr(CC + 0x0c, 4, (uint32_t)(f >> 32));
}

static uint8_t status(void)
{
	return (uint8_t)rd(CC + 0x14, 1);
}

static bool negotiate(uint64_t f)
{
	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	driver_features(f);
	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK);
	return status() & VIRTIO_STATUS_FEATURES_OK;
}

static void setup_queue(unsigned q, uint16_t size, uint64_t base)
{
	wr(CC + 0x16, 2, q);
	wr(CC + 0x18, 2, size);
	wr(CC + 0x20, 4, (uint32_t)base);
	wr(CC + 0x24, 4, 0);
	wr(CC + 0x28, 4, (uint32_t)(base + 0x1000));
	wr(CC + 0x2c, 4, 0);
	wr(CC + 0x30, 4, (uint32_t)(base + 0x2000));
	wr(CC + 0x34, 4, 0);
	wr(CC + 0x1c, 2, 1);
}

static void driver_ok(void)
{
	wr(CC + 0x14, 1, status() | VIRTIO_STATUS_DRIVER_OK);
	loop_run(&loop);
}

Test(virtio_pci, identity_and_capabilities)
{
	struct pci_dev *d = &fake.t->pci;
	int vendor_caps = 0;

	cr_assert_eq(pci_get16(d->cfg), 0x1af4);
	cr_assert_eq(pci_get16(d->cfg + 2), 0x1040 + 42);
	cr_assert_geq(d->cfg[8], 1, "modern devices have revision >= 1");
	for (uint8_t c = d->cfg[0x34]; c; c = d->cfg[c + 1])
		if (d->cfg[c] == PCI_CAP_ID_VNDR)
			vendor_caps++;
	cr_assert_eq(vendor_caps, 5, "common, ISR, device, notify, PCI_CFG");
	cr_assert_eq(rd(CC + 0x12, 2), 2, "num_queues");
}

Test(virtio_pci, features_offered_and_negotiated)
{
	uint64_t f = device_features();

	cr_assert(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	cr_assert(f & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	cr_assert(f & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	cr_assert(f & VIRTIO_BIT(FAKE_FEATURE));
	cr_assert_not(f & VIRTIO_BIT(VIRTIO_F_RING_PACKED));
	/* Legacy drivers (no VERSION_1) and unknown bits are refused. */
	cr_assert_not(negotiate(VIRTIO_BIT(FAKE_FEATURE)));
	wr(CC + 0x14, 1, 0);
	cr_assert_not(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) |
				VIRTIO_BIT(40)));
	wr(CC + 0x14, 1, 0);
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			    VIRTIO_BIT(FAKE_FEATURE)));
	cr_assert(virtio_has(fake.t, FAKE_FEATURE));
	cr_assert_not(virtio_has(fake.t, VIRTIO_F_RING_EVENT_IDX));
	/* Features are frozen once FEATURES_OK is set. */
	driver_features(VIRTIO_BIT(VIRTIO_F_VERSION_1));
	wr(CC + 0x08, 4, 0);
	cr_assert_eq(rd(CC + 0x0c, 4), VIRTIO_BIT(FAKE_FEATURE));
}

Test(virtio_pci, queue_setup_freezes_when_enabled)
{
	wr(CC + 0x16, 2, 0);
	cr_assert_eq(rd(CC + 0x18, 2), 64, "maximum size");
	cr_assert_eq(rd(CC + 0x1a, 2), MSIX_NO_VECTOR);
	cr_assert_eq(rd(CC + 0x1e, 2), 0, "notify offset");
	wr(CC + 0x1a, 2, 2);
	cr_assert_eq(rd(CC + 0x1a, 2), 2, "vector 2 exists (3 vectors)");
	wr(CC + 0x1a, 2, 3);
	cr_assert_eq(rd(CC + 0x1a, 2), MSIX_NO_VECTOR, "no vector 3");
	setup_queue(0, 16, RAM_GPA);
	cr_assert_eq(rd(CC + 0x1c, 2), 1);
	wr(CC + 0x18, 2, 32);
	wr(CC + 0x20, 4, 0x1234);
	cr_assert_eq(rd(CC + 0x18, 2), 16, "size frozen");
	cr_assert_eq(rd(CC + 0x20, 4), (uint32_t)RAM_GPA, "address frozen");
	wr(CC + 0x16, 2, 9);
	cr_assert_eq(rd(CC + 0x18, 2), 0, "no queue 9");
}

Test(virtio_pci, driver_ok_activates_and_notify_reaches_the_device)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	cr_assert_eq(fake.activated, 1);
	cr_assert(fake.t->queues[1].ready);
	cr_assert_not(fake.t->queues[0].ready, "queue 0 was never enabled");
	/* Activation looks at the enabled queue once. */
	if (!fake.notified)
		loop_run(&loop);
	cr_assert_eq(fake.notified, 1);
	/* No ioeventfd without KVM: the MMIO path kicks the same eventfd. */
	wr(NOTIFY + 4 * 1, 2, 1);
	loop_run(&loop);
	cr_assert_eq(fake.notified, 2);
	cr_assert_eq(fake.last_queue, 1);
}

Test(virtio_pci, reset_before_driver_ok_is_immediate)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(0, 16, RAM_GPA);
	wr(CC + 0x14, 1, 0);
	cr_assert_eq(status(), 0);
	wr(CC + 0x16, 2, 0);
	cr_assert_eq(rd(CC + 0x1c, 2), 0, "queue disabled");
	cr_assert_eq(rd(CC + 0x18, 2), 64, "size back to the maximum");
	cr_assert_eq(fake.resets, 0, "the device never started");
}

Test(virtio_pci, reset_after_driver_ok_waits_for_the_device)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(0, 16, RAM_GPA);
	driver_ok();
	fake.hold_reset = true;
	wr(CC + 0x14, 1, 0);
	cr_assert_neq(status(), 0, "reset reported before the device stopped");
	loop_run(&loop);
	cr_assert_eq(fake.resets, 1);
	cr_assert_neq(status(), 0, "I/O still in flight");
	/* Writes other than status polling are ignored meanwhile. */
	wr(CC + 0x16, 2, 1);
	cr_assert_eq(rd(CC + 0x16, 2), 0);
	virtio_reset_done(fake.t);
	cr_assert_eq(status(), 0);
	cr_assert_not(fake.t->queues[0].enabled);
}

static int quiesced_calls;

static void count_quiesced(struct dev_ctx *ctx)
{
	(void)ctx;
	quiesced_calls++;
}

/*
 * The VM's teardown: a stopped device with I/O in flight stays counted
 * busy, and nothing runs the loop for it; its reset's end makes it idle,
 * which the last device says once.
 */
Test(virtio_pci, stop_counts_the_device_busy_until_its_io_completes)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(0, 16, RAM_GPA);
	driver_ok();
	quiesced_calls = 0;
	fvm.ctx.quiesced = count_quiesced;
	fake.hold_reset = true;
	virtio_stop_devices(&fvm.ctx);
	cr_assert_eq(fake.resets, 1, "the device was not asked to stop");
	cr_assert_eq(fvm.ctx.busy, 1);
	cr_assert_eq(quiesced_calls, 0);
	cr_assert_not(virtio_serving(fake.t));
	virtio_reset_done(fake.t);
	cr_assert_eq(fvm.ctx.busy, 0);
	cr_assert_eq(quiesced_calls, 1);
}

/* A device with nothing in flight is idle at once: nothing to wait for. */
Test(virtio_pci, stop_of_an_idle_device_is_immediate)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(0, 16, RAM_GPA);
	driver_ok();
	quiesced_calls = 0;
	fvm.ctx.quiesced = count_quiesced;
	virtio_stop_devices(&fvm.ctx);
	cr_assert_eq(fvm.ctx.busy, 0);
	cr_assert_eq(quiesced_calls, 1);
}

Test(virtio_pci, bad_ring_sets_needs_reset)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(0, 12, RAM_GPA); /* not a power of two */
	driver_ok();
	cr_assert(status() & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert(fake.t->queues[0].broken);
	/* A reset clears it. */
	wr(CC + 0x14, 1, 0);
	loop_run(&loop);
	cr_assert_eq(status(), 0);
	cr_assert_not(fake.t->queues[0].broken);
}

Test(virtio_pci, ring_outside_ram_sets_needs_reset)
{
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(0, 16, 0xf0000000);
	driver_ok();
	cr_assert(status() & VIRTIO_STATUS_NEEDS_RESET);
}

Test(virtio_pci, isr_config_and_window)
{
	struct pci_dev *d = &fake.t->pci;
	uint8_t c = fake.t->pci_cfg_cap, v[4];

	cr_assert_eq(rd(DEVCFG + 2, 2), 0xc3c2);
	cr_assert_eq(rd(DEVCFG + 8, 4), 0, "beyond the config size");
	virtio_config_changed(fake.t);
	cr_assert_eq(rd(ISR, 1), 2, "config change");
	cr_assert_eq(rd(ISR, 1), 0, "reading cleared it");
	/* PCI_CFG: BAR 0, offset of device_status, one byte. */
	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	pthread_mutex_lock(&fvm.ctx.pci->lock);
	v[0] = 0;
	pci_dev_cfg_access(d, c + 4, v, 1, true);
	pci_put32(v, 0x14);
	pci_dev_cfg_access(d, c + 8, v, 4, true);
	pci_put32(v, 1);
	pci_dev_cfg_access(d, c + 12, v, 4, true);
	memset(v, 0, 4);
	pci_dev_cfg_access(d, c + 16, v, 1, false);
	pthread_mutex_unlock(&fvm.ctx.pci->lock);
	cr_assert_eq(v[0], VIRTIO_STATUS_ACKNOWLEDGE);
}

Test(virtio_pci, state_round_trip)
{
	static uint8_t blob[8192];
	size_t n;

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			    VIRTIO_BIT(FAKE_FEATURE)));
	wr(CC + 0x10, 2, 2); /* config vector */
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	fake.t->queues[1].vq.last_avail = 5;
	fake.t->queues[1].vq.used_idx = 4;
	cr_assert_eq(virtio_save(fake.t, blob, 16), 0, "too small");
	n = virtio_save(fake.t, blob, sizeof(blob));
	cr_assert_gt(n, 0);

	/* Reset wipes it all... */
	wr(CC + 0x14, 1, 0);
	loop_run(&loop);
	cr_assert_eq(status(), 0);
	cr_assert_not(fake.t->queues[1].ready);

	/* ...and the blob brings it back, live. */
	cr_assert_eq(virtio_load(fake.t, blob, n), 0);
	cr_assert(status() & VIRTIO_STATUS_DRIVER_OK);
	cr_assert(virtio_has(fake.t, FAKE_FEATURE));
	cr_assert_eq(rd(CC + 0x10, 2), 2);
	wr(CC + 0x16, 2, 1);
	cr_assert_eq(rd(CC + 0x18, 2), 16);
	cr_assert_eq(rd(CC + 0x1c, 2), 1);
	cr_assert(fake.t->queues[1].ready);
	cr_assert_eq(fake.t->queues[1].vq.last_avail, 5);
	cr_assert_eq(fake.t->queues[1].vq.used_idx, 4);
	cr_assert_eq(fake.activated, 2);

	/* Blobs of another shape are refused. */
	blob[0] ^= 1;
	cr_assert_eq(virtio_load(fake.t, blob, n), -EINVAL);
	blob[0] ^= 1;
	cr_assert_eq(virtio_load(fake.t, blob, n - 1), -EINVAL);
}
