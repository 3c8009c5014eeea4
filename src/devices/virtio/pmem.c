/*
 * virtio-pmem (virtio 1.2, 5.19): a host file mapped into guest physical
 * memory at a 2 MiB-aligned address past the 64-bit PCI window, in a KVM
 * memory slot of its own (read-only for a read-only device: the guest's
 * writes then exit as MMIO, which no device claims, and never reach the
 * file). The config space gives the guest the region's start and size;
 * the guest reads and writes it directly.
 *
 * The one request queue carries FLUSH requests. They are answered once an
 * fsync of the file (IORING_OP_FSYNC on the event loop, never blocking
 * it) has completed: the mapping is shared, so the guest's stores are the
 * file's page cache and an fsync makes them durable. One fsync answers
 * every FLUSH taken before it was submitted; those that come meanwhile
 * wait in the ring for the next one, which covers their stores too.
 *
 * The region is not guest RAM (it is in no guest_mem region): snapshots
 * and migrations carry none of it; the file is the device's state.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/virtio_dev.h"

#include "devices.h"
#include "pmem.h"

/* vCPU threads, under the transport's lock; pci.c checked off + len. */
static void pmem_config_read(void *dev, uint32_t off, uint8_t *data,
			     uint32_t len)
{
	struct pmem *p = dev;

	memcpy(data, (const uint8_t *)&p->config + off, len);
}

static void fsync_done(struct loop_op *op, int res, unsigned flags);

static void submit_fsync(struct pmem *p)
{
	struct io_uring_sqe *sqe = loop_sqe(p->ctx->loop);

	if (!sqe) {
		/* The ring is full: answer as a failed flush would. */
		fsync_done(&p->fsync_op, -EBUSY, 0);
		return;
	}
	io_uring_prep_fsync(sqe, p->fd, 0);
	p->fsync_op.done = fsync_done;
	p->fsync_busy = true;
	loop_prep(p->ctx->loop, sqe, &p->fsync_op);
}

/* Take the FLUSHes available (checked) until one fsync must answer them. */
static void take(struct pmem *p, struct virtio_queue *q)
{
	unsigned cap = sizeof(p->iov) / sizeof(p->iov[0]);
	struct virtq_chain c;

	while (p->nr_waiting < PMEM_QUEUE_SIZE &&
	       virtio_queue_pop(q, &c, p->iov, cap) > 0) {
		struct pmem_waiting *w = &p->waiting[p->nr_waiting];
		const char *why = NULL;
		int n;

		if (pmem_check_request(p->iov, c.nr_out, c.out_len, c.in_len,
				       &why)) {
			virtio_log(p->t, "queue 0: %s; failed", why);
			virtio_count(p->t, VIRTIO_CTR_FAIL_COUNT, 1);
			virtio_queue_complete(q, c.head, 0);
			continue;
		}
		n = iov_slice(p->iov + c.nr_out, c.nr_in, 0, sizeof(uint32_t),
			      w->in, sizeof(w->in) / sizeof(w->in[0]));
		if (n < 0) {
			virtio_log(p->t, "queue 0: answer split over too many "
				   "buffers; failed");
			virtio_queue_complete(q, c.head, 0);
			continue;
		}
		w->head = c.head;
		w->nr_in = (uint8_t)n;
		p->nr_waiting++;
	}
}

static void pmem_queue_notify(void *dev, struct virtio_queue *q)
{
	struct pmem *p = dev;

	/* The fsync's completion comes back here for what arrived since. */
	if (p->fsync_busy)
		return;
	do {
		virtio_queue_notify_disable(q);
		if (virtio_serving(p->t))
			take(p, q);
	} while (!p->nr_waiting && virtio_serving(p->t) &&
		 virtio_queue_notify_enable(q));
	if (p->nr_waiting)
		submit_fsync(p);
	virtio_queue_flush(q);
}

