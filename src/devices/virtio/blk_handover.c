/*
 * A live migration hands the disks over between two mvm processes on
 * shared storage. The source's last writes must be on stable storage and
 * its locks dropped before the destination takes them, so that at no
 * moment can two VMs write one image. Should the migration fail after the
 * release, the source takes its locks back before its guest runs on: if
 * another process holds one then, the guest must not run.
 */
#include <stdbool.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "blk_req.h"

static struct blk *next_blk(struct dev_ctx *ctx, struct virtio_transport **t)
{
	struct virtio_transport *at = *t ? (*t)->next : ctx->virtio_devs;

	for (; at; at = at->next)
		if (at->info.device_id == VIRTIO_ID_BLOCK)
			break;
	*t = at;
	return at ? at->dev : NULL;
}

static void release_all(struct dev_ctx *ctx, struct virtio_transport *upto)
{
	struct mvm_err ignored = { .msg = "" };
	struct virtio_transport *t = NULL;
	struct blk *b;

	while ((b = next_blk(ctx, &t)) && t != upto)
		blk_file_release(&b->file, b->id, &ignored);
}

int virtio_blk_handover(struct dev_ctx *ctx, bool release,
			struct mvm_err *err)
{
	struct virtio_transport *t = NULL;
	struct blk *b;
	int ret;

	while ((b = next_blk(ctx, &t))) {
		ret = release ? blk_file_release(&b->file, b->id, err)
			      : blk_file_lock(&b->file, b->id, "its image",
					      err);
		if (ret) {
			if (!release)
				release_all(ctx, t);
			return ret;
		}
	}
	return 0;
}
