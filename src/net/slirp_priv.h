/* slirp_net internals: shared by slirp_net.c and slirp_loop.c. */
#ifndef MVM_NET_SLIRP_PRIV_H
#define MVM_NET_SLIRP_PRIV_H

#include <poll.h>
#include <libslirp.h>

#include "mvm/loop.h"
#include "mvm/slirp_net.h"
#include "slirp_lib.h"

/* One of libslirp's timers (it asks for them by callback). */
struct slirp_timer {
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
	struct slirp_timer *next;
};

struct slirp_service {
	struct slirp_net *s;
	struct in_addr addr;
	int port;
	const struct slirp_net_service_ops *ops;
	void *ctx;
	bool want_write; /* a send fell short: writable() when slirp says */
	struct slirp_service *next;
};

/* What the epoll set holds for one fd, indexed by fd. */
struct slirp_fd_reg {
	uint32_t events; /* 0: not in the set */
	uint32_t gen;    /* the sync that last saw slirp want it */
};

struct slirp_net {
	struct slirp_lib lib; /* libslirp's calls: s->lib.input(...) */
	Slirp *slirp;
	struct loop *loop;
	void (*output)(void *opaque, const void *frame, size_t len);
	void *opaque;
	unsigned busy; /* inside slirp or a batch: syncs wait for the end */
	size_t frame_max; /* the largest frame taken: the MTU's, a VLAN tag */

	/* The sockets slirp wants watched, from its last pollfds_fill. */
	struct pollfd *pfd;
	unsigned npfd, pfd_cap;
	int epfd;
	struct loop_watch ep_watch;
	struct slirp_fd_reg *reg; /* by fd */
	unsigned reg_cap;
	int *reg_fds; /* the fds with reg[fd].events != 0 */
	unsigned nreg;
	uint32_t gen;

	/* slirp's timers and its own poll timeout, on one timerfd. */
	int tfd;
	struct loop_watch t_watch;
	struct slirp_timer *timers;
	int64_t poll_deadline_ms; /* -1: none */
	int64_t armed_ms;         /* what the timerfd is set to; -1: off */

	struct slirp_service *services;
};

int64_t slirp_now_ms(void);
/* Set up and tear down the epoll fd and the timerfd on the loop. */
int slirp_loop_init(struct slirp_net *s, struct mvm_err *err);
void slirp_loop_fini(struct slirp_net *s);
/*
 * After slirp may have changed its sockets or timers: ask it what to
 * watch, and watch that.
 */
void slirp_loop_sync(struct slirp_net *s);

/* The timer callbacks handed to libslirp. */
void *slirp_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque);
void slirp_cb_timer_free(void *timer, void *opaque);
void slirp_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque);

#endif
