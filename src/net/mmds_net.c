/*
 * MMDS's carriage: a restricted slirp_net per MMDS NIC, its network the
 * MMDS address's /16 (169.254.0.0/16 by default; the stack's own host,
 * DNS and DHCP addresses in 169.254.0.0/24, where Firecracker's rule
 * puts no MMDS address), and one guest service, the address's port 80,
 * answered by mmds_conn. Restricted: the stack opens no connection to
 * the host's networks, and it only ever sees the frames for MMDS.
 *
 * Each guest connection gets a Unix socket and a parser of its own
 * (mmds_conns.c), so a guest may hold several at once. Where that
 * socket cannot be made (no writable TMPDIR), the service falls back to
 * libslirp's callback forward, one connection at a time: its answers
 * are kept here until the stack takes them, since the service's recv
 * runs inside slirp_input, which must not be re-entered; they go out
 * once slirp_net_input has returned, and again when the guest's window
 * reopens.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/mmds.h"
#include "mvm/mmds_net.h"
#include "mvm/net.h"
#include "mvm/slirp_net.h"

#include "mmds_conns.h"
#include "tcp_refuse.h"
#include "wire.h"

#define MMDS_PORT 80
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
/* virtio_net_hdr_v1's flags, gso_type and checksum fields. */
#define HDR_F_NEEDS_CSUM 1
#define HDR_GSO_NONE 0
/*
 * Answers waiting past this while the guest does not read are dropped;
 * one answer alone is always kept, however large the store makes it.
 */
#define PENDING_MAX (1u << 20)

struct mmds_net {
	struct mmds *m;
	struct in_addr addr; /* network order, for slirp */
	uint32_t ipv4;       /* host order */
	struct slirp_net *slirp;
	struct mmds_conns *conns; /* NULL: the one-connection fallback */
	struct mmds_conn *conn;
	mmds_net_out_fn *out_fn;
	void *opaque;
	struct mmds_counters *counters; /* the store's */
	char *pending;
	size_t pending_len, pending_cap;
};

bool mmds_net_wants(const struct mmds_net *mn, const void *frame,
		    size_t len)
{
	const uint8_t *f = frame;

	if (len < MMDS_NET_PEEK)
		return false;
	switch (wire_get16(f + 12)) {
	case ETH_P_ARP:
		/* Ethernet/IPv4 request: tpa at 14 + 24. */
		return wire_get16(f + 14) == 1 &&
		       wire_get16(f + 16) == ETH_P_IP && f[18] == 6 &&
		       f[19] == 4 && wire_get16(f + 20) == 1 &&
		       wire_get32(f + 38) == mn->ipv4;
	case ETH_P_IP:
		return (f[14] >> 4) == 4 && wire_get32(f + 30) == mn->ipv4;
	}
	return false;
}

/* The connection's answers, kept until the stack takes them. */
static void keep(void *opaque, const void *buf, size_t len)
{
	struct mmds_net *mn = opaque;
	size_t cap = mn->pending_cap ? mn->pending_cap : 4096;
	char *p;

	if (mn->pending_len && mn->pending_len + len > PENDING_MAX)
		return;
	while (cap < mn->pending_len + len)
		cap *= 2;
	if (cap != mn->pending_cap) {
		p = realloc(mn->pending, cap);
		if (!p)
			return;
		mn->pending = p;
		mn->pending_cap = cap;
	}
	memcpy(mn->pending + mn->pending_len, buf, len);
	mn->pending_len += len;
}

static void flush(struct mmds_net *mn)
{
	size_t n;

	while (mn->pending_len) {
		n = slirp_net_service_send(mn->slirp, mn->addr, MMDS_PORT,
					   mn->pending, mn->pending_len);
		if (!n)
			return; /* the window is full: writable() calls */
		memmove(mn->pending, mn->pending + n, mn->pending_len - n);
		mn->pending_len -= n;
	}
}

/*
 * The guest's bytes. A request too long for MMDS resets the connection,
 * as Firecracker's does: the parser starts afresh for the next one.
 */
static ssize_t service_recv(void *ctx, const void *buf, size_t len)
{
	struct mmds_net *mn = ctx;
	struct mmds_conn *fresh;

	if (mmds_conn_recv(mn->conn, buf, len) == 0)
		return (ssize_t)len;
	fresh = mmds_conn_new(mn->m, keep, mn);
	if (fresh) {
		mmds_conn_free(mn->conn);
		mn->conn = fresh;
	}
	mn->pending_len = 0;
	return -ECONNRESET;
}

static void service_writable(void *ctx)
{
	flush(ctx);
}

static const struct slirp_net_service_ops service_ops = {
	.recv = service_recv,
	.writable = service_writable,
};

/* The stack's frames for the guest, counted on their way. */
static void output(void *opaque, const void *frame, size_t len)
{
	struct mmds_net *mn = opaque;

	mn->counters->tx_frames++;
	mn->counters->tx_bytes += len;
	mn->out_fn(mn->opaque, frame, len);
}

static void config_for(uint32_t ipv4, struct slirp_net_config *c)
{
	uint32_t net = ipv4 & 0xffff0000u;

	slirp_net_config_default(c);
	c->network.s_addr = htonl(net);
	c->prefix = 16;
	c->host.s_addr = htonl(net | 0x0001);
	c->dns.s_addr = htonl(net | 0x0003);
	c->dhcp_start.s_addr = htonl(net | 0x000f);
	c->restricted = true;
}

