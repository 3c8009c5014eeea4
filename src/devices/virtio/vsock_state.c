/*
 * virtio-vsock's part of a device snapshot: the guest's CID, which the
 * rebuilt device must have too. Connections are not carried, as in
 * Firecracker: their host sockets belong to this process. The loaded
 * device tells the guest with a TRANSPORT_RESET on its event queue, and
 * the guest's driver drops every connection it had.
 */
#include <errno.h>
#include <string.h>

#include "mvm/virtio_dev.h"

#include "vsock.h"

#define VSOCK_STATE_MAGIC 0x314b5356u /* "VSK1" */

struct vsock_saved {
	uint32_t magic;
	uint32_t pad;
	uint64_t guest_cid;
};

size_t vsock_save(void *dev, void *buf, size_t cap)
{
	const struct vsock *v = dev;
	struct vsock_saved s = {
		.magic = VSOCK_STATE_MAGIC,
		.guest_cid = v->guest_cid,
	};

	if (cap < sizeof(s))
		return 0;
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

int vsock_load(void *dev, const void *buf, size_t len)
{
	struct vsock *v = dev;
	struct vsock_saved s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.magic != VSOCK_STATE_MAGIC || s.pad ||
	    s.guest_cid != v->guest_cid) {
		virtio_log(v->t, "state: guest_cid %llu, the device's is "
			   "%llu", (unsigned long long)s.guest_cid,
			   (unsigned long long)v->guest_cid);
		return -EINVAL;
	}
	/* Connections of this process (an in-place load) go too. */
	while (v->table.nr)
		vsock_conn_close(v, v->table.conns[0]);
	v->nr_rsts = 0;
	v->event_reset_due = true;
	return 0;
}
