/*
 * Virtio transport, event-loop side: acting on DRIVER_OK and reset,
 * queue notifications, taking chains on the device's behalf (so malformed
 * ones are handled in one place), completions and interrupts.
 *
 * Reset is asynchronous: the driver's write of 0 only marks it pending
 * (status keeps reading non-zero, which the driver waits on), the device
 * is told to stop, and the state is cleared when the device reports that
 * none of its I/O into guest memory is still in flight. The VM's teardown
 * stops a device the same way, and counts it busy (ctx->busy) meanwhile:
 * the loop that serves the I/O is its owner's to run, never the device's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "transport.h"

#define ISR_QUEUE 1
#define ISR_CONFIG 2
#define LOG_WINDOW_NS 1000000000ULL /* at most one line a second... */
#define LOG_BURST 1                 /* ...per device */

/*
 * One read empties an eventfd (not a semaphore): a second would only
 * return EAGAIN, a system call per kick. A kick after this read makes
 * the fd readable again, and its watch fires once more.
 */
static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: already empty */
}

void virtio_log(struct virtio_transport *t, const char *fmt, ...)
{
	uint64_t now = mvm_mono_ns();
	va_list ap;

	if (now - t->log_window_ns >= LOG_WINDOW_NS) {
		if (t->log_suppressed)
			fprintf(stderr, "mvm: %s: %u more messages "
				"suppressed\n", t->name, t->log_suppressed);
		t->log_window_ns = now;
		t->log_count = 0;
		t->log_suppressed = 0;
	}
	if (t->log_count >= LOG_BURST) {
		t->log_suppressed++;
		return;
	}
	t->log_count++;
	fprintf(stderr, "mvm: %s: ", t->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void raise_irq(struct virtio_transport *t, uint16_t vector, uint8_t isr)
{
	pthread_mutex_lock(&t->lock);
	t->isr |= isr;
	pthread_mutex_unlock(&t->lock);
	/* mvm's functions have no INTx pin: MSI-X is the only way. */
	atomic_fetch_add_explicit(&t->ctx->irq_counts.triggers, 1,
				  memory_order_relaxed);
	msix_notify(&t->msix, vector);
}

void virtio_config_begin(struct virtio_transport *t)
{
	pthread_mutex_lock(&t->lock);
}

void virtio_config_end(struct virtio_transport *t, bool changed)
{
	if (changed)
		t->config_generation++;
	pthread_mutex_unlock(&t->lock);
}

void *virtio_find(struct dev_ctx *ctx, uint16_t device_id,
		  bool (*match)(const void *dev, const void *arg),
		  const void *arg)
{
	for (struct virtio_transport *t = ctx->virtio_devs; t; t = t->next)
		if (t->info.device_id == device_id && match(t->dev, arg))
			return t->dev;
	return NULL;
}

void virtio_config_changed(struct virtio_transport *t)
{
	uint16_t v;

	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	v = t->config_vector;
	pthread_mutex_unlock(&t->lock);
	raise_irq(t, v, ISR_CONFIG);
}

void virtio_needs_reset(struct virtio_transport *t, const char *fmt, ...)
{
	char why[256];
	bool driver_ok;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	virtio_log(t, "%s; device needs reset", why);
	pthread_mutex_lock(&t->lock);
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	driver_ok = t->status & VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_unlock(&t->lock);
	/* 2.1.2: tell a running driver through a config change. */
	if (driver_ok)
		virtio_config_changed(t);
}

void transport_reset_state(struct virtio_transport *t)
{
	t->status = 0;
	t->features = t->driver_features = 0;
	t->dfselect = t->gfselect = 0;
	t->queue_select = 0;
	t->config_vector = MSIX_NO_VECTOR;
	t->isr = 0;
	t->reset_pending = false;
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		struct virtio_queue *q = &t->queues[i];

		q->size = t->info.queue_size;
		q->msix_vector = MSIX_NO_VECTOR;
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
		memset(&q->vq, 0, sizeof(q->vq));
		q->ready = q->broken = q->irq_due = false;
	}
}

void transport_busy_put(struct dev_ctx *ctx)
{
	if (--ctx->busy == 0 && ctx->quiesced)
		ctx->quiesced(ctx);
}

/* A stopping device is idle once reset and its last interrupt is out. */
static void stop_progress(struct virtio_transport *t)
{
	if (!t->busy || !t->quiesced || t->flush_armed)
		return;
	t->busy = false;
	transport_busy_put(t->ctx);
}

void virtio_reset_done(struct virtio_transport *t)
{
	pthread_mutex_lock(&t->lock);
	transport_reset_state(t);
	pthread_mutex_unlock(&t->lock);
	t->active = false;
	t->resetting = false;
	t->quiesced = true;
	/* The VM's teardown may be waiting for this device. */
	stop_progress(t);
}

/* Check the driver's ring setup and make the queue live. t->lock held. */
static const char *setup_queue(struct virtio_transport *t,
			       struct virtio_queue *q)
{
	const char *why = NULL;

	if (q->size > t->info.queue_size)
		return "queue size above the device maximum";
	if (virtq_init(&q->vq, t->ctx->mem, q->size, q->desc, q->driver,
		       q->device, t->features, &why))
		return why;
	q->ready = true;
	return NULL;
}

/* Make q live if the driver enabled it; false if it cannot be used. */
static bool queue_live(struct virtio_transport *t, struct virtio_queue *q)
{
	const char *why = NULL;
	bool enabled;

	if (q->ready)
		return !q->broken;
	if (q->broken)
		return false;
	pthread_mutex_lock(&t->lock);
	enabled = q->enabled;
	if (enabled)
		why = setup_queue(t, q);
	pthread_mutex_unlock(&t->lock);
	if (!enabled)
		return false;
	if (why) {
		q->broken = true;
		virtio_needs_reset(t, "queue %u: %s", q->index, why);
		return false;
	}
	return true;
}

/* Serve what is available on every live queue (not while paused). */
static void notify_queues(struct virtio_transport *t)
{
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		struct virtio_queue *q = &t->queues[i];

		if (virtio_serving(t) && q->ready && !q->broken)
			t->ops->queue_notify(t->dev, q);
	}
}

