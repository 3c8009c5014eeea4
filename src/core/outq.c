/*
 * The console's output queue (see outq.h). One write at a time is in
 * flight, from the ring's head; producers append at its tail under the
 * lock and wake the loop through an eventfd only when no write is going,
 * since a completion starts the next write by itself.
 *
 * The fd is written through io_uring with the file's own flags: mvm never
 * sets O_NONBLOCK on stdout, whose open file a shell or a tty shares and
 * would keep after mvm. A pipe nobody drains leaves its write waiting in
 * the kernel; a fd that is non-blocking anyway answers EAGAIN, and the
 * queue then waits for POLLOUT before writing again.
 */
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/outq.h"

/* How long teardown waits for a cancelled write to let go of the buffer. */
#define OUTQ_CANCEL_MS 100

static void op_done(struct loop_op *op, int res, unsigned flags);

/* With q->lock held, on the loop thread. */
static void start_write(struct outq *q)
{
	struct io_uring_sqe *sqe;
	size_t n;

	if (q->busy || !q->len || q->fd < 0 || q->broken)
		return;
	sqe = loop_sqe(q->loop);
	if (!sqe)
		return; /* the next byte queued wakes the loop again */
	n = q->len < OUTQ_SIZE - q->head ? q->len : OUTQ_SIZE - q->head;
	if (q->polling)
		io_uring_prep_poll_add(sqe, q->fd, POLLOUT);
	else
		/* Offset -1: the file position, as write() would. */
		io_uring_prep_write(sqe, q->fd, q->buf + q->head, (unsigned)n,
				    (uint64_t)-1);
	q->op.done = op_done;
	loop_prep(q->loop, sqe, &q->op);
	q->busy = true;
}

/* The reader is gone or the file failed: nothing queued can go out. */
static void drop_all(struct outq *q)
{
	q->dropped += q->len;
	q->head = q->len = 0;
	q->broken = true;
}

static void op_done(struct loop_op *op, int res, unsigned flags)
{
	struct outq *q = (struct outq *)((char *)op -
					 offsetof(struct outq, op));

	(void)flags;
	pthread_mutex_lock(&q->lock);
	q->busy = false;
	if (q->broken) {
		/* Dropped meanwhile (a drain gave up): nothing to account. */
	} else if (q->polling) {
		q->polling = false;
		if (res < 0 && res != -EINTR) {
			q->write_fails++;
			drop_all(q);
		}
	} else if (res > 0) {
		q->head = (q->head + (size_t)res) % OUTQ_SIZE;
		q->len -= (size_t)res;
		q->writes++;
	} else if (res == -EAGAIN) {
		q->polling = true; /* a non-blocking fd that is full */
	} else if (res != -EINTR) {
		q->write_fails++;
		drop_all(q);
	}
	start_write(q);
	pthread_mutex_unlock(&q->lock);
}

static void on_wake(void *ctx)
{
	struct outq *q = ctx;
	uint64_t n;

	if (read(q->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&q->lock);
	q->kicked = false;
	start_write(q);
	pthread_mutex_unlock(&q->lock);
}

int outq_init(struct outq *q, struct loop *l, struct mvm_err *err)
{
	int ret;

	memset(q, 0, sizeof(*q));
	q->fd = q->efd = -1;
	q->loop = l;
	q->buf = malloc(OUTQ_SIZE);
	if (!q->buf)
		return mvm_fail(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&q->lock, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return mvm_fail(err, -errno, "console: eventfd: %s",
				strerror(errno));
	ret = loop_watch_add(l, &q->wake, q->efd, on_wake, q);
	if (ret)
		return mvm_fail(err, ret, "console: cannot watch its queue");
	q->watched = true;
	return 0;
}

void outq_set_fd(struct outq *q, int fd)
{
	pthread_mutex_lock(&q->lock);
	if (fd != q->fd) {
		/* What was queued for the old output is not the new one's. */
		if (!q->busy)
			q->head = q->len = 0;
		q->broken = false;
		q->polling = false;
	}
	q->fd = fd;
	pthread_mutex_unlock(&q->lock);
}

void outq_put(struct outq *q, const void *data, size_t n)
{
	uint64_t one = 1;
	size_t room, tail, k;

	pthread_mutex_lock(&q->lock);
	if (q->fd < 0) {
		pthread_mutex_unlock(&q->lock);
		return; /* no console: the bytes go nowhere, as asked */
	}
	room = q->broken ? 0 : OUTQ_SIZE - q->len;
	k = n < room ? n : room;
	q->dropped += n - k;
	tail = (q->head + q->len) % OUTQ_SIZE;
	for (size_t i = 0; i < k; i++)
		q->buf[(tail + i) % OUTQ_SIZE] = ((const uint8_t *)data)[i];
	q->len += k;
	if (q->len && !q->busy && !q->kicked) {
		q->kicked = true;
		/* Cannot block: the counter holds far more than we add. */
		if (write(q->efd, &one, sizeof(one)) < 0)
			q->kicked = false;
	}
	pthread_mutex_unlock(&q->lock);
}

uint64_t outq_dropped(struct outq *q)
{
	uint64_t d;

	if (!q->buf)
		return 0;
	pthread_mutex_lock(&q->lock);
	d = q->dropped;
	pthread_mutex_unlock(&q->lock);
	return d;
}

void outq_counts(struct outq *q, struct outq_counts *c)
{
	memset(c, 0, sizeof(*c));
	if (!q->buf)
		return;
	pthread_mutex_lock(&q->lock);
	c->dropped = q->dropped;
	c->writes = q->writes;
	c->write_fails = q->write_fails;
	pthread_mutex_unlock(&q->lock);
}

static bool drained(void *ctx)
{
	struct outq *q = ctx;
	bool done;

	pthread_mutex_lock(&q->lock);
	done = !q->len || q->broken || q->fd < 0;
	pthread_mutex_unlock(&q->lock);
	return done;
}

void outq_drain(struct outq *q, int ms)
{
	if (!q->buf)
		return;
	pthread_mutex_lock(&q->lock);
	start_write(q);
	pthread_mutex_unlock(&q->lock);
	loop_run_until(q->loop, drained, q, ms);
	pthread_mutex_lock(&q->lock);
	/* A reader that took nothing for ms: what is left is lost. */
	if (q->len && q->fd >= 0)
		drop_all(q);
	pthread_mutex_unlock(&q->lock);
}

static bool idle(void *ctx)
{
	return !((struct outq *)ctx)->busy;
}

void outq_fini(struct outq *q)
{
	struct io_uring_sqe *sqe;

	if (!q->buf)
		return;
	outq_drain(q, OUTQ_DRAIN_MS);
	/* A write the reader never took still points into buf. */
	if (q->busy && (sqe = loop_sqe(q->loop))) {
		io_uring_prep_cancel(sqe, &q->op, 0);
		io_uring_sqe_set_data(sqe, NULL);
		loop_run_until(q->loop, idle, q, OUTQ_CANCEL_MS);
	}
	if (q->watched)
		loop_watch_cancel(&q->wake);
	if (q->efd >= 0)
		close(q->efd);
	/* Still busy: the kernel may yet read buf, so it stays allocated. */
	if (!q->busy) {
		free(q->buf);
		pthread_mutex_destroy(&q->lock);
	}
	q->buf = NULL;
	q->efd = -1;
	q->watched = false;
}
