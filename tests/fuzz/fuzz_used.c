/*
 * The device fuzzers' check of what a device completes (fuzz_vm.h).
 *
 * The used ring is in guest RAM, and the guest may point a buffer at it:
 * then the device fills it with what the guest asked for (random bytes,
 * disk data, a frame), which is no fault of the device's. Reading the
 * ring after the run cannot tell those bytes from an element the device
 * got wrong, so the check is made where the device writes an element,
 * the moment it writes it. run.sh links the device targets with
 * --wrap for the four virtqueue calls below: the devices' and the
 * transport's calls come here, and these call the real ones. A call
 * inside virtqueue.c is not wrapped: virtq_peek()'s walk takes nothing.
 *
 * For each queue, the heads the device took (virtq_pop) and has neither
 * completed nor given back (virtq_unpop) are kept in the order taken.
 * A completion (virtq_push) must name one of them, and must land in the
 * used ring in guest RAM where the driver placed it. A device that
 * completes a head it was not given, or one twice, aborts the run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/virtio.h"

#include "fuzz_vm.h"

int __real_virtq_init(struct virtq *vq, const struct guest_mem *mem,
		      uint16_t size, uint64_t desc, uint64_t avail,
		      uint64_t used, uint64_t features, const char **why);
int __real_virtq_pop(struct virtq *vq, struct virtq_chain *c,
		     struct iovec *iov, unsigned iov_cap);
void __real_virtq_unpop(struct virtq *vq, uint16_t n);
void __real_virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

int __wrap_virtq_init(struct virtq *vq, const struct guest_mem *mem,
		      uint16_t size, uint64_t desc, uint64_t avail,
		      uint64_t used, uint64_t features, const char **why);
int __wrap_virtq_pop(struct virtq *vq, struct virtq_chain *c,
		     struct iovec *iov, unsigned iov_cap);
void __wrap_virtq_unpop(struct virtq *vq, uint16_t n);
void __wrap_virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

#define MAX_QUEUES 8 /* net has the most: receive and transmit */

/* The heads one queue handed its device and the device still holds. */
struct held {
	const struct virtq *vq;
	uint16_t *heads; /* in the order taken */
	unsigned n, cap;
};

static struct held held[MAX_QUEUES];

static void fail(const struct virtq *vq, const char *what, unsigned v)
{
	fprintf(stderr, "fuzz: queue with used ring at 0x%llx (size %u): %s "
		"%u\n", (unsigned long long)vq->used_gpa, vq->size, what, v);
	abort();
}

static struct held *held_of(const struct virtq *vq)
{
	struct held *free_slot = NULL;

	for (unsigned i = 0; i < MAX_QUEUES; i++) {
		if (held[i].vq == vq)
			return &held[i];
		if (!held[i].vq && !free_slot)
			free_slot = &held[i];
	}
	if (!free_slot)
		abort(); /* more queues than any device has: the harness's */
	free_slot->vq = vq;
	free_slot->n = 0;
	return free_slot;
}

/* A queue set up anew (or revived) holds nothing yet. */
static void forget(const struct virtq *vq)
{
	held_of(vq)->n = 0;
}

void fuzz_used_forget_all(void)
{
	for (unsigned i = 0; i < MAX_QUEUES; i++) {
		free(held[i].heads);
		memset(&held[i], 0, sizeof(held[i]));
	}
}

static void hold(const struct virtq *vq, uint16_t head)
{
	struct held *h = held_of(vq);

	/* A hostile driver may offer one head many times: no fixed cap. */
	if (h->n == h->cap) {
		unsigned cap = h->cap ? 2 * h->cap : 64;
		uint16_t *p = realloc(h->heads, cap * sizeof(*p));

		if (!p)
			abort();
		h->heads = p;
		h->cap = cap;
	}
	h->heads[h->n++] = head;
}

/* Take head out of what vq's device holds; false if it holds none. */
static bool release(const struct virtq *vq, uint16_t head)
{
	struct held *h = held_of(vq);

	for (unsigned i = 0; i < h->n; i++) {
		if (h->heads[i] != head)
			continue;
		memmove(h->heads + i, h->heads + i + 1,
			(h->n - i - 1) * sizeof(*h->heads));
		h->n--;
		return true;
	}
	return false;
}

int __wrap_virtq_init(struct virtq *vq, const struct guest_mem *mem,
		      uint16_t size, uint64_t desc, uint64_t avail,
		      uint64_t used, uint64_t features, const char **why)
{
	forget(vq);
	return __real_virtq_init(vq, mem, size, desc, avail, used, features,
				 why);
}

int __wrap_virtq_pop(struct virtq *vq, struct virtq_chain *c,
		     struct iovec *iov, unsigned iov_cap)
{
	uint16_t before = vq->last_avail;
	int ret = __real_virtq_pop(vq, c, iov, iov_cap);

	/* Taken, well formed or not (-EBADMSG): the device must answer it. */
	if (vq->last_avail != before)
		hold(vq, c->head);
	return ret;
}

void __wrap_virtq_unpop(struct virtq *vq, uint16_t n)
{
	struct held *h = held_of(vq);

	/* The last n taken go back to the ring; none may be completed. */
	if (n > h->n)
		fail(vq, "gave back more chains than it holds:", n);
	h->n -= n;
	__real_virtq_unpop(vq, n);
}

void __wrap_virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct fuzz_vm *f = fuzz_vm_get();
	uint16_t slot;
	uint64_t gpa;
	const uint8_t *at;
	struct virtq_used_elem e;

	if (!vq->size)
		fail(vq, "completed on a queue not set up: head", head);
	if (head >= vq->size)
		fail(vq, "completed a head outside the table:", head);
	if (!release(vq, head))
		fail(vq, "completed a head it does not hold:", head);
	slot = vq->used_idx & (vq->size - 1);
	__real_virtq_push(vq, head, len);
	/*
	 * The element is in guest memory, in the ring the driver placed:
	 * RAM, or virtio-mem's region (a hostile driver may put its rings
	 * there, plugged or not).
	 */
	gpa = vq->used_gpa + 4 + 8ULL * slot;
	at = fuzz_host(f, gpa, sizeof(e));
	if (!at || (uint8_t *)vq->used + 4 + 8ULL * slot != at)
		fail(vq, "wrote an element outside its used ring: slot", slot);
	memcpy(&e, at, sizeof(e));
	if (e.id != head || e.len != len)
		fail(vq, "wrote an element other than it completed: id", e.id);
}