static void activate(struct virtio_transport *t)
{
	t->active = true;
	for (unsigned i = 0; i < t->info.nr_queues; i++)
		queue_live(t, &t->queues[i]);
	if (t->ops->activate)
		t->ops->activate(t->dev);
	/* Buffers added before DRIVER_OK got no service yet. */
	notify_queues(t);
}

static void start_reset(struct virtio_transport *t)
{
	t->resetting = true;
	t->quiesced = false;
	t->active = false;
	t->ops->reset(t->dev); /* may call virtio_reset_done() at once */
}

bool transport_ctl(struct virtio_transport *t)
{
	bool reset, driver_ok;

	pthread_mutex_lock(&t->lock);
	reset = t->reset_pending;
	driver_ok = t->status & VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_unlock(&t->lock);
	if (reset) {
		if (!t->resetting)
			start_reset(t);
		return false;
	}
	if (!driver_ok || t->active || t->resetting)
		return false;
	activate(t);
	return true;
}

static void on_ctl(void *ctx)
{
	struct virtio_transport *t = ctx;

	drain(t->ctl_fd);
	/* A paused device acts on the driver's status when it resumes. */
	if (t->destroying || t->paused)
		return;
	transport_ctl(t);
}

static void on_kick(void *ctx)
{
	struct virtio_queue *q = ctx;
	struct virtio_transport *t = q->t;

	drain(q->kick_fd);
	virtio_count(t, q->index % 2 ? VIRTIO_CTR_KICKS_ODD :
				       VIRTIO_CTR_KICKS_EVEN, 1);
	/* Paused: resume serves every queue, this one included. */
	if (!virtio_serving(t))
		return;
	if (queue_live(t, q))
		t->ops->queue_notify(t->dev, q);
}

static bool queue_usable(const struct virtio_queue *q)
{
	return q->ready && !q->broken && q->t->active;
}

int virtio_queue_take(struct virtio_queue *q, struct virtq_chain *c,
		      struct iovec *iov, unsigned cap)
{
	struct virtio_transport *t = q->t;
	int ret;

	if (!queue_usable(q))
		return 0;
	ret = virtq_pop(&q->vq, c, iov, cap);
	if (ret >= 0)
		return ret;
	if (ret == -EBADMSG) {
		virtio_log(t, "queue %u: %s; request failed", q->index,
			   c->error);
		return -EBADMSG;
	}
	q->broken = true;
	virtio_needs_reset(t, "queue %u: %s", q->index, c->error);
	return 0;
}

