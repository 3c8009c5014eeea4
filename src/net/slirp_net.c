/*
 * The user-mode stack: libslirp's instance, its callbacks, frames in and
 * out, host forwards and guest services. The loop side is slirp_loop.c.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"

#include "slirp_priv.h"

/* Ethernet's header and a VLAN tag, around the MTU's IP packet. */
#define SLIRP_FRAME_EXTRA (14 + 4)

void slirp_net_config_default(struct slirp_net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	inet_pton(AF_INET, "10.0.2.0", &cfg->network);
	cfg->prefix = 24;
	inet_pton(AF_INET, "10.0.2.2", &cfg->host);
	inet_pton(AF_INET, "10.0.2.15", &cfg->dhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg->dns);
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct slirp_net *s = opaque;

	s->output(s->opaque, buf, len);
	return (ssize_t)len;
}

/* A guest's malformed traffic is its own business: not worth a log line. */
static void cb_guest_error(const char *msg, void *opaque)
{
	(void)msg;
	(void)opaque;
}

static int64_t cb_clock_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void cb_register_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

/* A guest service's window opened: tell the ones that wait. */
static void cb_notify(void *opaque)
{
	struct slirp_net *s = opaque;

	for (struct slirp_service *v = s->services; v; v = v->next) {
		if (!v->want_write || !s->lib.socket_can_recv(s->slirp, v->addr,
							      v->port))
			continue;
		v->want_write = false;
		if (v->ops->writable)
			v->ops->writable(v->ctx);
	}
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_ns,
	.timer_new = slirp_cb_timer_new,
	.timer_free = slirp_cb_timer_free,
	.timer_mod = slirp_cb_timer_mod,
	.register_poll_fd = cb_register_fd,
	.unregister_poll_fd = cb_register_fd,
	.notify = cb_notify,
};

static int check_config(const struct slirp_net_config *cfg,
			struct mvm_err *err)
{
	uint32_t mask, net, in[3];
	const char *what[3] = { "host", "dhcp_start", "dns" };

	if (cfg->prefix < 8 || cfg->prefix > 30)
		return mvm_fail(err, -EINVAL, "user net: prefix /%u: must be "
				"8 to 30", cfg->prefix);
	/* libslirp returns NULL, with a critical on stderr, past its range. */
	if (cfg->mtu && (cfg->mtu < SLIRP_NET_MTU_MIN ||
			 cfg->mtu > SLIRP_NET_MTU_MAX))
		return mvm_fail(err, -EINVAL, "user net: mtu %u: must be %d "
				"to %d", cfg->mtu, SLIRP_NET_MTU_MIN,
				SLIRP_NET_MTU_MAX);
	if (cfg->nr_hostfwd > SLIRP_NET_HOSTFWD_MAX)
		return mvm_fail(err, -EINVAL, "user net: %u hostfwd rules: at "
				"most %d", cfg->nr_hostfwd,
				SLIRP_NET_HOSTFWD_MAX);
	mask = cfg->prefix ? ~0u << (32 - cfg->prefix) : 0;
	net = ntohl(cfg->network.s_addr);
	in[0] = ntohl(cfg->host.s_addr);
	in[1] = ntohl(cfg->dhcp_start.s_addr);
	in[2] = ntohl(cfg->dns.s_addr);
	if (net & ~mask)
		return mvm_fail(err, -EINVAL, "user net: network %s has bits "
				"past /%u", inet_ntoa(cfg->network),
				cfg->prefix);
	for (int i = 0; i < 3; i++)
		if ((in[i] & mask) != net)
			return mvm_fail(err, -EINVAL, "user net: %s address "
					"is outside the network", what[i]);
	return 0;
}

static int add_hostfwd(struct slirp_net *s, const struct slirp_net_config *cfg,
		       const struct slirp_net_hostfwd *f, struct mvm_err *err)
{
	struct in_addr guest = f->guest_addr.s_addr ? f->guest_addr
						    : cfg->dhcp_start;
	char text[SLIRP_NET_HOSTFWD_STR];

	if (s->lib.add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port,
			      guest, f->guest_port) == 0)
		return 0;
	slirp_net_hostfwd_format(f, text);
	return mvm_fail(err, -EADDRINUSE, "hostfwd %s: cannot listen on host "
			"port %u (in use, or the address is not this host's)",
			text, f->host_port);
}

static int start(struct slirp_net *s, const struct slirp_net_config *cfg,
		 struct mvm_err *err)
{
	SlirpConfig sc = {
		.version = 4,
		.restricted = cfg->restricted,
		.in_enabled = true,
		.vnetwork = cfg->network,
		.vhost = cfg->host,
		.vdhcp_start = cfg->dhcp_start,
		.vnameserver = cfg->dns,
		.if_mtu = cfg->mtu ? cfg->mtu : SLIRP_NET_MTU_DEFAULT,
		.if_mru = cfg->mtu ? cfg->mtu : SLIRP_NET_MTU_DEFAULT,
	};
	int ret;

	sc.vnetmask.s_addr = htonl(~0u << (32 - cfg->prefix));
	s->frame_max = sc.if_mru + SLIRP_FRAME_EXTRA;
	s->slirp = s->lib.new_(&sc, &slirp_callbacks, s);
	if (!s->slirp)
		return mvm_fail_host(err, -ENOMEM, "user net: libslirp "
				     "refused to start");
	for (unsigned i = 0; i < cfg->nr_hostfwd; i++) {
		ret = add_hostfwd(s, cfg, &cfg->hostfwd[i], err);
		if (ret)
			return ret;
	}
	slirp_loop_sync(s);
	return 0;
}

