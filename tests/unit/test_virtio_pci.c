/*
 * The virtio PCI transport without KVM: a fake device model behind it, a
 * real event loop, guest memory in this process. The driver's side is
 * played through the VM's MMIO bus, as a guest would: feature negotiation,
 * the status state machine, queue setup and its freeze, notifications,
 * reset (immediate before DRIVER_OK, through the loop after), NEEDS_RESET
 * on a bad ring, ISR, device config and the PCI_CFG window; and the
 * device interface (include/mvm/device.h): a pause that waits for the
 * model's requests, what the driver does while paused, the state as a
 * node and nodes that are refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/loop.h"
#include "mvm/msix.h"
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
	int activated, notified, resets, pauses;
	unsigned last_queue;
	bool hold_reset; /* pretend I/O is in flight */
	unsigned inflight; /* what a pause waits for */
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

static void f_pause(void *dev)
{
	((struct fake *)dev)->pauses++;
}

static unsigned f_inflight(void *dev)
{
	return ((struct fake *)dev)->inflight;
}

static const struct virtio_dev_ops fake_ops = {
	.config_read = f_config_read,
	.activate = f_activate,
	.queue_notify = f_queue_notify,
	.reset = f_reset,
	.pause = f_pause,
	.inflight = f_inflight,
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

/* ---- the device interface ------------------------------------------- */

static struct device iface(void)
{
	struct device d = { .ops = &virtio_device_ops, .opaque = fake.t };

	snprintf(d.id, sizeof(d.id), "virtio-fake:f0");
	return d;
}

static bool never(void *ctx)
{
	(void)ctx;
	return false;
}

/* Run the loop for ms: what fires meanwhile is dispatched. */
static void spin(int ms)
{
	cr_assert_eq(loop_wait(&loop, never, NULL, ms), -ETIMEDOUT);
}

/* A request the model completes 20 ms from now, from the loop. */
static struct {
	struct loop_op op;
	struct __kernel_timespec ts;
} later;

static void later_done(struct loop_op *op, int res, unsigned flags)
{
	struct virtio_queue *q = &fake.t->queues[1];

	(void)op;
	(void)res;
	(void)flags;
	fake.inflight--;
	virtio_queue_complete(q, 0, 0);
	virtio_queue_flush_later(q);
}

static void complete_later(void)
{
	struct io_uring_sqe *sqe = loop_sqe(&loop);

	cr_assert_not_null(sqe);
	later.ts = (struct __kernel_timespec){ .tv_nsec = 20000000 };
	io_uring_prep_timeout(sqe, &later.ts, 0, 0);
	later.op.done = later_done;
	loop_prep(&loop, sqe, &later.op);
	fake.inflight++;
}

static uint16_t used_idx(unsigned q)
{
	(void)q;
	return pci_get16(fvm.ram + 0x2000 + 2); /* setup_queue(_, _, RAM) */
}

Test(virtio_pci, pause_waits_for_requests_and_delivers_them)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	complete_later();
	cr_assert_eq(d.ops->pause(&d, &err), 0, "%s", err.msg);
	cr_assert_eq(fake.pauses, 1, "the model was told to cancel");
	cr_assert_eq(fake.inflight, 0, "the pause waited for the request");
	cr_assert_eq(used_idx(1), 1, "its completion is in the used ring");
	cr_assert_eq(rd(ISR, 1) & 1, 1, "and the driver was signalled");
	cr_assert_not(virtio_serving(fake.t));

	/* A kick while paused waits; resume serves every live queue. */
	fake.notified = 0;
	wr(NOTIFY + 4 * 1, 2, 1);
	spin(30);
	cr_assert_eq(fake.notified, 0, "served while paused");
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(fake.notified, 1);
	cr_assert(virtio_serving(fake.t));
}

