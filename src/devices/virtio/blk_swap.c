/*
 * Media swap (API PATCH /drives/{id} path_on_host on a running VM): the
 * new image is opened, locked and sized at once so any error reaches the
 * caller while the old medium stays; the swap itself waits until the
 * requests already running on the old image have completed, so none of
 * them straddles two media. Then the driver learns the new capacity from a
 * config-change interrupt, as after a host-side resize.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mvm/dev_config.h"
#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "blk_req.h"

static bool id_is(const void *dev, const void *id)
{
	return !strcmp(((const struct blk *)dev)->id, id);
}

static struct blk *find_blk(struct dev_ctx *ctx, const char *id)
{
	return virtio_find(ctx, VIRTIO_ID_BLOCK, id_is, id);
}

static void resume_queues(struct blk *b)
{
	struct virtio_transport *t = b->t;

	if (!virtio_serving(t))
		return;
	for (unsigned i = 0; i < virtio_nr_queues(t); i++) {
		struct virtio_queue *q = virtio_queue_at(t, i);

		if (q->ready && !q->broken)
			blk_queue_notify(b, q);
	}
}

void blk_swap_maybe_done(struct blk *b)
{
	if (!b->swap_pending || b->inflight)
		return;
	blk_file_close(&b->file);
	b->file = b->next;
	b->swap_pending = false;
	blk_config_media(b);
	if (virtio_active(b->t))
		virtio_config_changed(b->t);
	resume_queues(b);
}

/*
 * The image open now, resized on the host: its own lock would refuse a
 * second open, and the file need not change, only its size.
 */
static bool is_file(int fd, const struct stat *st)
{
	struct stat f;

	return fstat(fd, &f) == 0 && f.st_dev == st->st_dev &&
	       f.st_ino == st->st_ino;
}

static int same_image(struct blk *b, const char *path, struct mvm_err *err)
{
	struct stat now, st;

	/* Asked again for the image already waiting: it holds the lock. */
	if (b->swap_pending && stat(path, &st) == 0 && is_file(b->next.fd, &st))
		return 2;
	if (stat(path, &st) < 0 || fstat(b->file.fd, &now) < 0 ||
	    st.st_dev != now.st_dev || st.st_ino != now.st_ino)
		return 0;
	if (b->file.is_blockdev)
		return 1; /* a block device keeps its size here */
	if (st.st_size % 512)
		return mvm_fail(err, -EINVAL, "disk %s: %s: size %lld is not "
				"a multiple of 512 bytes", b->id, path,
				(long long)st.st_size);
	b->file.size = (uint64_t)st.st_size;
	return 1;
}

static int swap(struct blk *b, const char *path, struct mvm_err *err)
{
	struct disk_config cfg = { .readonly = false };
	struct blk_file f;
	int ret;

	ret = same_image(b, path, err);
	if (ret < 0 || ret == 2)
		return ret < 0 ? ret : 0;
	if (ret == 0) {
		snprintf(cfg.id, sizeof(cfg.id), "%s", b->id);
		cfg.path = (char *)path;
		cfg.readonly = b->file.readonly;
		cfg.cache = b->cache;
		ret = blk_file_open(&f, &cfg, err);
		if (ret)
			return ret;
		if (b->swap_pending)
			blk_file_close(&b->next); /* a newer swap wins */
		b->next = f;
		b->swap_pending = true;
		blk_swap_maybe_done(b);
		return 0;
	}
	/* Back to the medium in use: a swap still waiting is dropped. */
	if (b->swap_pending) {
		blk_file_close(&b->next);
		b->swap_pending = false;
	}
	blk_config_media(b);
	if (virtio_active(b->t))
		virtio_config_changed(b->t);
	resume_queues(b);
	return 0;
}

int virtio_blk_swap(struct dev_ctx *ctx, const char *id, const char *path,
		    struct mvm_err *err)
{
	struct blk *b = find_blk(ctx, id);
	int ret;

	if (!b)
		return mvm_fail(err, -ENOENT, "drive %s: no such disk on the "
				"running VM", id);
	ret = swap(b, path, err);
	/* Firecracker's update_count and update_fails. */
	virtio_count(b->t, ret ? VIRTIO_CTR_UPDATE_FAILS : VIRTIO_CTR_UPDATES,
		     1);
	return ret;
}