int slirp_net_new(struct slirp_net **out, const struct slirp_net_config *cfg,
		  struct loop *loop,
		  void (*output)(void *opaque, const void *frame, size_t len),
		  void *opaque, struct mvm_err *err)
{
	struct slirp_net *s;
	int ret = check_config(cfg, err);

	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return mvm_fail(err, -ENOMEM, "out of memory");
	s->loop = loop;
	s->output = output;
	s->opaque = opaque;
	s->epfd = s->tfd = -1;
	ret = slirp_lib_open(&s->lib, err);
	if (!ret)
		ret = slirp_loop_init(s, err);
	if (!ret)
		ret = start(s, cfg, err);
	if (ret) {
		slirp_net_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void slirp_net_input(struct slirp_net *s, const void *frame, size_t len)
{
	/* slirp trusts the length it is given, and no more than that. */
	if (len < 14 || len > s->frame_max)
		return;
	s->busy++;
	s->lib.input(s->slirp, frame, (int)len);
	s->busy--;
	slirp_loop_sync(s);
}

void slirp_net_batch_begin(struct slirp_net *s)
{
	s->busy++;
}

void slirp_net_batch_end(struct slirp_net *s)
{
	if (s->busy)
		s->busy--;
	slirp_loop_sync(s);
}

void slirp_net_free(struct slirp_net *s)
{
	if (!s)
		return;
	if (s->slirp)
		s->lib.cleanup(s->slirp); /* closes its sockets, frees timers */
	slirp_loop_fini(s);
	while (s->services) {
		struct slirp_service *v = s->services;

		s->services = v->next;
		free(v);
	}
	slirp_lib_close(&s->lib); /* last: nothing of libslirp's is left */
	free(s);
}

static ssize_t service_write(const void *buf, size_t len, void *opaque)
{
	struct slirp_service *v = opaque;

	return v->ops->recv(v->ctx, buf, len);
}

int slirp_net_add_guest_service(struct slirp_net *s, struct in_addr addr,
				int port, const struct slirp_net_service_ops *ops,
				void *ctx, struct mvm_err *err)
{
	struct slirp_service *v;

	if (port <= 0 || port > 65535 || !ops || !ops->recv)
		return mvm_fail(err, -EINVAL, "user net: guest service port "
				"%d: must be 1 to 65535, with a recv", port);
	v = calloc(1, sizeof(*v));
	if (!v)
		return mvm_fail(err, -ENOMEM, "out of memory");
	*v = (struct slirp_service){ .s = s, .addr = addr, .port = port,
				     .ops = ops, .ctx = ctx };
	if (s->lib.add_guestfwd(s->slirp, service_write, v, &v->addr, port)) {
		free(v);
		return mvm_fail(err, -EEXIST, "user net: guest service %s:%d: "
				"the address is in use or outside the network",
				inet_ntoa(addr), port);
	}
	v->next = s->services;
	s->services = v;
	return 0;
}

size_t slirp_net_service_send(struct slirp_net *s, struct in_addr addr,
			      int port, const void *buf, size_t len)
{
	struct slirp_service *v = s->services;
	size_t room;

	while (v && (v->addr.s_addr != addr.s_addr || v->port != port))
		v = v->next;
	if (!v)
		return 0;
	room = s->lib.socket_can_recv(s->slirp, addr, port);
	if (room > len)
		room = len;
	if (room > INT32_MAX)
		room = INT32_MAX;
	if (room) {
		s->busy++;
		s->lib.socket_recv(s->slirp, addr, port, buf, (int)room);
		s->busy--;
		slirp_loop_sync(s);
	}
	if (room < len)
		v->want_write = true;
	return room;
}

int slirp_net_add_unix_service(struct slirp_net *s, struct in_addr addr,
			       int port, const char *path,
			       struct mvm_err *err)
{
	if (port <= 0 || port > 65535 || !path || !*path)
		return mvm_fail(err, -EINVAL, "user net: guest service port "
				"%d: must be 1 to 65535, with a path", port);
	/* Without a count of its sockets, the guest's hold on them has no
	 * cap (slirp_net_tcp_sockets): then no sockets at all. */
	if (!s->lib.add_unix || !s->lib.connection_info || !s->lib.g_free)
		return mvm_fail(err, -ENOSYS, "user net: this libslirp has no "
				"slirp_add_unix (4.7 or later has)");
	if (s->lib.add_unix(s->slirp, path, &addr, port))
		return mvm_fail(err, -EEXIST, "user net: guest service %s:%d: "
				"the address is in use or outside the network",
				inet_ntoa(addr), port);
	return 0;
}

/*
 * libslirp's table prints one line a socket, each TCP one led by
 * "  TCP[" (slirp_connection_info, 4.0 and later); its API has no count.
 */
int slirp_net_tcp_sockets(struct slirp_net *s)
{
	char *info, *p;
	int n = 0;

	if (!s->lib.connection_info || !s->lib.g_free)
		return -ENOSYS;
	info = s->lib.connection_info(s->slirp);
	if (!info)
		return -ENOMEM;
	for (p = info; (p = strstr(p, "\n  TCP[")); p++)
		n++;
	s->lib.g_free(info);
	return n;
}