Test(virtio_pci, a_pause_that_times_out_leaves_the_device_running)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	fake.inflight = 1; /* never completes */
	fake.t->quiesce_ms = 50;
	cr_assert_eq(d.ops->pause(&d, &err), -ETIMEDOUT);
	cr_assert_str_eq(err.msg, "virtio-fake f0: 1 request(s) still in "
			 "flight after 50 ms; not paused");
	cr_assert(virtio_serving(fake.t));
	fake.inflight = 0;
}

Test(virtio_pci, the_driver_status_written_before_a_pause_is_not_lost)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();

	/* DRIVER_OK that comes while paused is acted on at resume. */
	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(1, 16, RAM_GPA);
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	wr(CC + 0x14, 1, status() | VIRTIO_STATUS_DRIVER_OK);
	spin(30);
	cr_assert_eq(fake.activated, 0);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(fake.activated, 1);

	/* A reset the driver asked for just before: done by the pause. */
	wr(CC + 0x14, 1, 0);
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(fake.resets, 1);
	cr_assert_eq(status(), 0, "the state a save takes has it");
	cr_assert_eq(d.ops->resume(&d, &err), 0);
}

Test(virtio_pci, node_round_trip_goes_live_on_activate)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();
	struct dev_state_node n, again;

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			    VIRTIO_BIT(FAKE_FEATURE)));
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(d.ops->save(&d, &n, &err), 0, "%s", err.msg);
	cr_assert_str_eq(n.id, "virtio-fake:f0");

	/* Reset (as the hardware's) while paused: done at once. */
	cr_assert_eq(d.ops->reset(&d, &err), 0, "%s", err.msg);
	cr_assert_eq(status(), 0);
	cr_assert_not(fake.t->queues[1].ready);

	/* The load puts the state back but starts nothing... */
	fake.activated = 0;
	cr_assert_eq(d.ops->load(&d, &n, &err), 0, "%s", err.msg);
	cr_assert(status() & VIRTIO_STATUS_DRIVER_OK);
	cr_assert(fake.t->queues[1].ready);
	cr_assert_eq(fake.activated, 0);
	/* ...until activate, and serves nothing until resume. */
	fake.notified = 0;
	cr_assert_eq(d.ops->activate(&d, &err), 0);
	cr_assert_eq(fake.activated, 1);
	cr_assert_eq(fake.notified, 0);
	cr_assert_eq(d.ops->save(&d, &again, &err), 0);
	cr_assert_eq(again.len, n.len);
	cr_assert_arr_eq(again.data, n.data, n.len, "the same bytes again");
	dev_state_node_free(&again);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(fake.notified, 1);
	dev_state_node_free(&n);
}

Test(virtio_pci, hostile_nodes_are_refused_naming_the_device)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();
	struct dev_state_node n, bad;
	uint8_t *buf;

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(d.ops->save(&d, &n, &err), 0);
	buf = calloc(1, n.len + 1);
	cr_assert_not_null(buf);
	memcpy(buf, n.data, n.len);
	bad = n;
	bad.data = buf;

	bad.len = n.len - 1;
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "cut");
	cr_assert_not_null(strstr(err.msg, "f0"), "%s", err.msg);
	bad.len = 10;
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "cut short");
	bad.len = n.len + 1;
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "oversized");
	bad.len = DEV_STATE_MAX_LEN + 1;
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "too large");
	bad.len = n.len;
	bad.version = 2;
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "node version");
	bad.version = n.version;
	buf[4] ^= 0xff; /* the blob's own version */
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "blob version");
	buf[4] ^= 0xff;
	buf[8] ^= 1; /* the device type */
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "device type");
	cr_assert_not_null(strstr(err.msg, "another device type"), "%s",
			   err.msg);
	buf[8] ^= 1;
	snprintf(bad.id, sizeof(bad.id), "virtio-fake:f1");
	cr_assert_eq(d.ops->load(&d, &bad, &err), -EINVAL, "another's");
	cr_assert_str_eq(err.msg, "virtio-fake:f0: state: the node is "
			 "virtio-fake:f1's");
	/* None of it touched the device. */
	cr_assert(status() & VIRTIO_STATUS_DRIVER_OK);
	cr_assert(fake.t->queues[1].ready);
	free(buf);
	dev_state_node_free(&n);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
}

