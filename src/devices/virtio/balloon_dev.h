/*
 * virtio-balloon internals, shared by the device (balloon.c), its page
 * queues (balloon_pages.c), free pages (balloon_free.c), its statistics
 * (balloon_stats.c), its owner's side (balloon_ctl.c) and its part of a
 * snapshot (balloon_state.c).
 */
#ifndef MVM_VIRTIO_BALLOON_DEV_H
#define MVM_VIRTIO_BALLOON_DEV_H

#include <stdint.h>

#include "mvm/balloon.h"
#include "mvm/dev_ctx.h"
#include "mvm/mem.h"
#include "mvm/virtio_dev.h"

#define BALLOON_QUEUE_SIZE 256
#define BALLOON_MAX_QUEUES 5
/* PFNs one inflate or deflate chain may carry (Linux sends 256). */
#define BALLOON_MAX_PFNS 4096
/* Config space (5.5.4): num_pages, actual, free_page_hint_cmd_id,
 * poison_val (always 0: PAGE_POISON is not offered). */
#define BALLOON_CONFIG_SIZE 16
#define BALLOON_CFG_NUM_PAGES 0
#define BALLOON_CFG_ACTUAL 4
#define BALLOON_CFG_HINT_CMD 8

/* Feature bits (5.5.3). */
#define BALLOON_F_MUST_TELL_HOST 0
#define BALLOON_F_STATS_VQ 1
#define BALLOON_F_DEFLATE_ON_OOM 2
#define BALLOON_F_FREE_PAGE_HINT 3
#define BALLOON_F_PAGE_REPORTING 5

/*
 * What each queue is for. The driver numbers the queues it uses in this
 * order, skipping those whose feature it did not negotiate (Linux's
 * find_vqs, QEMU's and Firecracker's devices), so a queue's role is only
 * known once the features are.
 */
enum balloon_role {
	BALLOON_Q_NONE,
	BALLOON_Q_INFLATE,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_HINT,
	BALLOON_Q_REPORT,
};

/* 4 KiB pages in a 2 MiB frame: a transparent huge page of guest RAM. */
#define BALLOON_FRAME_PAGES 512

/*
 * Inflated pages not given back yet, in the whole 2 MiB frames of one
 * guest RAM region (balloon_pend.c): a bit a page, and a count a frame.
 */
struct balloon_pend_region {
	uint64_t *bits;
	uint16_t *fill;
	uint64_t first;     /* gpa of the region's first whole frame */
	uint64_t frames;    /* whole frames; 0: no bitmap (yet) */
	uint64_t gpa, size; /* the region as it was when the bitmap was made */
};

struct balloon_pend {
	struct balloon_pend_region r[MEM_MAX_REGIONS];
	uint64_t count;     /* pages waiting, over all regions */
	int timer_fd;       /* the inflate went quiet */
	struct loop_watch watch;
	bool watched;
	int kick_fd;        /* an eventfd: the driver wrote actual */
	struct loop_watch kick_watch;
	bool kick_watched;
};

struct balloon {
	struct dev_ctx *ctx;
	struct virtio_transport *t;
	struct balloon_config cfg; /* as made; stats_interval_s as it is */

	/* Config space, read by vCPU threads: virtio_config_begin/_end. */
	uint32_t num_pages, actual, hint_cmd;

	/* The loop thread from here. */
	enum balloon_role role[BALLOON_MAX_QUEUES];
	int timer_fd;          /* the statistics' period; -1 without */
	struct loop_watch timer_watch;
	bool timer_watched;
	bool stats_held;       /* the driver's stats buffer, held... */
	uint16_t stats_head;   /* ...until fresh statistics are wanted */
	uint64_t stats[BALLOON_STAT_TAGS];
	uint32_t stats_seen;
	uint64_t stats_rounds; /* buffers read: fresh statistics, for whom
				  waits for them (not saved) */
	/* Hinting: the host's command, the last run's id, the driver's. */
	uint32_t hint_last;
	uint32_t hint_guest;
	bool hint_guest_seen;
	bool hint_ack_on_stop;
	bool end_run;          /* a loaded state caught a run: end it */

	struct balloon_pend pend; /* with MUST_TELL_HOST negotiated */

	struct iovec iov[VIRTQ_MAX_SEGS];
	uint32_t pfns[BALLOON_MAX_PFNS];
};

/* Each queue's role under the negotiated features (balloon.c). */
void balloon_roles(struct balloon *b);
/* The queue playing role, or NULL. */
struct virtio_queue *balloon_queue(struct balloon *b, enum balloon_role r);
/* Set the hinting command id and tell the driver (balloon_ctl.c). */
void balloon_hint_cmd(struct balloon *b, uint32_t cmd);

/* The inflate and deflate queues (balloon_pages.c). */
void balloon_inflate(struct balloon *b, struct virtio_queue *q);
void balloon_deflate(struct balloon *b, struct virtio_queue *q);
/* Give inflated pages back now, counted (balloon_pages.c). */
void balloon_give_back(struct balloon *b, uint64_t gpa, uint64_t len);

/*
 * Inflated pages that wait for their whole 2 MiB frame (balloon_pend.c),
 * with MUST_TELL_HOST negotiated; loop thread, but balloon_pend_kick.
 */
int balloon_pend_init(struct balloon *b, struct mvm_err *err);
void balloon_pend_fini(struct balloon *b);
/* Hold one inflated page (a whole frame goes back at once): false if gpa
 * is in no whole frame of a region, and the caller gives it back now. */
bool balloon_pend_page(struct balloon *b, uint64_t gpa);
/* A deflated page: never given back later. Any gpa, checked. */
void balloon_pend_unpage(struct balloon *b, uint64_t gpa);
/* Give back every page that waits. */
void balloon_pend_flush(struct balloon *b);
/* ...if the driver holds the target (actual >= num_pages). */
void balloon_pend_settle(struct balloon *b);
/* Drop them all, none given back: the driver no longer holds them. */
void balloon_pend_forget(struct balloon *b);
/* Flush from the loop in ns (0: disarm). */
void balloon_pend_arm(struct balloon *b, uint64_t ns);
/* From a vCPU thread (a write, which its sandbox allows): the loop then
 * settles (above). */
void balloon_pend_kick(struct balloon *b);
/* An inflate was served: flush if no other comes for a while. */
void balloon_pend_quiet(struct balloon *b);

/* Free page hinting's and reporting's queues (balloon_free.c). */
void balloon_hint(struct balloon *b, struct virtio_queue *q);
void balloon_report(struct balloon *b, struct virtio_queue *q);

/* The statistics (balloon_stats.c). */
int balloon_stats_init(struct balloon *b, struct mvm_err *err);
void balloon_stats_fini(struct balloon *b);
/* The queue: the driver's buffer of statistics, read and held. */
void balloon_stats_queue(struct balloon *b, struct virtio_queue *q);
/* Arm the period (live) or stop it, per cfg.stats_interval_s. */
void balloon_stats_arm(struct balloon *b, bool live);
/* Give the held buffer back: the driver answers with fresh statistics. */
void balloon_stats_ask(struct balloon *b);

/* A snapshot's part (balloon_state.c). */
size_t balloon_save(void *dev, void *buf, size_t cap);
int balloon_load(void *dev, const void *buf, size_t len);

#endif
