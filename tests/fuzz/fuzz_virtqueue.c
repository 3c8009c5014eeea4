/*
 * libFuzzer target for the split virtqueue walker. The input is a guest:
 * its first bytes choose the queue size and features, the rest becomes
 * guest RAM holding the descriptor table and both rings. Every chain that
 * comes back must point inside guest RAM, and the walk must end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/mem.h"
#include "mvm/virtio.h"

/* Small, so that short inputs already reach the rings. */
#define LOW_SIZE 0x1000u    /* RAM at 0: rings and most buffers */
#define HIGH_GPA 0x100000u  /* a second, small region to cross into */
#define HIGH_SIZE 0x1000u
#define DESC_GPA 0x0        /* up to 16 descriptors */
#define AVAIL_GPA 0x100
#define USED_GPA 0x140

static int inside(const struct guest_mem *gm, const struct iovec *v)
{
	for (int i = 0; i < gm->nr; i++) {
		const uint8_t *b = gm->r[i].hva, *p = v->iov_base;

		if (p >= b && v->iov_len <= gm->r[i].size &&
		    (size_t)(p - b) <= gm->r[i].size - v->iov_len)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t low[LOW_SIZE], high[HIGH_SIZE];
	struct guest_mem gm = { 0 };
	struct iovec iov[64];
	struct virtq_chain c;
	struct virtq vq;
	uint64_t features = 0;
	uint16_t qsize;
	uint8_t sink[64];

	if (size < 3)
		return 0;
	qsize = (uint16_t)(1u << (data[0] % 5)); /* 1..16 fits the layout */
	if (data[1] & 1)
		features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (data[1] & 2)
		features |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	unsigned iov_cap = 1 + data[2] % 64;
	data += 3;
	size -= 3;
	memset(low, 0, sizeof(low));
	memset(high, 0, sizeof(high));
	memcpy(low, data, size < LOW_SIZE ? size : LOW_SIZE);
	if (size > LOW_SIZE)
		memcpy(high, data + LOW_SIZE, size - LOW_SIZE < HIGH_SIZE ?
		       size - LOW_SIZE : HIGH_SIZE);
	gm_add_host(&gm, 0, low, LOW_SIZE);
	gm_add_host(&gm, HIGH_GPA, high, HIGH_SIZE);
	if (virtq_init(&vq, &gm, qsize, DESC_GPA, AVAIL_GPA, USED_GPA,
		       features, NULL))
		abort(); /* the fixed layout is always valid */

	for (unsigned n = 0; n < 2u * qsize + 2; n++) {
		int ret = virtq_pop(&vq, &c, iov, iov_cap);

		if (ret == 0 || ret == -EPROTO)
			break;
		if (ret == -EBADMSG) {
			if (!c.error || c.head >= qsize)
				abort();
			virtq_push(&vq, c.head, 0);
			continue;
		}
		if (ret != 1 || c.nr_out + c.nr_in > iov_cap)
			abort();
		for (unsigned i = 0; i < c.nr_out + c.nr_in; i++)
			if (!inside(&gm, &iov[i]) || !iov[i].iov_len)
				abort();
		/* Touch the data as a device would. */
		iov_to_buf(iov, c.nr_out, 0, sink, sizeof(sink));
		iov_from_buf(iov + c.nr_out, c.nr_in, 0, sink, sizeof(sink));
		virtq_push(&vq, c.head, c.in_len);
	}
	virtq_publish(&vq);
	virtq_need_interrupt(&vq);
	virtq_notify_disable(&vq);
	virtq_notify_enable(&vq);
	return 0;
}