int virtio_queue_pop(struct virtio_queue *q, struct virtq_chain *c,
		     struct iovec *iov, unsigned cap)
{
	int ret;

	while ((ret = virtio_queue_take(q, c, iov, cap)) == -EBADMSG)
		virtio_queue_complete(q, c->head, 0);
	return ret;
}

int virtio_queue_peek(struct virtio_queue *q, uint16_t skip,
		      struct virtq_chain *c, struct iovec *iov, unsigned cap)
{
	if (!queue_usable(q)) {
		memset(c, 0, sizeof(*c));
		return 0;
	}
	return virtq_peek(&q->vq, skip, c, iov, cap);
}

void virtio_queue_notify_disable(struct virtio_queue *q)
{
	if (q->ready && !q->broken)
		virtq_notify_disable(&q->vq);
}

bool virtio_queue_notify_enable(struct virtio_queue *q)
{
	if (!q->ready || q->broken || !q->t->active)
		return false;
	return virtq_notify_enable(&q->vq);
}

void virtio_queue_push(struct virtio_queue *q, uint16_t head, uint32_t len)
{
	virtq_push(&q->vq, head, len);
}

void virtio_queue_publish(struct virtio_queue *q)
{
	virtq_publish(&q->vq);
	q->irq_due = true;
}

void virtio_queue_unpop(struct virtio_queue *q, uint16_t n)
{
	virtq_unpop(&q->vq, n);
}

void virtio_queue_complete(struct virtio_queue *q, uint16_t head,
			   uint32_t len)
{
	virtq_push(&q->vq, head, len);
	virtq_publish(&q->vq);
	q->irq_due = true;
}

void virtio_queue_flush(struct virtio_queue *q)
{
	uint16_t vector;

	if (!q->irq_due || !q->ready)
		return;
	q->irq_due = false;
	if (!virtq_need_interrupt(&q->vq))
		return;
	pthread_mutex_lock(&q->t->lock);
	vector = q->msix_vector;
	pthread_mutex_unlock(&q->t->lock);
	raise_irq(q->t, vector, ISR_QUEUE);
}

static void flush_done(struct loop_op *op, int res, unsigned flags)
{
	struct virtio_transport *t = (struct virtio_transport *)((char *)op -
		offsetof(struct virtio_transport, flush_op));

	(void)res;
	(void)flags;
	t->flush_armed = false;
	for (unsigned i = 0; i < t->info.nr_queues; i++)
		virtio_queue_flush(&t->queues[i]);
	stop_progress(t);
}

void virtio_queue_flush_later(struct virtio_queue *q)
{
	struct virtio_transport *t = q->t;
	struct io_uring_sqe *sqe;

	if (t->flush_armed)
		return;
	/*
	 * A NOP submitted now completes after the CQEs being dispatched,
	 * so everything they completed shares one interrupt.
	 */
	sqe = loop_sqe(t->ctx->loop);
	if (!sqe) {
		virtio_queue_flush(q);
		return;
	}
	io_uring_prep_nop(sqe);
	t->flush_op.done = flush_done;
	loop_prep(t->ctx->loop, sqe, &t->flush_op);
	t->flush_armed = true;
}

/* Nothing in flight: the model's requests done, no interrupt batch due. */
static bool quiet(void *ctx)
{
	struct virtio_transport *t = ctx;

	return !t->flush_armed && !t->resetting &&
	       !(t->ops->inflight && t->ops->inflight(t->dev));
}

int transport_pause(struct virtio_transport *t, struct mvm_err *err)
{
	int ret;

	if (t->paused)
		return 0;
	t->paused = true; /* virtio_serving() is false from here */
	/*
	 * A reset or DRIVER_OK the driver wrote just before its vCPU parked
	 * is acted on first: the saved state must not lose it.
	 */
	transport_ctl(t);
	if (t->ops->pause)
		t->ops->pause(t->dev);
	ret = loop_wait(t->ctx->loop, quiet, t, (int)t->quiesce_ms);
	if (ret) {
		unsigned n = t->ops->inflight ? t->ops->inflight(t->dev) : 0;

		transport_resume(t);
		/* The host's disk or network is stuck, not the request. */
		return mvm_fail_host(err, ret, "%s: %u request(s) still in "
				     "flight after %u ms; not paused",
				     t->name, n, t->quiesce_ms);
	}
	/* Every completion reaches the driver, with its interrupt... */
	for (unsigned i = 0; i < t->info.nr_queues; i++)
		virtio_queue_flush(&t->queues[i]);
	/* ...and from here what fires (a media change) waits in the PBA. */
	msix_hold(&t->msix, true);
	return 0;
}

