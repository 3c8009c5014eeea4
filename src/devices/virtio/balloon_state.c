/*
 * virtio-balloon's part of a device snapshot: the config space (the
 * host's target, what the driver holds, the hinting command), the
 * statistics period and last values, the statistics buffer the device
 * holds (a chain taken from the statsq and not yet used: the transport's
 * ring indices count it as the device's) and the hinting run's state. A
 * blob of a balloon configured otherwise (statistics on or off, hinting,
 * reporting, deflate on OOM) is refused: the restored driver would find
 * other queues. The statistics period and the target may differ from the
 * configuration's: the API changes both at run time. Inflated pages held
 * back for their 2 MiB frame (balloon_pend.c) are not part of it: a pause
 * gives them back first.
 */
#include <errno.h>
#include <string.h>

#include "balloon_dev.h"

#define BALLOON_STATE_MAGIC 0x314c4c42u /* "BLL1" */

enum { F_DEFLATE, F_HINTING, F_REPORTING, F_STATS_HELD, F_GUEST_SEEN,
       F_ACK_ON_STOP, F_COUNT };

struct balloon_saved {
	uint32_t magic;
	uint32_t num_pages, actual, hint_cmd;
	uint32_t hint_last, hint_guest, stats_seen;
	uint16_t stats_interval_s, stats_head;
	uint8_t flag[8];
	uint64_t stats[BALLOON_STAT_TAGS];
};

size_t balloon_save(void *dev, void *buf, size_t cap)
{
	struct balloon *b = dev;
	struct balloon_saved s = {
		.magic = BALLOON_STATE_MAGIC,
		.hint_last = b->hint_last,
		.hint_guest = b->hint_guest,
		.stats_seen = b->stats_seen,
		.stats_interval_s = b->cfg.stats_interval_s,
		.stats_head = b->stats_held ? b->stats_head : 0,
		.flag = { b->cfg.deflate_on_oom, b->cfg.free_page_hinting,
			  b->cfg.free_page_reporting, b->stats_held,
			  b->hint_guest_seen, b->hint_ack_on_stop },
	};

	if (cap < sizeof(s))
		return 0;
	memcpy(s.stats, b->stats, sizeof(s.stats));
	virtio_config_begin(b->t);
	s.num_pages = b->num_pages;
	s.actual = b->actual;
	s.hint_cmd = b->hint_cmd;
	virtio_config_end(b->t, false);
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

/* The blob fits this device as configured, flags and all. */
static bool fits(const struct balloon *b, const struct balloon_saved *s)
{
	for (int i = 0; i < (int)sizeof(s->flag); i++)
		if (s->flag[i] > (i < F_COUNT))
			return false;
	return s->magic == BALLOON_STATE_MAGIC &&
	       s->flag[F_DEFLATE] == b->cfg.deflate_on_oom &&
	       s->flag[F_HINTING] == b->cfg.free_page_hinting &&
	       s->flag[F_REPORTING] == b->cfg.free_page_reporting &&
	       !s->stats_interval_s == !b->cfg.stats_interval_s &&
	       s->num_pages <= BALLOON_MAX_MIB * BALLOON_PAGES_PER_MIB;
}

/* The held statistics buffer is a head of the live statsq. */
static bool held_ok(struct balloon *b, const struct balloon_saved *s)
{
	struct virtio_queue *q;

	if (!s->flag[F_STATS_HELD])
		return true;
	q = balloon_queue(b, BALLOON_Q_STATS);
	return q && q->ready && s->stats_head < q->size;
}

int balloon_load(void *dev, const void *buf, size_t len)
{
	struct balloon *b = dev;
	struct balloon_saved s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	/* The transport loaded the features first: the queues' roles. */
	balloon_roles(b);
	if (!fits(b, &s) || !held_ok(b, &s))
		return -EINVAL;
	virtio_config_begin(b->t);
	b->num_pages = s.num_pages;
	b->actual = s.actual;
	b->hint_cmd = s.hint_cmd;
	virtio_config_end(b->t, false);
	b->cfg.amount_mib = s.num_pages / BALLOON_PAGES_PER_MIB;
	b->cfg.stats_interval_s = s.stats_interval_s;
	b->stats_held = s.flag[F_STATS_HELD];
	b->stats_head = s.stats_head;
	b->stats_seen = s.stats_seen;
	memcpy(b->stats, s.stats, sizeof(b->stats));
	b->hint_last = s.hint_last;
	b->hint_guest = s.hint_guest;
	b->hint_guest_seen = s.flag[F_GUEST_SEEN];
	b->hint_ack_on_stop = s.flag[F_ACK_ON_STOP];
	b->end_run = s.hint_cmd > BALLOON_HINT_DONE;
	/* The pages this device held back belong to the memory replaced. */
	balloon_pend_forget(b);
	return 0;
}
