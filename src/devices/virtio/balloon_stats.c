/*
 * The balloon's statistics (virtio 1.2, 5.5.6.3): the driver puts one
 * buffer of (le16 tag, le64 value) pairs on the statsq; the device reads
 * it and keeps it. To ask for fresh values the device gives it back (used,
 * length 0) and the driver answers with the buffer refilled. Here the ask
 * comes every stats_interval_s seconds from a timerfd on the loop, as in
 * Firecracker. Tags mvm does not know (newer drivers send more) are
 * ignored; a tag the driver leaves out keeps its last value.
 */
#include <endian.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mvm/err.h"

#include "balloon_dev.h"

#define STAT_SIZE 10     /* le16 tag, le64 value, packed */
#define MAX_STATS 256    /* entries read from one buffer */

void balloon_stats_ask(struct balloon *b)
{
	struct virtio_queue *q = balloon_queue(b, BALLOON_Q_STATS);

	/* Paused or not live: the next period asks again. */
	if (!q || !b->stats_held || !virtio_serving(b->t))
		return;
	b->stats_held = false;
	virtio_queue_complete(q, b->stats_head, 0);
	virtio_queue_flush(q);
}

static void on_tick(void *ctx)
{
	struct balloon *b = ctx;
	uint64_t n;

	if (read(b->timer_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: a re-arm cleared it meanwhile. */
	}
	balloon_stats_ask(b);
}

int balloon_stats_init(struct balloon *b, struct mvm_err *err)
{
	if (!b->cfg.stats_interval_s)
		return 0;
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->timer_fd < 0)
		return mvm_fail_host(err, -errno, "balloon: timerfd: %s",
				     strerror(errno));
	if (loop_watch_add(b->ctx->loop, &b->timer_watch, b->timer_fd,
			   on_tick, b))
		return mvm_fail(err, -EBUSY, "balloon: event loop full");
	b->timer_watched = true;
	return 0;
}

void balloon_stats_fini(struct balloon *b)
{
	if (b->timer_watched)
		loop_watch_cancel(&b->timer_watch);
	b->timer_watched = false;
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	b->timer_fd = -1;
}

void balloon_stats_arm(struct balloon *b, bool live)
{
	time_t s = live ? b->cfg.stats_interval_s : 0;
	struct itimerspec its = {
		.it_value = { .tv_sec = s },
		.it_interval = { .tv_sec = s },
	};

	if (b->timer_fd >= 0)
		timerfd_settime(b->timer_fd, 0, &its, NULL);
}

/* The values of one buffer; entries past MAX_STATS are not read. */
static void read_stats(struct balloon *b, const struct virtq_chain *c)
{
	uint8_t buf[MAX_STATS * STAT_SIZE];
	size_t len = c->out_len < sizeof(buf) ? c->out_len : sizeof(buf);

	iov_to_buf(b->iov, c->nr_out, 0, buf, len);
	for (size_t at = 0; at + STAT_SIZE <= len; at += STAT_SIZE) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, buf + at, sizeof(tag));
		memcpy(&val, buf + at + 2, sizeof(val));
		tag = le16toh(tag);
		if (tag >= BALLOON_STAT_TAGS)
			continue;
		b->stats[tag] = le64toh(val);
		b->stats_seen |= 1u << tag;
	}
	b->stats_rounds++;
	virtio_count(b->t, VIRTIO_CTR_STATS_UPDATES, 1);
}

void balloon_stats_queue(struct balloon *b, struct virtio_queue *q)
{
	struct virtq_chain c;

	do {
		virtio_queue_notify_disable(q);
		while (virtio_queue_pop(q, &c, b->iov, VIRTQ_MAX_SEGS) > 0) {
			/* One buffer at a time (5.5.6.3): the old one goes. */
			if (b->stats_held) {
				virtio_log(b->t, "queue %u: a second "
					   "statistics buffer; the first is "
					   "given back", q->index);
				virtio_queue_complete(q, b->stats_head, 0);
			}
			read_stats(b, &c);
			b->stats_held = true;
			b->stats_head = c.head;
		}
	} while (virtio_queue_notify_enable(q));
	virtio_queue_flush(q);
}
