/* virtio-blk device state and its request engine (blk_req.c). */
#ifndef MVM_VIRTIO_BLK_REQ_H
#define MVM_VIRTIO_BLK_REQ_H

#include "mvm/virtio_dev.h"
#include "mvm/vm.h"

#include "blk.h"

#define BLK_SECTOR 512
#define BLK_CONFIG_MAX 64
#define BLK_MAX_QUEUES 16

struct blk {
	struct vm *vm;
	struct virtio_dev *t;
	char id[VM_ID_MAX];
	struct blk_file file;
	uint8_t config[BLK_CONFIG_MAX];
	unsigned inflight; /* requests whose CQE has not come yet */
	/*
	 * Per queue. A driver may re-offer a head before it completes, so
	 * only this cap (the queue size) bounds what one guest keeps busy.
	 */
	unsigned q_inflight[BLK_MAX_QUEUES];
	bool stopping;     /* reset asked: start nothing, finish nothing */
	struct iovec iov[VIRTQ_MAX_SEGS]; /* scratch for popping */
};

/* Parse one chain and start it (or complete it at once). */
void blk_req_start(struct blk *b, struct virtio_queue *q,
		   const struct virtq_chain *c, const struct iovec *iov);
/* After a reset request: report done once nothing is in flight. */
void blk_maybe_reset_done(struct blk *b);
/* Take and start what the driver made available on q. */
void blk_queue_notify(void *dev, struct virtio_queue *q);

int blk_create(struct vm *vm, const struct disk_config *cfg,
	       struct mvm_err *err);

#endif
