/*
 * Device-level snapshot state of virtio-blk and virtio-net: a blob taken
 * from one VM's device comes back in a new VM's device built from the
 * same configuration, with what the guest had seen (disk config, MAC,
 * negotiated features, drop counters); a blob that does not fit the new
 * device (another disk size, a tap without the offloads the driver
 * negotiated, a foreign or cut blob) is refused.
 *
 * The NIC cases open a tap, so they need /dev/net/tun and CAP_NET_ADMIN;
 * without them they fail saying so.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/virtio_dev.h"

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
	struct mvm_err err;

	fake_vm_init(&fvm, RAM_GPA, RAM_SIZE);
	cr_assert_eq(virtio_create_devices(&fvm.ctx, cfg, &err), 0, "%s",
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
