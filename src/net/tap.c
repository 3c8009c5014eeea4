/*
 * TAP backend: /dev/net/tun in TAP mode with IFF_VNET_HDR, so every frame
 * carries its virtio-net header and the kernel does checksum and
 * segmentation work on the guest's behalf.
 *
 * The fd is non-blocking. On a blocking tap, io_uring cannot try a read or
 * a write in place (tun files do not say they support it on Linux 6.1,
 * Debian 12's kernel) and hands every one to a kernel worker thread: 324 us
 * per frame written instead of 22 us, measured in the lab. On a
 * non-blocking one it tries in place and, when nothing is there, waits for
 * POLLIN itself; the caller still never sees EAGAIN for that.
 */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/net.h"

static int tap_set_offload(struct net_backend *b, unsigned offloads)
{
	unsigned flags = 0;

	if (offloads & NET_OFFLOAD_CSUM)
		flags |= TUN_F_CSUM;
	/* The kernel takes segmentation only along with checksums. */
	if ((offloads & NET_OFFLOAD_TSO4) && (flags & TUN_F_CSUM))
		flags |= TUN_F_TSO4;
	if ((offloads & NET_OFFLOAD_TSO6) && (flags & TUN_F_CSUM))
		flags |= TUN_F_TSO6;
	return ioctl(b->fd, TUNSETOFFLOAD, flags) < 0 ? -errno : 0;
}

static void tap_close(struct net_backend *b)
{
	close(b->fd);
	free(b);
}

static const struct net_backend_ops tap_ops = {
	.set_offload = tap_set_offload,
	.close = tap_close,
};

/* The frame format and the offload probe, on an attached tap fd. */
static int tap_finish(const char *name, int fd, struct net_backend **out,
		      struct mvm_err *err)
{
	struct net_backend *b;
	int hdr = NET_HDR_LEN, e, fl = fcntl(fd, F_GETFL);

	/* An adopted fd shares its open file, and so this flag, with the
	 * process that passed it: Firecracker does the same to its taps. */
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		e = errno;
		close(fd);
		return mvm_fail(err, -e, "tap %s: O_NONBLOCK: %s", name,
				strerror(e));
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		e = errno;
		close(fd);
		return mvm_fail(err, -e, "tap %s: TUNSETVNETHDRSZ: %s", name,
				strerror(e));
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		close(fd);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	b->ops = &tap_ops;
	b->fd = fd;
	snprintf(b->name, sizeof(b->name), "%s", name);
	/* Probe once; nothing is offloaded until the guest asks. */
	b->offloads = ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 |
			    TUN_F_TSO6) == 0;
	ioctl(fd, TUNSETOFFLOAD, 0);
	*out = b;
	return 0;
}

/*
 * TUNSETIFF on a name in use by another kind of interface (lo, a bridge,
 * a TUN-mode or multi-queue tun) says only EINVAL; say what it means.
 */
static int not_a_tap(const char *name, struct mvm_err *err)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	if (access(path, F_OK) < 0)
		return mvm_fail(err, -EINVAL, "tap %s: cannot attach: the "
				"kernel takes no interface of that name",
				name);
	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	if (access(path, F_OK) == 0)
		return mvm_fail(err, -EINVAL, "tap %s: cannot attach: %s is a "
				"tun device of another kind (TUN mode or "
				"multi-queue), not a single-queue tap", name,
				name);
	return mvm_fail(err, -EINVAL, "tap %s: cannot attach: %s is an "
			"existing interface that is not a tap device", name,
			name);
}

int tap_attach(const char *name, struct mvm_err *err)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd, e;

	if (!*name || strlen(name) >= IFNAMSIZ)
		return mvm_fail(err, -EINVAL, "tap '%s': bad interface name",
				name);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return mvm_fail(err, -errno, "tap %s: /dev/net/tun: %s", name,
				strerror(errno));
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		close(fd);
		if (e == EBUSY)
			return mvm_fail(err, -e, "tap %s: in use by another "
					"process", name);
		if (e == EPERM)
			return mvm_fail(err, -e, "tap %s: permission denied "
					"(needs CAP_NET_ADMIN, or a tap owned "
					"by this user)", name);
		if (e == EINVAL)
			return not_a_tap(name, err);
		return mvm_fail(err, -e, "tap %s: cannot attach: %s", name,
				strerror(e));
	}
	return fd;
}

int tap_open(const char *name, struct net_backend **out,
	     struct mvm_err *err)
{
	int fd = tap_attach(name, err);

	return fd < 0 ? fd : tap_finish(name, fd, out, err);
}

int tap_adopt(const char *name, int fd, struct net_backend **out,
	      struct mvm_err *err)
{
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (own < 0)
		return mvm_fail(err, -errno, "tap %s: %s", name,
				strerror(errno));
	return tap_finish(name, own, out, err);
}
