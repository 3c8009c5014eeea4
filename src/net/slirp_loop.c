/*
 * libslirp on the io_uring loop. libslirp wants a poll() loop: before
 * sleeping, slirp_pollfds_fill() names the sockets to watch and for what;
 * after, slirp_pollfds_poll() reads what they did and runs its TCP
 * timers. Here the sockets go into one epoll set (level-triggered),
 * whose fd the loop watches; when it or the timerfd fires, a poll() with
 * no wait over the last fill's sockets gives slirp its answers, and a new
 * fill says what to watch next. Only changes reach epoll_ctl.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/err.h"

#include "slirp_priv.h"

/* Runs of poll and fill one wake-up may take before yielding the loop. */
#define SLIRP_ROUNDS 16
/* With sockets still ready after that, look again this soon. */
#define SLIRP_AGAIN_MS 1

int64_t slirp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t to_epoll(short ev)
{
	return ((ev & POLLIN) ? EPOLLIN : 0) | ((ev & POLLOUT) ? EPOLLOUT : 0) |
	       ((ev & POLLPRI) ? EPOLLPRI : 0);
}

static int add_poll(int fd, int events, void *opaque)
{
	struct slirp_net *s = opaque;
	short ev = 0;

	if (s->npfd == s->pfd_cap) {
		unsigned cap = s->pfd_cap ? s->pfd_cap * 2 : 64;
		struct pollfd *p = realloc(s->pfd, cap * sizeof(*p));

		if (!p)
			return -1; /* slirp then leaves the socket unwatched */
		s->pfd = p;
		s->pfd_cap = cap;
	}
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return (int)s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct slirp_net *s = opaque;
	short r;
	int ev = 0;

	if (idx < 0 || (unsigned)idx >= s->npfd)
		return 0;
	r = s->pfd[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static bool reg_grow(struct slirp_net *s, int fd)
{
	unsigned cap = s->reg_cap ? s->reg_cap : 64;
	struct slirp_fd_reg *r;
	int *fds;

	while (cap <= (unsigned)fd)
		cap *= 2;
	if (cap == s->reg_cap)
		return true;
	r = realloc(s->reg, cap * sizeof(*r));
	if (!r)
		return false;
	memset(r + s->reg_cap, 0, (cap - s->reg_cap) * sizeof(*r));
	s->reg = r;
	fds = realloc(s->reg_fds, cap * sizeof(*fds));
	if (!fds)
		return false;
	s->reg_fds = fds;
	s->reg_cap = cap;
	return true;
}

/*
 * Make fd's entry in the set ask for ev. A number slirp closed and
 * reopened may have left the set on its own (closing removes it) or
 * still be there: each call falls back to the other.
 */
static void reg_set(struct slirp_net *s, int fd, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.fd = fd };
	bool was = s->reg[fd].events != 0;

	if (epoll_ctl(s->epfd, was ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e) &&
	    epoll_ctl(s->epfd, was ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &e))
		return; /* not watched: slirp sees it at the next wake-up */
	if (!was)
		s->reg_fds[s->nreg++] = fd;
	s->reg[fd].events = ev;
}

/* The set, made to match the last fill. */
static void epoll_sync(struct slirp_net *s)
{
	unsigned i, kept = 0;

	s->gen++;
	for (i = 0; i < s->npfd; i++) {
		int fd = s->pfd[i].fd;
		uint32_t ev = to_epoll(s->pfd[i].events);

		if (fd < 0 || !ev || !reg_grow(s, fd))
			continue;
		s->reg[fd].gen = s->gen;
		if (s->reg[fd].events != ev)
			reg_set(s, fd, ev);
	}
	for (i = 0; i < s->nreg; i++) {
		int fd = s->reg_fds[i];

		if (s->reg[fd].gen == s->gen) {
			s->reg_fds[kept++] = fd;
			continue;
		}
		/* Gone from slirp: ENOENT if its close took it already. */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
		s->reg[fd].events = 0;
	}
	s->nreg = kept;
}

static int64_t next_deadline(const struct slirp_net *s)
{
	int64_t d = s->poll_deadline_ms;

	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (d < 0 || t->expire_ms < d))
			d = t->expire_ms;
	return d;
}

/*
 * The timerfd set to the next deadline. slirp's poll timeout moves later
 * at every sync (now + 2 ms while a delayed ACK waits), so the timerfd is
 * set only when the deadline comes sooner than the one it holds: firing
 * early costs one turn that finds nothing due and sets it again, where
 * following every move cost a system call per frame burst.
 */
