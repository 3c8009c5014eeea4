#include <poll.h>
#include <string.h>
#include <time.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/loop.h"

int loop_init(struct loop *l, unsigned entries, struct mvm_err *err)
{
	int ret;

	memset(l, 0, sizeof(*l));
	ret = io_uring_queue_init(entries, &l->ring, 0);
	if (ret < 0)
		return mvm_fail(err, ret, "io_uring: setup failed: %s",
				strerror(-ret));
	return 0;
}

void loop_fini(struct loop *l)
{
	io_uring_queue_exit(&l->ring);
}

struct io_uring_sqe *loop_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		/* Ring full: push what we have to the kernel and retry. */
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

void loop_prep(struct loop *l, struct io_uring_sqe *sqe, struct loop_op *op)
{
	io_uring_sqe_set_data(sqe, op);
	l->inflight++;
}

static int loop_once(struct loop *l);

/*
 * A slot for a request that must be made, such as a cancel that lets a
 * caller free what a pending request points to. A full ring that a submit
 * cannot empty (the kernel refuses while completions wait, -EBUSY) needs
 * completions reaped first: dispatch them until a slot frees up.
 */
struct io_uring_sqe *loop_sqe_wait(struct loop *l)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = loop_sqe(l)))
		if (loop_once(l) < 0)
			return NULL;
	return sqe;
}

static int watch_arm(struct loop_watch *w)
{
	struct io_uring_sqe *sqe = loop_sqe(w->loop);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, w->fd, w->events);
	loop_prep(w->loop, sqe, &w->op);
	w->armed = true;
	return 0;
}

static void watch_done(struct loop_op *op, int res, unsigned flags)
{
	struct loop_watch *w = (struct loop_watch *)op;

	if (!(flags & IORING_CQE_F_MORE))
		w->armed = false;
	if (w->cancelled)
		return;
	if ((res >= 0 || res == -ECANCELED) && w->holdable && w->loop->hold) {
		if (!w->pending) {
			w->pending = true;
			w->next_held = w->loop->held;
			w->loop->held = w;
		}
	} else if (res >= 0 || res == -ECANCELED) {
		w->fn(w->ctx);
	}
	/* The kernel may end a multishot poll at any time: re-arm it. */
	if (!w->armed && !w->cancelled && res != -EBADF)
		watch_arm(w);
}

int loop_watch_add_events(struct loop *l, struct loop_watch *w, int fd,
			  unsigned events, void (*fn)(void *ctx), void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->op.done = watch_done;
	w->loop = l;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->ctx = ctx;
	return watch_arm(w);
}

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd,
		   void (*fn)(void *ctx), void *ctx)
{
	return loop_watch_add_events(l, w, fd, POLLIN, fn, ctx);
}

/* The completion of one poll-remove request. */
struct poll_removal {
	struct loop_op op;
	bool done;
	int res;
};

static void removal_done(struct loop_op *op, int res, unsigned flags)
{
	struct poll_removal *r = (struct poll_removal *)op;

	(void)flags;
	r->res = res;
	r->done = true;
}

static void unhold(struct loop_watch *w)
{
	struct loop_watch **p = &w->loop->held;

	while (*p && *p != w)
		p = &(*p)->next_held;
	if (*p)
		*p = w->next_held;
	w->pending = false;
}

void loop_watch_cancel(struct loop_watch *w)
{
	if (w->cancelled)
		return;
	w->cancelled = true;
	if (w->pending)
		unhold(w);
	/*
	 * Synchronous, so the caller may free w (and close its fd) at once.
	 * A removal that meets the poll while it is posting a completion
	 * fails with -EALREADY and leaves it armed: ask again until the
	 * poll's final completion has come back.
	 */
	while (w->armed) {
		struct poll_removal r = { .op.done = removal_done };
		struct io_uring_sqe *sqe = loop_sqe_wait(w->loop);

		if (!sqe)
			return;
		io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)&w->op);
		loop_prep(w->loop, sqe, &r.op);
		while (!r.done)
			if (loop_once(w->loop) < 0)
				return;
		/* Removed or already gone: its last completion is on the way. */
		while (w->armed && r.res != -EALREADY)
			if (loop_once(w->loop) < 0)
				return;
	}
}

static void dispatch(struct loop *l, struct io_uring_cqe *cqe)
{
	struct loop_op *op = io_uring_cqe_get_data(cqe);
	unsigned flags = cqe->flags;
	int res = cqe->res;

	io_uring_cqe_seen(&l->ring, cqe);
	if (!op)
		return;
	if (!(flags & IORING_CQE_F_MORE))
		l->inflight--;
	op->done(op, res, flags);
}

static int loop_once(struct loop *l)
{
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit_and_wait(&l->ring, 1);
	if (ret < 0 && ret != -EINTR && ret != -EBUSY)
		return ret;
	while (io_uring_peek_cqe(&l->ring, &cqe) == 0)
		dispatch(l, cqe);
	return 0;
}

/* Run what held watches missed; true if anything ran. */
static bool run_held(struct loop *l)
{
	struct loop_watch *w = l->held;

	if (l->hold || !w)
		return false;
	l->held = w->next_held;
	w->pending = false;
	w->fn(w->ctx);
	return true;
}

int loop_run(struct loop *l)
{
	int ret = 0;

	l->stop = false;
	while (!l->stop && ret == 0)
		if (!run_held(l))
			ret = loop_once(l);
	return ret;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

/* Dispatch completions until done(ctx), a stop (if obey_stop) or end. */
static int dispatch_until(struct loop *l, bool (*done)(void *ctx), void *ctx,
			  int64_t end, bool obey_stop)
{
	struct io_uring_cqe *cqe;

	while (!done(ctx) && !(obey_stop && l->stop)) {
		int64_t left = end - (int64_t)mvm_mono_ms();
		struct __kernel_timespec ts;
		int ret;

		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts,
						       NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY)
			return ret;
		while (io_uring_peek_cqe(&l->ring, &cqe) == 0)
			dispatch(l, cqe);
	}
	return 0;
}

int loop_run_until(struct loop *l, bool (*done)(void *ctx), void *ctx,
		   int ms)
{
	l->stop = false; /* as loop_run: a stop that ended it is served */
	return dispatch_until(l, done, ctx, (int64_t)mvm_mono_ms() + ms, true);
}

int loop_wait(struct loop *l, bool (*done)(void *ctx), void *ctx, int ms)
{
	/* l->stop is left alone: it belongs to the loop_run we are inside. */
	return dispatch_until(l, done, ctx, (int64_t)mvm_mono_ms() + ms, false);
}

void loop_hold(struct loop *l)
{
	l->hold++;
}

void loop_release(struct loop *l)
{
	if (l->hold)
		l->hold--;
}
