/* virtio-blk internals shared by the device (blk.c) and its backing file. */
#ifndef MVM_VIRTIO_BLK_H
#define MVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

struct disk_config;
struct mvm_err;

struct blk_file {
	int fd;          /* O_DIRECT with cache=none */
	int fd_buffered; /* cache=none: for buffers O_DIRECT cannot take */
	uint64_t size;   /* bytes, a multiple of 512 */
	bool readonly;
	bool direct;
	bool is_blockdev;
	bool can_punch;  /* FALLOC_FL_PUNCH_HOLE works */
	bool can_zero;   /* FALLOC_FL_ZERO_RANGE may work (cleared on failure) */
};

/*
 * Open and lock the image: shared for read-only disks, exclusive otherwise,
 * so two VMs never write one image. Fails with a message naming the disk.
 */
int blk_file_open(struct blk_file *f, const struct disk_config *cfg,
		  struct mvm_err *err);
void blk_file_close(struct blk_file *f);
/* The image's lock alone, as blk_file_open takes it (-EBUSY when held). */
int blk_file_lock(struct blk_file *f, const char *id, const char *path,
		  struct mvm_err *err);
/* Its data on stable storage, then its lock dropped (the fd stays). */
int blk_file_release(struct blk_file *f, const char *id,
		     struct mvm_err *err);

#endif