static void timer_arm(struct slirp_net *s)
{
	int64_t d = next_deadline(s);
	struct itimerspec its = { 0 };

	if (d < 0 || (s->armed_ms >= 0 && s->armed_ms <= d))
		return;
	s->armed_ms = d;
	/* Absolute: one already past fires at once, with no rounding up. */
	its.it_value.tv_sec = d / 1000;
	its.it_value.tv_nsec = (d % 1000) * 1000000;
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		its.it_value.tv_nsec = 1; /* 0 would disarm it */
	timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void slirp_loop_sync(struct slirp_net *s)
{
	uint32_t timeout = UINT32_MAX;

	if (s->busy)
		return;
	s->npfd = 0;
	s->lib.pollfds_fill(s->slirp, &timeout, add_poll, s);
	epoll_sync(s);
	s->poll_deadline_ms = timeout == UINT32_MAX ? -1
					: slirp_now_ms() + timeout;
	timer_arm(s);
}

/* The timers that are due, each once: one may re-arm or free another. */
static void run_timers(struct slirp_net *s)
{
	int64_t now = slirp_now_ms();
	bool again = true;

	while (again) {
		again = false;
		for (struct slirp_timer *t = s->timers; t; t = t->next) {
			if (t->expire_ms < 0 || t->expire_ms > now)
				continue;
			t->expire_ms = -1;
			t->cb(t->cb_opaque);
			again = true; /* the list may have changed */
			break;
		}
	}
}

/* One turn: what the sockets did, the timers due, and a new fill. */
static void slirp_turn(struct slirp_net *s)
{
	int r = s->npfd ? poll(s->pfd, s->npfd, 0) : 0;

	s->busy++;
	s->lib.pollfds_poll(s->slirp, r < 0, get_revents, s);
	run_timers(s);
	s->busy--;
	slirp_loop_sync(s);
}

static bool any_ready(struct slirp_net *s)
{
	struct epoll_event e;

	return epoll_wait(s->epfd, &e, 1, 0) > 0;
}

/*
 * The epoll fd's wake-up: the loop's poll on it fires when an event
 * arrives, not while one stays, so turn until nothing is ready (or come
 * back soon, not to starve the rest of the loop).
 */
static void on_sockets(void *ctx)
{
	struct slirp_net *s = ctx;

	for (int i = 0; i < SLIRP_ROUNDS; i++) {
		slirp_turn(s);
		if (!any_ready(s))
			return;
	}
	s->poll_deadline_ms = slirp_now_ms() + SLIRP_AGAIN_MS;
	timer_arm(s);
}

void slirp_net_poll_now(struct slirp_net *s)
{
	if (!s->busy)
		on_sockets(s);
}

static void on_timer(void *ctx)
{
	struct slirp_net *s = ctx;
	uint64_t n;

	if (read(s->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	s->armed_ms = -1; /* fired: a one-shot timer is off now */
	on_sockets(s);
}

void *slirp_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_net *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

void slirp_cb_timer_free(void *timer, void *opaque)
{
	struct slirp_net *s = opaque;
	struct slirp_timer **p = &s->timers;

	while (*p && *p != timer)
		p = &(*p)->next;
	if (*p)
		*p = ((struct slirp_timer *)timer)->next;
	free(timer);
}

void slirp_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	if (!t)
		return;
	t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
	timer_arm(opaque);
}

int slirp_loop_init(struct slirp_net *s, struct mvm_err *err)
{
	int ret;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->poll_deadline_ms = s->armed_ms = -1;
	if (s->epfd < 0 || s->tfd < 0) {
		ret = mvm_fail_host(err, -errno, "user net: %s: %s",
				    s->epfd < 0 ? "epoll" : "timerfd",
				    strerror(errno));
		goto fail;
	}
	ret = loop_watch_add(s->loop, &s->ep_watch, s->epfd, on_sockets, s);
	if (ret) {
		mvm_fail_host(err, ret, "user net: cannot watch its sockets");
		goto fail;
	}
	ret = loop_watch_add(s->loop, &s->t_watch, s->tfd, on_timer, s);
	if (ret) {
		loop_watch_cancel(&s->ep_watch);
		mvm_fail_host(err, ret, "user net: cannot watch its timer");
		goto fail;
	}
	return 0;
fail:
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->tfd >= 0)
		close(s->tfd);
	s->epfd = s->tfd = -1;
	return ret;
}

void slirp_loop_fini(struct slirp_net *s)
{
	if (s->epfd >= 0) {
		loop_watch_cancel(&s->ep_watch);
		close(s->epfd);
	}
	if (s->tfd >= 0) {
		loop_watch_cancel(&s->t_watch);
		close(s->tfd);
	}
	s->epfd = s->tfd = -1;
	free(s->pfd);
	free(s->reg);
	free(s->reg_fds);
	while (s->timers) {
		struct slirp_timer *t = s->timers;

		s->timers = t->next;
		free(t);
	}
}
