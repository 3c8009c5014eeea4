/*
 * virtio-blk's part of a device snapshot: what the guest has seen of the
 * disk (its config space) and the disk's shape. The data itself is the
 * image's, saved with it; nothing is in flight when this runs (the
 * transport saves a quiesced device). A blob taken from a disk of another
 * size or mode is refused, so a restored guest never sees its disk change
 * under it.
 */
#include <errno.h>
#include <string.h>

#include "blk_req.h"

#define BLK_STATE_MAGIC 0x314b4c42u /* "BLK1" */

struct blk_saved {
	uint32_t magic;
	uint32_t config_len;
	uint64_t size;
	uint8_t readonly;
	uint8_t pad[7];
	uint8_t config[BLK_CONFIG_MAX];
};

size_t blk_save(void *dev, void *buf, size_t cap)
{
	struct blk *b = dev;
	struct blk_saved s;

	if (cap < sizeof(s))
		return 0;
	/* Zeroed whole, tail padding included: none of the stack's bytes
	 * may reach a state file. */
	memset(&s, 0, sizeof(s));
	s.magic = BLK_STATE_MAGIC;
	s.config_len = BLK_CONFIG_MAX;
	s.size = b->file.size;
	s.readonly = b->file.readonly;
	virtio_config_begin(b->t);
	memcpy(s.config, b->config, sizeof(s.config));
	virtio_config_end(b->t, false);
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

int blk_load(void *dev, const void *buf, size_t len)
{
	struct blk *b = dev;
	struct blk_saved s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.magic != BLK_STATE_MAGIC || s.config_len != BLK_CONFIG_MAX)
		return -EINVAL;
	/* Another image shape: the guest's view of the disk would be a lie. */
	if (s.size != b->file.size || s.readonly != b->file.readonly)
		return -EINVAL;
	virtio_config_begin(b->t);
	memcpy(b->config, s.config, sizeof(b->config));
	virtio_config_end(b->t, false);
	return 0;
}
