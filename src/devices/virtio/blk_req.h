/* virtio-blk device state and its request engine (blk_req.c). */
#ifndef MVM_VIRTIO_BLK_REQ_H
#define MVM_VIRTIO_BLK_REQ_H

#include "mvm/virtio_dev.h"
#include "mvm/vm.h"

#include "blk.h"

#define BLK_SECTOR 512
#define BLK_CONFIG_MAX 64

struct blk {
	struct vm *vm;
	struct virtio_dev *t;
	char id[VM_ID_MAX];
	struct blk_file file;
	uint8_t config[BLK_CONFIG_MAX];
	unsigned inflight; /* requests whose CQE has not come yet */
	bool stopping;     /* reset asked: start nothing, finish nothing */
	struct iovec iov[VIRTQ_MAX_SEGS]; /* scratch for popping */
};

/* Parse one chain and start it (or complete it at once). */
void blk_req_start(struct blk *b, struct virtio_queue *q,
		   const struct virtq_chain *c, const struct iovec *iov);
/* After a reset request: report done once nothing is in flight. */
void blk_maybe_reset_done(struct blk *b);

int blk_create(struct vm *vm, const struct disk_config *cfg,
	       struct mvm_err *err);

#endif
