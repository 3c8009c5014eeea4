/*
 * A user-mode TCP/IP stack (libslirp) on the VMM's loop: Ethernet frames
 * in from a guest, frames out to it, and the host's sockets behind. It
 * serves DHCP and DNS, NATs the guest's connections out through ordinary
 * sockets (no root, no tap), forwards host ports in (hostfwd), and hands
 * TCP connections to an address and port of the virtual network to mvm
 * itself (guest services: MMDS's HTTP server).
 *
 * Everything here runs on the loop's thread: libslirp is not thread-safe.
 * Its sockets are watched through one epoll fd on the loop, its timers
 * through one timerfd. Its connection state lives only in this process:
 * a snapshot or a migration recreates the stack, and connections open at
 * the time are lost.
 */
#ifndef MVM_SLIRP_NET_H
#define MVM_SLIRP_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct mvm_err;
struct slirp_net;

#define SLIRP_NET_HOSTFWD_MAX 16
/* "udp:255.255.255.255:65535-255.255.255.255:65535" and a NUL. */
#define SLIRP_NET_HOSTFWD_STR 48
/*
 * The IP MTU (and MRU) of the virtual link: libslirp 4.7 takes 68 to
 * 65521; an even 65520 is the largest offered. 0 in a config: 1500.
 */
#define SLIRP_NET_MTU_MIN 68
#define SLIRP_NET_MTU_MAX 65520
#define SLIRP_NET_MTU_DEFAULT 1500

/* A host port forwarded into the guest (QEMU's hostfwd=). */
struct slirp_net_hostfwd {
	bool udp;
	struct in_addr host_addr;  /* 0.0.0.0: every address of the host */
	uint16_t host_port;
	struct in_addr guest_addr; /* 0.0.0.0: the first DHCP address */
	uint16_t guest_port;
};

struct slirp_net_config {
	struct in_addr network;    /* e.g. 10.0.2.0 */
	unsigned prefix;           /* e.g. 24 */
	struct in_addr host;       /* the gateway, e.g. 10.0.2.2 */
	struct in_addr dhcp_start; /* e.g. 10.0.2.15 */
	struct in_addr dns;        /* e.g. 10.0.2.3 */
	/* No connection out to the host's networks, only hostfwd and guest
	 * services (an instance that carries MMDS alone). */
	bool restricted;
	unsigned nr_hostfwd;
	struct slirp_net_hostfwd hostfwd[SLIRP_NET_HOSTFWD_MAX];
	/*
	 * The link's IP MTU, both ways (0: 1500): slirp's TCP segments to
	 * the guest are sized to it, and it takes frames that large.
	 */
	unsigned mtu;
};

/* QEMU's defaults: 10.0.2.0/24, gateway .2, DNS .3, DHCP from .15. */
void slirp_net_config_default(struct slirp_net_config *cfg);

/*
 * "tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT" (QEMU's syntax: the protocol
 * defaults to tcp, either address may be empty) into fwd; -EINVAL with a
 * message naming the part that is wrong.
 */
int slirp_net_hostfwd_parse(const char *s, struct slirp_net_hostfwd *fwd,
			    struct mvm_err *err);
/* The canonical text of fwd (empty addresses left empty), into buf. */
void slirp_net_hostfwd_format(const struct slirp_net_hostfwd *fwd,
			      char buf[SLIRP_NET_HOSTFWD_STR]);

/*
 * A stack on loop. output(opaque, frame, len) gets each Ethernet frame
 * for the guest; it must not call back into this slirp_net. Fails with a
 * message naming the hostfwd rule whose host port cannot be bound.
 */
int slirp_net_new(struct slirp_net **out, const struct slirp_net_config *cfg,
		  struct loop *loop,
		  void (*output)(void *opaque, const void *frame, size_t len),
		  void *opaque, struct mvm_err *err);
/* One Ethernet frame from the guest (no virtio header). */
void slirp_net_input(struct slirp_net *s, const void *frame, size_t len);
void slirp_net_free(struct slirp_net *s);
/*
 * Around several slirp_net_input() calls: what slirp watches is asked
 * once, at the end, not after each frame.
 */
void slirp_net_batch_begin(struct slirp_net *s);
void slirp_net_batch_end(struct slirp_net *s);

/*
 * A guest service: TCP connections from the guest to addr:port end in
 * mvm. recv() gets the bytes the guest sends and returns how many it
 * took (a negative errno makes slirp reset the connection); writable()
 * is called when the guest's side may take more bytes after a
 * slirp_net_service_send() that took fewer than offered.
 *
 * libslirp tells a guest service neither when a connection opens nor
 * when it closes, and finds the connection by addr:port, so a service
 * talks with one connection at a time: a protocol of its own (HTTP's
 * Content-Length) must tell where a request ends.
 */
struct slirp_net_service_ops {
	ssize_t (*recv)(void *ctx, const void *buf, size_t len);
	void (*writable)(void *ctx);
};

int slirp_net_add_guest_service(struct slirp_net *s, struct in_addr addr,
				int port, const struct slirp_net_service_ops *ops,
				void *ctx, struct mvm_err *err);
/*
 * Bytes for the guest on the service's connection at addr:port: how many
 * were taken (0 when there is no connection or its window is full).
 */
size_t slirp_net_service_send(struct slirp_net *s, struct in_addr addr,
			      int port, const void *buf, size_t len);

/*
 * A guest service whose connections each become a connection to the
 * Unix socket at path (libslirp's Unix guest forward): one socket per
 * guest connection, so a service may serve many at once.
 */
int slirp_net_add_unix_service(struct slirp_net *s, struct in_addr addr,
			       int port, const char *path,
			       struct mvm_err *err);
/*
 * Read the stack's sockets now, not at their next wake-up on the loop:
 * after writing to a service's socket. Not from inside the stack.
 */
void slirp_net_poll_now(struct slirp_net *s);
/*
 * The TCP sockets the stack holds, in any state, an fd each at most
 * (one that lingers after the guest's side is done counts until slirp
 * frees it); -ENOSYS when this libslirp cannot tell.
 */
int slirp_net_tcp_sockets(struct slirp_net *s);

#endif
