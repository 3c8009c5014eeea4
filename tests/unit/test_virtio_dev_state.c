/*
 * Device-level snapshot state of virtio-blk and virtio-net: a blob taken
 * from one VM's device comes back in a new VM's device built from the
 * same configuration, with what the guest had seen (disk config, MAC,
 * negotiated features, drop counters); a blob that does not fit the new
 * device (another disk size, a tap without the offloads the driver
 * negotiated, a foreign or cut blob) is refused.
 *
 * A pause (include/mvm/device.h) waits for a disk read in flight and
 * cancels the NIC's read on its tap, giving back its buffers; requests
 * that come while paused wait for resume. Each kind's node (rng, blk,
 * net) comes back in a fresh device, which saves the same bytes again.
 *
 * The NIC cases open a tap, so they need /dev/net/tun and CAP_NET_ADMIN;
 * without them they fail saying so.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "../../src/devices/virtio/blk_req.h"
#include "../../src/devices/virtio/net_dev.h"
#include "fake_vm.h"

#define RAM_GPA 0x100000ULL
#define RAM_SIZE (1u << 20)
#define VERSION_1 (1ULL << 32)

static struct fake_vm fvm;
static uint8_t blob[16384];
static char img[] = "/tmp/mvm-unit-blk-XXXXXX";

/* A fresh VM with the devices its cfg asks for; the first device. */
static struct virtio_transport *create(const struct vm_config *cfg)
{
	struct virtio_devs_config dc = {
		.rng = cfg->rng,
		.disks = cfg->disks,
		.nr_disks = cfg->nr_disks,
		.cpus = cfg->cpus,
		.nets = cfg->nets,
		.nr_nets = cfg->nr_nets,
	};
	struct mvm_err err;

	fake_vm_init(&fvm, RAM_GPA, RAM_SIZE);
	cr_assert_eq(virtio_create_devices(&fvm.ctx, &dc, &err), 0, "%s",
		     err.msg);
	cr_assert_not_null(fvm.ctx.virtio_devs);
	return fvm.ctx.virtio_devs;
}

static void config(struct virtio_transport *t, uint32_t off, void *buf,
		   uint32_t len)
{
	t->ops->config_read(t->dev, off, buf, len);
}

/* As if the driver had negotiated these features and set DRIVER_OK. */
static void negotiated(struct virtio_transport *t, uint64_t f)
{
	t->driver_features = t->features = f;
	t->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		    VIRTIO_STATUS_FEATURES_OK;
}

static struct vm_config disk_cfg(void)
{
	struct vm_config c = { 0 };

	snprintf(c.disks[0].id, sizeof(c.disks[0].id), "d0");
	c.disks[0].path = img;
	c.nr_disks = 1;
	return c;
}

static void make_image(off_t size)
{
	int fd = mkstemp(img);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, size), 0);
	close(fd);
}

Test(virtio_dev_state, blk_round_trip_and_refusals)
{
	struct vm_config c;
	struct virtio_transport *t;
	uint64_t cap = 0;
	size_t n;

	make_image(1 << 20);
	c = disk_cfg();
	t = create(&c);
	negotiated(t, VERSION_1);
	cr_assert_eq(virtio_save(t, blob, 64), 0, "a short buffer is no blob");
	n = virtio_save(t, blob, sizeof(blob));
	cr_assert_gt(n, 0);
	fake_vm_fini(&fvm);

	/* Same disk: the guest's view of it comes back. */
	t = create(&c);
	cr_assert_eq(virtio_load(t, blob, n), 0);
	config(t, 0, &cap, sizeof(cap));
	cr_assert_eq(cap, 2048, "capacity %llu sectors",
		     (unsigned long long)cap);
	cr_assert(virtio_has(t, 32), "VERSION_1 negotiated again");
	cr_assert_eq(virtio_load(t, blob, n - 1), -EINVAL, "cut blob");
	fake_vm_fini(&fvm);

	/* The image grew meanwhile: not the disk the guest knew. */
	cr_assert_eq(truncate(img, 2 << 20), 0);
	t = create(&c);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	fake_vm_fini(&fvm);

	/* The same image, now read-only: refused too. */
	c.disks[0].readonly = true;
	t = create(&c);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	fake_vm_fini(&fvm);
	unlink(img);
}

