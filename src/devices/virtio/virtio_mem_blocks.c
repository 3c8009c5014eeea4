/*
 * virtio-mem's blocks and the driver's requests (virtio 1.2, 5.15.6).
 * Everything in a request is hostile: addr must be a block of the usable
 * region, aligned, and addr + nb_blocks must stay in it, computed in
 * block numbers so that no sum can overflow. Answers as the spec has
 * them: ERROR for a malformed range or blocks in the wrong state, NACK
 * for a plug beyond requested_size, BUSY when the host could not give
 * the memory back (nothing changed then).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_mem.h"

#define WORD_BITS (8 * sizeof(unsigned long))

size_t vmem_bitmap_words(uint64_t nr)
{
	return (size_t)((nr + WORD_BITS - 1) / WORD_BITS);
}

int vmem_blocks_init(struct vmem_blocks *b, uint64_t addr, uint64_t size,
		     uint64_t block_size)
{
	memset(b, 0, sizeof(*b));
	if (!block_size || block_size & (block_size - 1) ||
	    addr % block_size || size % block_size || !size)
		return -EINVAL;
	b->addr = addr;
	b->block_size = block_size;
	b->nr = size / block_size;
	b->usable = b->nr;
	b->bm = calloc(vmem_bitmap_words(b->nr), sizeof(unsigned long));
	return b->bm ? 0 : -ENOMEM;
}

void vmem_blocks_fini(struct vmem_blocks *b)
{
	free(b->bm);
	b->bm = NULL;
}

bool vmem_plugged(const struct vmem_blocks *b, uint64_t i)
{
	return b->bm[i / WORD_BITS] >> (i % WORD_BITS) & 1;
}

static void set(struct vmem_blocks *b, uint64_t first, uint64_t n, bool on)
{
	for (uint64_t i = first; i < first + n; i++) {
		unsigned long bit = 1UL << (i % WORD_BITS);

		if (on)
			b->bm[i / WORD_BITS] |= bit;
		else
			b->bm[i / WORD_BITS] &= ~bit;
	}
}

/* Plugged blocks among n from first. */
static uint64_t count(const struct vmem_blocks *b, uint64_t first, uint64_t n)
{
	uint64_t c = 0;

	for (uint64_t i = first; i < first + n; i++)
		c += vmem_plugged(b, i);
	return c;
}

/* The request's blocks as [*first, *first + nb): NULL, or why not. */
static const char *range(const struct vmem_blocks *b, uint64_t addr,
			 uint16_t nb, uint64_t *first)
{
	if (!nb)
		return "nb_blocks is 0";
	if (addr < b->addr || addr - b->addr >= b->usable * b->block_size)
		return "addr is outside the usable region";
	if ((addr - b->addr) % b->block_size)
		return "addr is not aligned to the block size";
	*first = (addr - b->addr) / b->block_size;
	if (nb > b->usable - *first)
		return "the blocks run past the usable region";
	return NULL;
}

static uint16_t give_back(struct vmem_blocks *b, uint64_t first, uint64_t n,
			  vmem_discard_fn discard, void *arg)
{
	if (discard(arg, b->addr + first * b->block_size, n * b->block_size))
		return VIRTIO_MEM_RESP_BUSY;
	set(b, first, n, false);
	b->plugged -= n;
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t plug(struct vmem_blocks *b, uint64_t first, uint16_t nb,
		     const char **why)
{
	if (b->plugged + nb > b->requested)
		return VIRTIO_MEM_RESP_NACK; /* beyond what the host asked */
	if (count(b, first, nb)) {
		*why = "a block is plugged already";
		return VIRTIO_MEM_RESP_ERROR;
	}
	/* Nothing to do for the memory: the guest's first touch maps it. */
	set(b, first, nb, true);
	b->plugged += nb;
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t unplug(struct vmem_blocks *b, uint64_t first, uint16_t nb,
		       vmem_discard_fn discard, void *arg, const char **why)
{
	if (count(b, first, nb) != nb) {
		*why = "a block is unplugged already";
		return VIRTIO_MEM_RESP_ERROR;
	}
	return give_back(b, first, nb, discard, arg);
}

/* Every run of plugged blocks goes back; BUSY keeps what is left. */
static uint16_t unplug_all(struct vmem_blocks *b, vmem_discard_fn discard,
			   void *arg)
{
	for (uint64_t i = 0; i < b->nr && b->plugged;) {
		uint64_t end = i;

		if (!vmem_plugged(b, i)) {
			i++;
			continue;
		}
		while (end < b->nr && vmem_plugged(b, end))
			end++;
		if (give_back(b, i, end - i, discard, arg) !=
		    VIRTIO_MEM_RESP_ACK)
			return VIRTIO_MEM_RESP_BUSY;
		i = end;
	}
	return VIRTIO_MEM_RESP_ACK;
}

static uint16_t state_of(const struct vmem_blocks *b, uint64_t first,
			 uint16_t nb)
{
	uint64_t c = count(b, first, nb);

	if (c == nb)
		return VIRTIO_MEM_STATE_PLUGGED;
	return c ? VIRTIO_MEM_STATE_MIXED : VIRTIO_MEM_STATE_UNPLUGGED;
}

uint16_t vmem_request(struct vmem_blocks *b, const struct vmem_req *rq,
		      uint16_t *state, vmem_discard_fn discard, void *arg,
		      const char **why)
{
	const char *dummy, *bad;
	uint64_t first = 0;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (rq->type == VIRTIO_MEM_REQ_UNPLUG_ALL)
		return unplug_all(b, discard, arg);
	if (rq->type > VIRTIO_MEM_REQ_STATE) {
		*why = "unknown request type";
		return VIRTIO_MEM_RESP_ERROR;
	}
	bad = range(b, rq->addr, rq->nb_blocks, &first);
	if (bad) {
		*why = bad;
		return VIRTIO_MEM_RESP_ERROR;
	}
	if (rq->type == VIRTIO_MEM_REQ_PLUG)
		return plug(b, first, rq->nb_blocks, why);
	if (rq->type == VIRTIO_MEM_REQ_UNPLUG)
		return unplug(b, first, rq->nb_blocks, discard, arg, why);
	*state = state_of(b, first, rq->nb_blocks);
	return VIRTIO_MEM_RESP_ACK;
}