static void kick(void *ctx)
{
	struct mmds_net *mn = ctx;

	slirp_net_poll_now(mn->slirp);
}

/* Port 80: a socket per connection, or the callback forward. */
static int add_service(struct mmds_net *mn, struct loop *loop,
		       struct mvm_err *err)
{
	struct mvm_err ignored = { 0 };

	if (!mmds_conns_new(&mn->conns, mn->m, loop, kick, mn, &ignored)) {
		if (!slirp_net_add_unix_service(mn->slirp, mn->addr, MMDS_PORT,
						mmds_conns_path(mn->conns),
						&ignored))
			return 0;
		mmds_conns_free(mn->conns);
		mn->conns = NULL;
	}
	return slirp_net_add_guest_service(mn->slirp, mn->addr, MMDS_PORT,
					   &service_ops, mn, err);
}

int mmds_net_new(struct mmds_net **out, struct mmds *m, uint32_t ipv4,
		 struct loop *loop, mmds_net_out_fn *out_fn, void *opaque,
		 struct mvm_err *err)
{
	struct slirp_net_config cfg;
	struct mmds_net *mn;
	int ret;

	if (!mmds_ipv4_link_local(ipv4))
		return mvm_fail(err, -EINVAL, "mmds: address %u.%u.%u.%u is "
				"not link-local", ipv4 >> 24,
				ipv4 >> 16 & 0xff, ipv4 >> 8 & 0xff,
				ipv4 & 0xff);
	mn = calloc(1, sizeof(*mn));
	if (!mn)
		return mvm_fail(err, -ENOMEM, "out of memory");
	mn->m = m;
	mn->ipv4 = ipv4;
	mn->addr.s_addr = htonl(ipv4);
	mn->out_fn = out_fn;
	mn->opaque = opaque;
	mn->counters = mmds_counters(m);
	mn->conn = mmds_conn_new(m, keep, mn);
	if (!mn->conn) {
		free(mn);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	config_for(ipv4, &cfg);
	ret = slirp_net_new(&mn->slirp, &cfg, loop, output, mn, err);
	if (!ret)
		ret = add_service(mn, loop, err);
	if (ret) {
		mmds_net_free(mn);
		return mvm_wrap(err, ret, "mmds: ");
	}
	*out = mn;
	return 0;
}

void mmds_net_free(struct mmds_net *mn)
{
	if (!mn)
		return;
	slirp_net_free(mn->slirp);
	mmds_conns_free(mn->conns);
	mmds_conn_free(mn->conn);
	free(mn->pending);
	free(mn);
}

/*
 * VIRTIO_NET_HDR_F_NEEDS_CSUM: the guest summed the pseudo-header into
 * the checksum field and left the rest from csum_start to the device.
 */
static bool complete_csum(uint8_t *eth, size_t len, const uint8_t *hdr)
{
	size_t start = (size_t)(hdr[6] | hdr[7] << 8);
	size_t off = (size_t)(hdr[8] | hdr[9] << 8);
	uint32_t s;

	if (start > len || off > len - start || len - start - off < 2)
		return false;
	s = wire_sum16(eth + start, len - start, 0);
	s = ~s & 0xffff;
	eth[start + off] = (uint8_t)(s >> 8);
	eth[start + off + 1] = (uint8_t)s;
	return true;
}

/*
 * Whether the stack may take the guest's frame. Each connection it
 * accepts holds a socket in it and one in mmds_conns until its TCP is
 * done, which the guest decides (it may never ACK a FIN, or keep a
 * TIME_WAIT alive with FINs), so a SYN past MMDS_NET_CONNS_MAX sockets
 * is answered RST here, as a closed port does, and never reaches it.
 * IPv4 pieces are dropped: reassembled, one could be a SYN unseen.
 */
static bool admit(struct mmds_net *mn, const uint8_t *eth, size_t len)
{
	uint8_t rst[TCP_RST_FRAME_LEN];
	struct tcp_seg seg;
	enum ip_kind k = tcp_peek(eth, len, &seg);

	if (k == IP_FRAGMENT)
		return false;
	/* The callback forward (no conns) holds no socket per connection. */
	if (k != IP_TCP || !tcp_opens(&seg) || !mn->conns ||
	    slirp_net_tcp_sockets(mn->slirp) < MMDS_NET_CONNS_MAX)
		return true;
	tcp_refuse(eth, &seg, rst);
	output(mn, rst, sizeof(rst));
	return false;
}

void mmds_net_input(struct mmds_net *mn, void *frame, size_t len,
		    size_t hdr_len)
{
	uint8_t *hdr = frame, *eth = hdr + hdr_len;
	struct mmds_counters *c = mn->counters;

	c->rx_accepted++;
	if (len < hdr_len + NET_ETH_HLEN || hdr_len < 10) {
		c->rx_bad_eth++;
		return;
	}
	len -= hdr_len;
	if (hdr[1] != HDR_GSO_NONE ||
	    ((hdr[0] & HDR_F_NEEDS_CSUM) && !complete_csum(eth, len, hdr))) {
		c->rx_accepted_err++;
		return;
	}
	if (!admit(mn, eth, len)) {
		c->rx_accepted_err++;
		return;
	}
	c->rx_count++;
	slirp_net_input(mn->slirp, eth, len);
	if (mn->conns)
		mmds_conns_accept(mn->conns);
	else
		flush(mn);
}

unsigned mmds_net_connections(const struct mmds_net *mn)
{
	return mn->conns ? mmds_conns_open(mn->conns) : 0;
}