static void fsync_done(struct loop_op *op, int res, unsigned flags)
{
	struct pmem *p = (struct pmem *)((char *)op -
					 offsetof(struct pmem, fsync_op));
	struct virtio_queue *q = virtio_queue_at(p->t, 0);
	uint32_t ret = res < 0 ? VIRTIO_PMEM_RESP_EIO : VIRTIO_PMEM_RESP_OK;

	(void)flags;
	p->fsync_busy = false;
	if (p->stopping) {
		/* A reset forgets the requests; their buffers are not ours. */
		p->nr_waiting = 0;
		p->stopping = false;
		virtio_reset_done(p->t);
		return;
	}
	if (res < 0) {
		virtio_log(p->t, "fsync of %s: %s; %u flushes failed",
			   p->id, strerror(-res), p->nr_waiting);
		virtio_count(p->t, VIRTIO_CTR_FAIL_COUNT, p->nr_waiting);
	}
	for (unsigned i = 0; i < p->nr_waiting; i++) {
		const struct pmem_waiting *w = &p->waiting[i];

		iov_from_buf(w->in, w->nr_in, 0, &ret, sizeof(ret));
		virtio_queue_push(q, w->head, sizeof(ret));
	}
	virtio_count(p->t, VIRTIO_CTR_FLUSH_COUNT, p->nr_waiting);
	p->nr_waiting = 0;
	virtio_queue_publish(q);
	virtio_queue_flush_later(q);
	/* Paused, resume notifies every live queue. */
	if (virtio_serving(p->t))
		pmem_queue_notify(p, q);
}

static void pmem_reset(void *dev)
{
	struct pmem *p = dev;

	if (p->fsync_busy) {
		p->stopping = true; /* fsync_done says when */
		return;
	}
	p->nr_waiting = 0;
	virtio_reset_done(p->t);
}

/* A pause waits for the fsync: it always ends. */
static unsigned pmem_inflight(void *dev)
{
	return ((struct pmem *)dev)->fsync_busy;
}

