/*
 * The console's output queue: vCPUs put the guest's bytes in a bounded
 * buffer and the event loop writes them out with io_uring. A reader that
 * stops draining (`mvm ... | less`, a stalled log shipper) then costs the
 * bytes that do not fit, counted, and never a blocked vCPU or loop.
 */
#ifndef MVM_OUTQ_H
#define MVM_OUTQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/loop.h"

struct mvm_err;

#define OUTQ_SIZE (64u << 10) /* as much again as a pipe holds */
/* How long mvm's exit waits for a reader to take what is queued. */
#define OUTQ_DRAIN_MS 1000

struct outq {
	pthread_mutex_t lock; /* producers (vCPUs) against the loop */
	uint8_t *buf;
	size_t head, len;     /* the ring; len counts the bytes in flight */
	uint64_t dropped;     /* bytes that found the buffer full, ever */
	uint64_t writes;      /* writes that took bytes out, ever */
	uint64_t write_fails; /* writes or waits the fd failed, ever */
	int fd;               /* -1: nowhere, bytes are discarded */
	bool broken;          /* fd failed (EPIPE, EIO): drop from now on */
	bool kicked;          /* the loop has been woken and not yet run */
	bool busy;            /* a write or a wait for POLLOUT is in flight */

	struct loop *loop;
	int efd;              /* eventfd: a producer wakes the loop */
	struct loop_watch wake;
	bool watched;
	struct loop_op op;
	bool polling;         /* op is a POLLOUT wait, not a write */
};

int outq_init(struct outq *q, struct loop *l, struct mvm_err *err);
/* Where the bytes go from now on; fd stays the caller's to close. */
void outq_set_fd(struct outq *q, int fd);
/* Any thread. Never blocks on the output; bytes that do not fit count. */
void outq_put(struct outq *q, const void *data, size_t n);
uint64_t outq_dropped(struct outq *q);

/* The counters above, for the metrics (any thread). */
struct outq_counts {
	uint64_t dropped, writes, write_fails;
};
void outq_counts(struct outq *q, struct outq_counts *c);
/*
 * On the loop thread, outside any loop callback: wait up to ms for the
 * queue to empty. What is still there then is dropped and counted.
 */
void outq_drain(struct outq *q, int ms);
/* Drain (OUTQ_DRAIN_MS) and free. Safe on a zeroed or failed queue. */
void outq_fini(struct outq *q);

#endif