void transport_resume(struct virtio_transport *t)
{
	msix_hold(&t->msix, false);
	t->paused = false;
	/* Activating serves the queues; else kicks may have been missed. */
	if (!transport_ctl(t))
		notify_queues(t);
}

int transport_reset(struct virtio_transport *t, struct mvm_err *err)
{
	int ret;

	if (!t->resetting)
		start_reset(t);
	/* Paused, nothing is in flight: the model reports done at once. */
	ret = loop_wait(t->ctx->loop, quiet, t, (int)t->quiesce_ms);
	if (ret)
		return mvm_fail(err, ret, "%s: the reset did not complete "
				"within %u ms", t->name, t->quiesce_ms);
	return 0;
}

int transport_init(struct virtio_transport *t, struct mvm_err *err)
{
	struct loop *l = t->ctx->loop;

	t->quiesce_ms = VIRTIO_PAUSE_MS;
	t->queues = calloc(t->info.nr_queues, sizeof(*t->queues));
	if (!t->queues)
		return mvm_fail(err, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		t->queues[i].t = t;
		t->queues[i].index = i;
		t->queues[i].kick_fd = -1;
	}
	transport_reset_state(t);
	t->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->ctl_fd < 0)
		return mvm_fail(err, -errno, "%s: eventfd: %s", t->name,
				strerror(errno));
	if (loop_watch_add(l, &t->ctl_watch, t->ctl_fd, on_ctl, t))
		return mvm_fail(err, -EBUSY, "%s: event loop full", t->name);
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		struct virtio_queue *q = &t->queues[i];

		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return mvm_fail(err, -errno, "%s: eventfd: %s",
					t->name, strerror(errno));
		if (loop_watch_add(l, &q->kick_watch, q->kick_fd, on_kick, q))
			return mvm_fail(err, -EBUSY, "%s: event loop full",
					t->name);
	}
	return 0;
}

void transport_fini(struct virtio_transport *t)
{
	if (t->queues) {
		for (unsigned i = 0; i < t->info.nr_queues; i++) {
			struct virtio_queue *q = &t->queues[i];

			if (q->kick_fd < 0)
				continue;
			loop_watch_cancel(&q->kick_watch);
			close(q->kick_fd);
		}
		free(t->queues);
		t->queues = NULL;
	}
	if (t->ctl_fd >= 0) {
		loop_watch_cancel(&t->ctl_watch);
		close(t->ctl_fd);
		t->ctl_fd = -1;
	}
}

void virtio_pci_stop(struct virtio_transport *t)
{
	if (t->destroying)
		return;
	t->destroying = true;
	t->busy = true;
	t->ctx->busy++;
	/* A reset the driver asked for is on its way already. */
	if (!t->resetting)
		start_reset(t);
	stop_progress(t);
}

void virtio_pci_destroy(struct virtio_transport *t)
{
	struct dev_ctx *ctx = t->ctx;
	void *dev = t->dev;
	const struct virtio_dev_ops *ops = t->ops;

	/* Unlink from the context's list. */
	for (struct virtio_transport **p = &ctx->virtio_devs; *p;
	     p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	/*
	 * I/O still in flight would complete into freed memory: a device
	 * its owner did not let quiesce is left allocated, and said so.
	 */
	if (!t->destroying || t->busy) {
		fprintf(stderr, "mvm: %s: freed before its I/O completed; "
			"left allocated\n", t->name);
		return;
	}
	if (t->log_suppressed)
		fprintf(stderr, "mvm: %s: %u more messages suppressed\n",
			t->name, t->log_suppressed);
	virtio_pci_free(t);
	if (ops->destroy)
		ops->destroy(dev);
}
