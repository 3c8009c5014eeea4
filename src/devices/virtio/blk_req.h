/* virtio-blk device state and its request engine (blk_req.c). */
#ifndef MVM_VIRTIO_BLK_REQ_H
#define MVM_VIRTIO_BLK_REQ_H

#include "mvm/dev_config.h"
#include "mvm/dev_ctx.h"
#include "mvm/virtio_dev.h"

#include "blk.h"
#include "throttle.h"

#define BLK_SECTOR 512
#define BLK_CONFIG_MAX 64
#define BLK_MAX_QUEUES 16

struct blk {
	struct dev_ctx *ctx;
	struct virtio_transport *t;
	char id[DEV_CONFIG_ID_MAX];
	struct blk_file file;
	uint8_t config[BLK_CONFIG_MAX];
	unsigned inflight; /* requests whose CQE has not come yet */
	/*
	 * Per queue. A driver may re-offer a head before it completes, so
	 * only this cap (the queue size) bounds what one guest keeps busy.
	 */
	unsigned q_inflight[BLK_MAX_QUEUES];
	bool stopping;     /* reset asked: start nothing, finish nothing */
	enum disk_cache cache; /* as configured: a swapped-in image gets it */
	/*
	 * A media swap waiting for the requests on the old image: nothing new
	 * starts until they are done, then `next` replaces `file`.
	 */
	bool swap_pending;
	struct blk_file next;
	struct throttle thr; /* the rate limiter of all its queues */
	struct iovec iov[VIRTQ_MAX_SEGS]; /* scratch for popping */
};

/* A request's header (5.2.6), read from guest memory once. */
struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* Device state for snapshots (blk_state.c). */
size_t blk_save(void *dev, void *buf, size_t cap);
int blk_load(void *dev, const void *buf, size_t len);

/*
 * Read the header of a chain: the bytes the request moves, which the rate
 * limiter charges (0 for one without data or a header).
 */
uint64_t blk_req_read_hdr(const struct virtq_chain *c,
			  const struct iovec *iov, struct blk_req_hdr *hdr);
/*
 * Start the chain whose header that was (or complete it at once): the
 * header is not read again, so a guest cannot change what was charged.
 */
void blk_req_start(struct blk *b, struct virtio_queue *q,
		   const struct virtq_chain *c, const struct iovec *iov,
		   const struct blk_req_hdr *hdr);
/* After a reset request: report done once nothing is in flight. */
void blk_maybe_reset_done(struct blk *b);
/* Take and start what the driver made available on q. */
void blk_queue_notify(void *dev, struct virtio_queue *q);

/* New buckets for the disk's limiter (NULL: kept), at once. */
void blk_rate_limit(struct blk *b, const struct token_bucket *bandwidth,
		    const struct token_bucket *ops);

/* Swap in b->next once nothing is in flight (blk_swap.c). */
void blk_swap_maybe_done(struct blk *b);
/* Capacity and discard bits of config space after a new medium. */
void blk_config_media(struct blk *b);

int blk_create(struct dev_ctx *ctx, const struct disk_config *cfg,
	       unsigned cpus, struct mvm_err *err);

#endif
