/*
 * The VMM's one event loop: a single io_uring on the main thread. Everything
 * that is not a vCPU runs here: the console, signals, timers, and later the
 * devices and the API. Each submission carries a struct loop_op whose done()
 * is called with the completion, so subscribers need no central switch.
 */
#ifndef MVM_LOOP_H
#define MVM_LOOP_H

#include <liburing.h>
#include <stdbool.h>

struct mvm_err;
struct loop_op;

typedef void (*loop_done_fn)(struct loop_op *op, int res, unsigned flags);

struct loop_op {
	loop_done_fn done;
};

struct loop_watch;

struct loop {
	struct io_uring ring;
	bool stop;
	unsigned inflight; /* submitted ops whose final completion is pending */
	unsigned hold;     /* loop_hold() depth */
	struct loop_watch *held; /* holdable watches that fired meanwhile */
};

/*
 * A readiness subscription: fn(ctx) runs on the loop thread each time fd is
 * readable. Implemented with multishot poll, re-armed when the kernel drops
 * it, so a subscriber just drains its fd.
 */
struct loop_watch {
	struct loop_op op;
	struct loop *loop;
	int fd;
	unsigned events; /* poll's: POLLIN unless loop_watch_add_events */
	bool armed;
	bool cancelled;
	void (*fn)(void *ctx);
	void *ctx;
	/* Set by the owner: while the loop is held, fn waits (loop_hold). */
	bool holdable;
	bool pending;            /* fired while held; on loop->held */
	struct loop_watch *next_held;
};

int loop_init(struct loop *l, unsigned entries, struct mvm_err *err);
void loop_fini(struct loop *l);

/* An SQE for the caller to fill; its user_data must be a struct loop_op *. */
struct io_uring_sqe *loop_sqe(struct loop *l);
void loop_prep(struct loop *l, struct io_uring_sqe *sqe, struct loop_op *op);
/*
 * The same for a request that must be made (a cancel that lets its
 * caller free what a pending request points to): when the ring is full,
 * completions are dispatched until a slot frees up. NULL only if io_uring
 * itself fails.
 */
struct io_uring_sqe *loop_sqe_wait(struct loop *l);

int loop_watch_add(struct loop *l, struct loop_watch *w, int fd,
		   void (*fn)(void *ctx), void *ctx);
/* The same for other poll events (POLLOUT: fn runs while fd is writable). */
int loop_watch_add_events(struct loop *l, struct loop_watch *w, int fd,
			  unsigned events, void (*fn)(void *ctx), void *ctx);
/* Stop watching; returns once the kernel has let go of w. */
void loop_watch_cancel(struct loop_watch *w);

/* Run until loop_stop(); returns 0 or a negative errno from io_uring. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/*
 * Run until done(ctx), loop_stop() or ms pass (-ETIMEDOUT). For waits
 * outside any loop callback, such as flushing output before mvm exits.
 */
int loop_run_until(struct loop *l, bool (*done)(void *ctx), void *ctx,
		   int ms);
/*
 * Dispatch completions until done(ctx) or ms pass (-ETIMEDOUT), from
 * inside a loop callback (a device pausing waits for its own I/O so): a
 * loop_stop() meanwhile is left for the loop_run that is running, and
 * whatever fires meanwhile runs nested, so the caller holds the holdable
 * watches (loop_hold) and the rest must cope with being called then.
 */
int loop_wait(struct loop *l, bool (*done)(void *ctx), void *ctx, int ms);

/*
 * Hold the holdable watches (the API's) while the VM is half torn down:
 * the loop runs on for the completions its devices wait for, and a
 * request served then would see a VM being freed. What fired meanwhile
 * runs in loop_run once the last hold is released.
 */
void loop_hold(struct loop *l);
void loop_release(struct loop *l);

#endif