static struct vm_config nic_cfg(const char *mac)
{
	struct vm_config c = { 0 };

	snprintf(c.nets[0].id, sizeof(c.nets[0].id), "n0");
	snprintf(c.nets[0].tap, sizeof(c.nets[0].tap), "mvmut%d", getpid() % 10000);
	if (mac) {
		cr_assert(net_mac_parse(mac, c.nets[0].mac));
		c.nets[0].mac_set = true;
	}
	c.nr_nets = 1;
	return c;
}

Test(virtio_dev_state, net_keeps_the_mac_the_guest_knows)
{
	struct vm_config c = nic_cfg("52:54:00:aa:bb:01");
	uint8_t mac[NET_MAC_LEN];
	struct virtio_transport *t;
	struct net *nd;
	size_t n;

	t = create(&c);
	nd = t->dev;
	negotiated(t, VERSION_1 | (1ULL << NET_F_MAC));
	nd->tx_spoofed = 7;
	n = virtio_save(t, blob, sizeof(blob));
	cr_assert_gt(n, 0);
	fake_vm_fini(&fvm);

	/* The new configuration would give another MAC: the saved one wins. */
	c = nic_cfg("52:54:00:aa:bb:02");
	t = create(&c);
	cr_assert_eq(virtio_load(t, blob, n), 0);
	config(t, 0, mac, sizeof(mac));
	cr_assert_arr_eq(mac, ((uint8_t[]){ 0x52, 0x54, 0, 0xaa, 0xbb, 1 }),
			 NET_MAC_LEN);
	nd = t->dev;
	cr_assert_arr_eq(nd->mac, mac, NET_MAC_LEN, "frames are checked "
			 "against the MAC the guest uses");
	cr_assert_eq(nd->tx_spoofed, 7);
	fake_vm_fini(&fvm);
}

Test(virtio_dev_state, net_refuses_offloads_the_new_tap_lacks)
{
	struct vm_config c = nic_cfg(NULL);
	struct virtio_transport *t;
	struct net *nd;
	size_t n;

	t = create(&c);
	nd = t->dev;
	cr_assert(nd->be->offloads, "a tap offers checksum offload");
	negotiated(t, VERSION_1 | (1ULL << NET_F_GUEST_CSUM));
	n = virtio_save(t, blob, sizeof(blob));
	cr_assert_gt(n, 0);
	fake_vm_fini(&fvm);

	/* A device that does not offer them refuses the features... */
	t = create(&c);
	t->offered &= ~(1ULL << NET_F_GUEST_CSUM);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL,
		     "features this device does not offer");
	fake_vm_fini(&fvm);

	/* ...and a backend that cannot do them refuses the NIC's part. */
	t = create(&c);
	nd = t->dev;
	nd->be->offloads = false;
	cr_assert_eq(virtio_load(t, blob, n), -EOPNOTSUPP);
	fake_vm_fini(&fvm);
}

Test(virtio_dev_state, blobs_of_another_device_are_refused)
{
	struct vm_config c;
	struct virtio_transport *t;
	size_t n;

	make_image(1 << 20);
	c = disk_cfg();
	t = create(&c);
	n = virtio_save(t, blob, sizeof(blob));
	fake_vm_fini(&fvm);
	c = nic_cfg(NULL);
	t = create(&c);
	cr_assert_eq(virtio_load(t, blob, n), -EINVAL);
	fake_vm_fini(&fvm);
	unlink(img);
}

/* ---- pausing real models (include/mvm/device.h) ---------------------- */

#define DESC_OFF 0x0000
#define AVAIL_OFF 0x1000
#define USED_OFF 0x2000
#define BUF_OFF 0x10000

static struct device iface(struct virtio_transport *t)
{
	struct device d = { .ops = &virtio_device_ops, .opaque = t };

	virtio_device_id(t, d.id, sizeof(d.id));
	cr_assert_eq(strchr(d.id, ':') - d.id, 10, "%s", d.id);
	return d;
}