static void pmem_destroy(void *dev)
{
	struct pmem *p = dev;

	if (p->slot_set) {
		struct kvm_userspace_memory_region kr = { .slot = p->slot };

		/* Size 0 deletes the slot before its memory goes away. */
		ioctl(p->ctx->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr);
	}
	if (p->map)
		munmap(p->map, p->config.size);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

static const struct virtio_dev_ops pmem_ops = {
	.config_read = pmem_config_read,
	.queue_notify = pmem_queue_notify,
	.reset = pmem_reset,
	.inflight = pmem_inflight,
	.save = pmem_save,
	.load = pmem_load,
	.destroy = pmem_destroy,
};

static int open_file(struct pmem *p, const struct pmem_config *cfg,
		     struct mvm_err *err)
{
	struct stat st;

	p->fd = open(cfg->path, (cfg->readonly ? O_RDONLY : O_RDWR) |
		     O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (p->fd < 0)
		return mvm_fail(err, -errno, "pmem %s: path_on_host: cannot "
				"open '%s'%s: %s", cfg->id, cfg->path,
				cfg->readonly ? "" : " for writing",
				strerror(errno));
	if (fstat(p->fd, &st) < 0)
		return mvm_fail(err, -errno, "pmem %s: path_on_host: %s: %s",
				cfg->id, cfg->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return mvm_fail(err, -EINVAL, "pmem %s: path_on_host: '%s' is "
				"not a regular file", cfg->id, cfg->path);
	p->file_len = (uint64_t)st.st_size;
	p->config.size = pmem_region_size(p->file_len);
	if (!p->config.size)
		return mvm_fail(err, -EINVAL, "pmem %s: path_on_host: '%s' is "
				"empty", cfg->id, cfg->path);
	return 0;
}

/*
 * The region's host memory: anonymous memory of the aligned size, with
 * the file mapped shared over its start (the tail past the file's end is
 * not the file's, as in Firecracker).
 */
static int map_file(struct pmem *p, const struct pmem_config *cfg,
		    struct mvm_err *err)
{
	int prot = PROT_READ | (cfg->readonly ? 0 : PROT_WRITE);
	void *m = mmap(NULL, p->config.size, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (m == MAP_FAILED)
		return mvm_fail(err, -errno, "pmem %s: cannot reserve %llu "
				"bytes: %s", cfg->id,
				(unsigned long long)p->config.size,
				strerror(errno));
	p->map = m;
	if (mmap(m, p->file_len, prot, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
		 p->fd, 0) == MAP_FAILED)
		return mvm_fail(err, -errno, "pmem %s: cannot map '%s': %s",
				cfg->id, cfg->path, strerror(errno));
	return 0;
}

static int add_slot(struct pmem *p, const struct pmem_config *cfg,
		    struct mvm_err *err)
{
	struct kvm_userspace_memory_region kr = {
		.slot = p->slot,
		.flags = cfg->readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = p->config.start,
		.memory_size = p->config.size,
		.userspace_addr = (uint64_t)(uintptr_t)p->map,
	};

	if (ioctl(p->ctx->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
		return mvm_fail_host(err, -errno, "pmem %s: KVM memory slot %u "
				     "at %#llx%s: %s", cfg->id, p->slot,
				     (unsigned long long)p->config.start,
				     cfg->readonly ? " (read-only)" : "",
				     strerror(errno));
	p->slot_set = true;
	return 0;
}

int pmem_create(struct dev_ctx *ctx, const struct pmem_config *cfg,
		uint64_t gpa, uint64_t limit, uint32_t slot,
		uint64_t *size, struct mvm_err *err)
{
	struct virtio_dev_info info = {
		.kind = "virtio-pmem",
		.id = cfg->id,
		.device_id = VIRTIO_ID_PMEM,
		.pci_class = 0xff0000, /* unclassified device */
		.nr_queues = 1,
		.queue_size = PMEM_QUEUE_SIZE,
		.config_size = sizeof(struct pmem_config_space),
	};
	struct pmem *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return mvm_fail(err, -ENOMEM, "out of memory");
	p->ctx = ctx;
	p->fd = -1;
	p->slot = slot;
	p->readonly = cfg->readonly;
	snprintf(p->id, sizeof(p->id), "%s", cfg->id);
	p->config.start = gpa;
	ret = open_file(p, cfg, err);
	if (!ret && (gpa % PMEM_ALIGN || p->config.size > limit - gpa))
		ret = mvm_fail(err, -ENOSPC, "pmem %s: %llu MiB at %#llx is "
			       "past mvm's pmem window (%#llx to %#llx)",
			       cfg->id,
			       (unsigned long long)(p->config.size >> 20),
			       (unsigned long long)gpa,
			       (unsigned long long)LAYOUT_PMEM,
			       (unsigned long long)limit);
	if (!ret)
		ret = map_file(p, cfg, err);
	if (!ret)
		ret = add_slot(p, cfg, err);
	if (!ret)
		ret = virtio_pci_create(ctx, &info, &pmem_ops, p, &p->t, err);
	if (ret) {
		pmem_destroy(p);
		return ret;
	}
	*size = p->config.size;
	return 0;
}

/*
 * A live migration's handover (the VM paused): the guest's stores are in
 * the page cache of this host; the destination, maybe on another host,
 * maps the file from shared storage, so they must be on it first.
 */
int virtio_pmem_sync(struct dev_ctx *ctx, struct mvm_err *err)
{
	for (struct virtio_transport *t = ctx->virtio_devs; t; t = t->next) {
		struct pmem *p = t->dev;

		if (t->info.device_id != VIRTIO_ID_PMEM)
			continue;
		if (fsync(p->fd) < 0)
			return mvm_fail_host(err, -errno, "pmem %s: fsync: %s",
					     p->id, strerror(errno));
	}
	return 0;
}