/*
 * What a hostile driver can put in the registers, its device saves in a
 * state that loads again (found by the device fuzzers' lifecycle op: a
 * snapshot the VMM took and then could not restore). The driver cannot
 * clear a status bit but by a reset, its feature register may hold bits
 * never offered, and a queue not enabled may hold any size.
 */
Test(virtio_pci, what_a_hostile_driver_writes_saves_and_loads_again)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();
	struct dev_state_node n, again;

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	setup_queue(1, 16, RAM_GPA);
	driver_ok();
	cr_assert(virtio_active(fake.t));
	wr(CC + 0x14, 1, VIRTIO_STATUS_FAILED | 0x20); /* clears, undefined */
	cr_assert_eq(status(), VIRTIO_STATUS_ACKNOWLEDGE |
		     VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		     VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED);
	wr(CC + 0x08, 4, 1); /* unoffered bits: FEATURES_OK is set, so */
	wr(CC + 0x0c, 4, 0xffffffff); /* the register is frozen anyway */
	wr(CC + 0x16, 2, 0);
	wr(CC + 0x18, 2, 17920); /* above the maximum, never enabled */

	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(d.ops->save(&d, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(d.ops->reset(&d, &err), 0, "%s", err.msg);
	cr_assert_eq(d.ops->load(&d, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(d.ops->activate(&d, &err), 0);
	cr_assert_eq(d.ops->save(&d, &again, &err), 0);
	cr_assert_arr_eq(again.data, n.data, n.len, "the same bytes again");
	cr_assert(virtio_active(fake.t));
	dev_state_node_free(&again);
	dev_state_node_free(&n);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
}

Test(virtio_pci, driver_features_may_hold_what_was_never_offered)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();
	struct dev_state_node n;

	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	driver_features(~0ULL);
	wr(CC + 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK);
	cr_assert_not(status() & VIRTIO_STATUS_FEATURES_OK, "refused");
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	cr_assert_eq(d.ops->save(&d, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(d.ops->load(&d, &n, &err), 0, "%s", err.msg);
	wr(CC + 0x08, 4, 1);
	cr_assert_eq(rd(CC + 0x0c, 4), 0xffffffff, "the register as it was");
	dev_state_node_free(&n);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
}

/* MSI-X on, vector 0 unmasked with a valid message, config on vector 0. */
static void msix_on(void)
{
	struct msix *m = &fake.t->msix;
	uint8_t ctl[2];

	wr(0x4000 + 0, 4, 0xfee00000);
	wr(0x4000 + 8, 4, 0x31);
	wr(0x4000 + 12, 4, 0);
	pci_put16(ctl, 0x8000 | (uint16_t)(m->nr - 1));
	pthread_mutex_lock(&fvm.ctx.pci->lock);
	pci_dev_cfg_access(&fake.t->pci, m->cap + 2, ctl, 2, true);
	pthread_mutex_unlock(&fvm.ctx.pci->lock);
	cr_assert(msix_enabled(m));
	wr(CC + 0x10, 2, 0);
	cr_assert_eq(rd(CC + 0x10, 2), 0);
}

Test(virtio_pci, a_paused_device_holds_its_interrupts_in_the_pba)
{
	struct mvm_err err = { .msg = "" };
	struct device d = iface();
	struct msix *m = &fake.t->msix;

	cr_assert(negotiate(VIRTIO_BIT(VIRTIO_F_VERSION_1)));
	msix_on();
	driver_ok();
	cr_assert_eq(d.ops->pause(&d, &err), 0);
	/* A media change while paused: the interrupt waits, pending. */
	virtio_config_changed(fake.t);
	cr_assert_eq(m->pba[0] & 1, 1, "pending: a save carries it");
	cr_assert_eq(atomic_load(&m->dropped), 0, "nothing sent");
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(m->pba[0] & 1, 0);
	/* Sent now; a VM without KVM has nowhere to put it. */
	cr_assert_eq(atomic_load(&m->dropped), 1);
}