/* Queue qi in RAM (its rings at the start), enabled; DRIVER_OK. */
static void live(struct virtio_transport *t, unsigned qi, uint64_t f)
{
	struct virtio_queue *q = &t->queues[qi];
	struct mvm_err err = { .msg = "" };
	struct device d = iface(t);

	negotiated(t, f);
	q->size = 16;
	q->desc = RAM_GPA + DESC_OFF;
	q->driver = RAM_GPA + AVAIL_OFF;
	q->device = RAM_GPA + USED_OFF;
	q->enabled = true;
	t->status |= VIRTIO_STATUS_DRIVER_OK;
	cr_assert_eq(d.ops->activate(&d, &err), 0, "%s", err.msg);
	cr_assert(q->ready && virtio_serving(t));
}

static void desc(unsigned i, uint64_t off, uint32_t len, uint16_t flags)
{
	struct virtq_desc v = { .addr = RAM_GPA + off, .len = len,
				.flags = flags,
				.next = (uint16_t)(i + 1) };

	memcpy(fvm.ram + DESC_OFF + i * sizeof(v), &v, sizeof(v));
}

/* Make chain head available (the avail ring's next slot). */
static void offer(uint16_t head)
{
	uint16_t idx;

	memcpy(&idx, fvm.ram + AVAIL_OFF + 2, 2);
	memcpy(fvm.ram + AVAIL_OFF + 4 + 2 * (idx % 16), &head, 2);
	idx++;
	memcpy(fvm.ram + AVAIL_OFF + 2, &idx, 2);
}

static uint16_t used(void)
{
	uint16_t idx;

	memcpy(&idx, fvm.ram + USED_OFF + 2, 2);
	return idx;
}

/* A read of sector 0 into BUF_OFF as chain 3*slot, status after it. */
static uint16_t blk_read(unsigned slot)
{
	unsigned i = 3 * slot;
	uint64_t hdr = BUF_OFF + slot * 0x2000;
	uint32_t h[4] = { 0 /* T_IN */, 0, 0, 0 };

	memcpy(fvm.ram + hdr, h, sizeof(h));
	fvm.ram[hdr + 0x1000 + 512] = 0xee; /* status: not yet written */
	desc(i, hdr, 16, VIRTQ_DESC_F_NEXT);
	desc(i + 1, hdr + 0x1000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE);
	desc(i + 2, hdr + 0x1000 + 512, 1, VIRTQ_DESC_F_WRITE);
	offer((uint16_t)i);
	return (uint16_t)i;
}

static bool blk_idle(void *ctx)
{
	return ((struct blk *)ctx)->inflight == 0;
}

Test(virtio_dev_state, blk_pause_waits_for_the_read_in_flight)
{
	struct mvm_err err = { .msg = "" };
	struct virtio_transport *t;
	struct device d;
	struct blk *b;
	uint8_t sector[512];
	int fd;

	make_image(1 << 20);
	fd = open(img, O_WRONLY);
	memset(sector, 0x5a, sizeof(sector));
	cr_assert_eq(pwrite(fd, sector, sizeof(sector), 0), 512);
	close(fd);
	{
		struct vm_config c = disk_cfg();

		t = create(&c);
	}
	b = t->dev;
	d = iface(t);
	live(t, 0, VERSION_1);
	blk_read(0);
	t->ops->queue_notify(b, &t->queues[0]); /* the guest's kick */
	cr_assert_eq(b->inflight, 1, "the read is in io_uring");

	cr_assert_eq(d.ops->pause(&d, &err), 0, "%s", err.msg);
	cr_assert_eq(b->inflight, 0);
	cr_assert_eq(used(), 1, "completed into the used ring");
	cr_assert_eq(fvm.ram[BUF_OFF + 0x1000 + 512], 0, "status OK");
	cr_assert_arr_eq(fvm.ram + BUF_OFF + 0x1000, sector, 512);

	/* Paused: the next request waits, even when kicked. */
	blk_read(1);
	t->ops->queue_notify(b, &t->queues[0]);
	cr_assert_eq(b->inflight, 0);
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert_eq(loop_wait(&fvm.loop, blk_idle, b, 5000), 0);
	cr_assert_eq(used(), 2, "served after resume");
	fake_vm_fini(&fvm);
	unlink(img);
}

