/*
 * The user-mode backend (--net user): the NIC's frames go through
 * libslirp's NAT (slirp_net), needing no root and no tap.
 *
 * Both run on the loop thread, so frames pass by call, with no fd in
 * between: a chain the guest sent is handed to slirp_net_input as
 * virtio-net pops it (ops->send, a burst inside one batch so slirp's
 * sockets and timers are looked at once per burst), and a frame slirp
 * has for the guest goes to the NIC's rx function, which copies it into
 * the RX ring, or queues it (bounded, drops counted) while the ring is
 * full. A socketpair in between cost a system call and an io_uring
 * operation on each side of every frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/dev_config.h"
#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/net.h"
#include "mvm/slirp_net.h"

struct user_backend {
	struct net_backend be; /* first: what virtio-net holds */
	struct slirp_net *sn;
	net_rx_fn *rx;
	void *rx_ctx;
};

/* A frame from slirp for the guest: the NIC keeps it or counts it. */
static void to_guest(void *opaque, const void *frame, size_t len)
{
	struct user_backend *u = opaque;

	u->rx(u->rx_ctx, frame, len);
}

/* A frame the guest sent (slirp_net_input checks its length). */
static void user_send(struct net_backend *b, const void *frame, size_t len)
{
	struct user_backend *u = (struct user_backend *)b;

	slirp_net_input(u->sn, frame, len);
}

static void user_batch(struct net_backend *b, bool begin)
{
	struct user_backend *u = (struct user_backend *)b;

	if (begin)
		slirp_net_batch_begin(u->sn);
	else
		slirp_net_batch_end(u->sn);
}

/*
 * Nothing to switch: the guest is offered checksum offload alone
 * (be.local_csum), which the NIC does itself, and no TSO (be.offloads).
 */
static int user_set_offload(struct net_backend *b, unsigned offloads)
{
	(void)b;
	return offloads ? -EOPNOTSUPP : 0;
}

static void user_close(struct net_backend *b)
{
	struct user_backend *u = (struct user_backend *)b;

	slirp_net_free(u->sn);
	free(u);
}

static const struct net_backend_ops user_ops = {
	.set_offload = user_set_offload,
	.close = user_close,
	.send = user_send,
	.batch = user_batch,
};

int user_net_open(const struct net_config *cfg, struct loop *loop,
		  net_rx_fn *rx, void *rx_ctx, struct net_backend **out,
		  struct mvm_err *err)
{
	struct slirp_net_config sc;
	struct user_backend *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return mvm_fail(err, -ENOMEM, "out of memory");
	u->be.ops = &user_ops;
	u->be.fd = -1;
	u->be.local_csum = true;
	u->be.mtu = cfg->mtu ? cfg->mtu : NET_USER_MTU_DEFAULT;
	snprintf(u->be.name, sizeof(u->be.name), "user");
	u->rx = rx;
	u->rx_ctx = rx_ctx;
	slirp_net_config_default(&sc);
	sc.nr_hostfwd = cfg->nr_hostfwd;
	memcpy(sc.hostfwd, cfg->hostfwd, sizeof(sc.hostfwd));
	sc.mtu = u->be.mtu;
	ret = slirp_net_new(&u->sn, &sc, loop, to_guest, u, err);
	if (ret) {
		free(u);
		return ret;
	}
	*out = &u->be;
	return 0;
}