/* Every chain the NIC took is back in the ring or in the used ring. */
Test(virtio_dev_state, net_pause_cancels_the_read_and_gives_buffers_back)
{
	struct vm_config c = nic_cfg(NULL);
	struct mvm_err err = { .msg = "" };
	struct virtio_transport *t = create(&c);
	struct virtio_queue *q = &t->queues[0];
	struct net *nd = t->dev;
	struct device d = iface(t);

	live(t, 0, VERSION_1);
	desc(0, BUF_OFF, 4096, VIRTQ_DESC_F_WRITE);
	offer(0);
	t->ops->queue_notify(nd, q);
	cr_assert(nd->rx_inflight, "a read waits on the tap");
	cr_assert_eq(q->vq.last_avail, 1);

	cr_assert_eq(d.ops->pause(&d, &err), 0, "%s", err.msg);
	cr_assert_not(nd->rx_inflight, "cancelled");
	cr_assert_eq(q->vq.last_avail, used(), "%u taken, %u used",
		     q->vq.last_avail, used());
	cr_assert_eq(d.ops->resume(&d, &err), 0);
	cr_assert(nd->rx_inflight || used() == 1, "reading again");
	fake_vm_fini(&fvm);
}

/* ---- nodes into fresh devices, every kind ---------------------------- */

static struct vm_config all_cfg(void)
{
	struct vm_config c = nic_cfg("52:54:00:aa:bb:03");

	snprintf(c.disks[0].id, sizeof(c.disks[0].id), "d0");
	c.disks[0].path = img;
	c.nr_disks = 1;
	c.rng = true;
	return c;
}

/* Pause every virtio device of fvm and save each into n[]. */
static unsigned save_all(struct dev_state_node *n)
{
	struct mvm_err err = { .msg = "" };
	unsigned k = 0;

	for (struct virtio_transport *t = fvm.ctx.virtio_devs; t; t = t->next) {
		struct device d = iface(t);

		cr_assert_eq(d.ops->pause(&d, &err), 0, "%s", err.msg);
		cr_assert_eq(d.ops->save(&d, &n[k++], &err), 0, "%s", err.msg);
	}
	return k;
}

Test(virtio_dev_state, every_kind_comes_back_in_a_fresh_device)
{
	struct dev_state_node a[3], b[3];
	struct mvm_err err = { .msg = "" };
	struct vm_config c;
	struct virtio_transport *t;
	uint8_t mac[NET_MAC_LEN];
	uint64_t cap = 0;

	make_image(1 << 20);
	c = all_cfg();
	t = create(&c);
	for (; t; t = t->next)
		live(t, 0, VERSION_1 | (t->info.device_id == VIRTIO_ID_NET ?
					1ULL << NET_F_MAC : 0));
	cr_assert_eq(save_all(a), 3);
	fake_vm_fini(&fvm);

	t = create(&c);
	for (unsigned k = 0; t; t = t->next, k++) {
		struct device d = iface(t);

		cr_assert_str_eq(d.id, a[k].id, "the same devices, in order");
		cr_assert_eq(d.ops->pause(&d, &err), 0);
		cr_assert_eq(d.ops->load(&d, &a[k], &err), 0, "%s", err.msg);
		cr_assert_eq(d.ops->activate(&d, &err), 0);
		cr_assert(virtio_active(t) && t->queues[0].ready, "%s", d.id);
		if (t->info.device_id == VIRTIO_ID_NET)
			config(t, 0, mac, sizeof(mac));
		if (t->info.device_id == VIRTIO_ID_BLOCK)
			config(t, 0, &cap, sizeof(cap));
	}
	cr_assert_arr_eq(mac, ((uint8_t[]){ 0x52, 0x54, 0, 0xaa, 0xbb, 3 }),
			 NET_MAC_LEN);
	cr_assert_eq(cap, 2048);
	cr_assert_eq(save_all(b), 3);
	for (unsigned k = 0; k < 3; k++) {
		cr_assert_eq(b[k].len, a[k].len, "%s", a[k].id);
		cr_assert_arr_eq(b[k].data, a[k].data, a[k].len,
				 "%s: saved again, other bytes", a[k].id);
		dev_state_node_free(&a[k]);
		dev_state_node_free(&b[k]);
	}
	fake_vm_fini(&fvm);
	unlink(img);
}
