/*
 * Virtio devices over the modern PCI transport (virtio 1.2, 4.1).
 *
 * A device model (blk, net, rng) is an ops table plus its own state; the
 * transport owns everything the spec puts between them: feature
 * negotiation, the status state machine, queue configuration, notification
 * and interrupts (MSI-X vector per queue, one for config changes).
 *
 * Threads: the guest's register accesses run on vCPU threads and only
 * touch transport state under its lock. All device work runs on the event
 * loop: a queue notification is an ioeventfd that KVM signals without
 * leaving the kernel, watched by the loop; status changes that need the
 * device (DRIVER_OK, reset) are forwarded to the loop through an eventfd.
 */
#ifndef MVM_VIRTIO_DEV_H
#define MVM_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/loop.h"
#include "mvm/msix.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"

struct dev_ctx;
struct mvm_err;
struct vm_config;
struct virtio_transport;

#define VIRTIO_NAME_MAX 80

struct virtio_queue {
	struct virtio_transport *t;
	unsigned index;

	/* The driver's configuration: vCPU threads, under t->lock. */
	uint16_t size;
	uint16_t msix_vector;
	bool enabled;
	uint64_t desc, driver, device;

	/* Runtime: the loop thread only. */
	struct virtq vq;
	bool ready;  /* vq is set up from the configuration */
	bool broken; /* the ring is unusable until reset */
	bool irq_due; /* used entries published but not yet signalled */

	int kick_fd; /* ioeventfd for this queue's notify address */
	bool kick_registered;
	uint64_t kick_addr;
	struct loop_watch kick_watch;
};

struct virtio_dev_info {
	const char *kind; /* "virtio-blk" */
	const char *id;   /* "disk0": names the device in messages */
	uint16_t device_id;
	uint32_t pci_class;
	uint64_t features; /* device-specific; transport adds its own */
	uint16_t nr_queues;
	uint16_t queue_size; /* maximum the driver may choose */
	uint32_t config_size;
};

struct virtio_dev_ops {
	/* vCPU threads, under the transport lock: device config space. */
	void (*config_read)(void *dev, uint32_t off, uint8_t *data,
			    uint32_t len);
	void (*config_write)(void *dev, uint32_t off, const uint8_t *data,
			     uint32_t len); /* optional */
	/* Optional: refuse a feature set (FEATURES_OK then stays clear). */
	bool (*features_ok)(void *dev, uint64_t features);

	/* Loop thread. */
	/* DRIVER_OK: features are final and the enabled queues are ready. */
	void (*activate)(void *dev);
	/* Buffers may be available on q. */
	void (*queue_notify)(void *dev, struct virtio_queue *q);
	/*
	 * Stop all work and forget requests; call virtio_reset_done() once
	 * nothing the device submitted is still in flight (may be at once).
	 */
	void (*reset)(void *dev);
	/*
	 * Optional, for a pause (include/mvm/device.h): cancel what waits on
	 * the outside world (a read on a tap that no frame may answer), so
	 * that inflight() can come down. Start nothing new from here on:
	 * virtio_serving() is false until the device resumes, and it then
	 * gets a queue_notify for every live queue.
	 */
	void (*pause)(void *dev);
	/* Optional: requests submitted and not completed (none if absent). */
	unsigned (*inflight)(void *dev);
	/* Device state as a blob (beyond what the transport saves). */
	size_t (*save)(void *dev, void *buf, size_t cap);
	int (*load)(void *dev, const void *buf, size_t len);
	/* Free everything; nothing is in flight any more. */
	void (*destroy)(void *dev);
};

/*
 * What a device moved, for the metrics: totals since the device was made,
 * and the totals the metrics writer last reported, so each metrics line
 * carries the delta. Loop thread only, like the devices and the writer.
 */
enum virtio_counter {
	VIRTIO_CTR_READ_BYTES,
	VIRTIO_CTR_WRITE_BYTES,
	VIRTIO_CTR_READ_COUNT,
	VIRTIO_CTR_WRITE_COUNT,
	VIRTIO_CTR_FLUSH_COUNT,
	VIRTIO_CTR_FAIL_COUNT,  /* requests the host failed (I/O errors);
				   balloon: PFNs or ranges not given back */
	VIRTIO_CTR_RX_BYTES,
	VIRTIO_CTR_TX_BYTES,
	VIRTIO_CTR_RX_PACKETS,
	VIRTIO_CTR_TX_PACKETS,
	/* virtio-balloon: chains and pages each way, the statsq's buffers,
	 * bytes hinted and reported free and given back to the host. */
	VIRTIO_CTR_INFLATE_COUNT,
	VIRTIO_CTR_DEFLATE_COUNT,
	VIRTIO_CTR_INFLATE_PAGES,
	VIRTIO_CTR_DEFLATE_PAGES,
	VIRTIO_CTR_STATS_UPDATES,
	VIRTIO_CTR_HINT_BYTES,
	VIRTIO_CTR_REPORT_BYTES,
	/* Requests a rate limiter held back (blk, rng; net: each way). */
	VIRTIO_CTR_THROTTLED,
	VIRTIO_CTR_RX_THROTTLED,
	VIRTIO_CTR_TX_THROTTLED,
	/* virtio-rng: bytes given to the guest. */
	VIRTIO_CTR_ENTROPY_BYTES,
	/* virtio-blk: requests refused before any I/O (malformed, out of
	 * range, a write to a read-only disk, unsupported). */
	VIRTIO_CTR_INVALID_REQS,
	/* The guest's kicks, on queues 0, 2, ... and 1, 3, ... (net: the
	 * receive and the transmit queues). */
	VIRTIO_CTR_KICKS_EVEN,
	VIRTIO_CTR_KICKS_ODD,
	/* virtio-blk: a running disk's medium swapped or rate limiter
	 * changed (PATCH /drives), and the swaps that failed. */
	VIRTIO_CTR_UPDATES,
	VIRTIO_CTR_UPDATE_FAILS,
	/* virtio-net: frames not sent (any reason), of which the backend
	 * refused, malformed and from another source MAC; failed reads. */
	VIRTIO_CTR_TX_FAILS,
	VIRTIO_CTR_TAP_WRITE_FAILS,
	VIRTIO_CTR_TX_MALFORMED,
	VIRTIO_CTR_TX_SPOOFED,
	VIRTIO_CTR_TAP_READ_FAILS,
	/* virtio-net, user-mode backend: frames for the guest dropped while
	 * its RX ring stayed full past what may wait. */
	VIRTIO_CTR_RX_DROPPED,
	/* virtio-vsock: connections made, reset by the device (a timeout,
	 * a guest's error) and gone; socket writes and reads that failed. */
	VIRTIO_CTR_CONNS_ADDED,
	VIRTIO_CTR_CONNS_KILLED,
	VIRTIO_CTR_CONNS_REMOVED,
	VIRTIO_CTR_VSOCK_WRITE_FAILS,
	VIRTIO_CTR_VSOCK_READ_FAILS,
	VIRTIO_CTR_COUNT
};

struct virtio_counters {
	uint64_t total[VIRTIO_CTR_COUNT];
	uint64_t reported[VIRTIO_CTR_COUNT];
};

/*
 * One device's virtio-pci transport (a model's `t`): the model's ops and
 * state hang off it (ops, dev); models reach it only through the
 * accessors below.
 */
struct virtio_transport {
	struct virtio_transport *next; /* ctx->virtio_devs */
	struct dev_ctx *ctx;
	struct virtio_dev_info info;
	char name[VIRTIO_NAME_MAX]; /* "virtio-blk disk0" */
	const struct virtio_dev_ops *ops;
	void *dev;

	struct pci_dev pci;
	struct msix msix;
	uint8_t pci_cfg_cap; /* config offset of the PCI_CFG window */

	pthread_mutex_t lock;
	uint64_t offered;           /* device + transport features */
	uint64_t driver_features;   /* as written by the driver */
	uint64_t features;          /* negotiated at FEATURES_OK */
	uint32_t dfselect, gfselect;
	uint16_t queue_select;
	uint16_t config_vector;
	uint8_t status;
	uint8_t config_generation;
	uint8_t isr;
	bool reset_pending; /* driver wrote 0; status reads stay non-zero */
	struct virtio_queue *queues;

	/* Loop thread. */
	bool active;    /* DRIVER_OK was acted on */
	bool paused;    /* quiesced by the device interface; serve nothing */
	unsigned quiesce_ms; /* how long a pause waits for I/O (tests: less) */
	bool resetting; /* device asked to stop; waiting for reset_done */
	bool quiesced;  /* reset_done came for the last ops->reset */
	bool destroying; /* asked to stop for good (virtio_pci_stop) */
	bool busy;      /* destroying, and counted in ctx->busy until idle */
	int ctl_fd;
	struct loop_watch ctl_watch;
	struct loop_op flush_op; /* a NOP: interrupts once per CQE batch */
	bool flush_armed;

	struct virtio_counters counters; /* loop thread */

	/* Rate limit for guest-triggered messages. */
	uint64_t log_window_ns;
	unsigned log_count, log_suppressed;
};

/* Create the transport for dev and put it on the PCI bus and ctx's list. */
int virtio_pci_create(struct dev_ctx *ctx, const struct virtio_dev_info *info,
		      const struct virtio_dev_ops *ops, void *dev,
		      struct virtio_transport **out, struct mvm_err *err);
/*
 * Ask the device to stop for good: it is reset, and counted in ctx->busy
 * until the loop has completed its I/O in flight (may be at once).
 */
void virtio_pci_stop(struct virtio_transport *t);
/* Free a stopped device whose I/O has completed (no loop run here). */
void virtio_pci_destroy(struct virtio_transport *t);

/*
 * What a device model may ask of its transport. Models use these, never
 * the transport's fields or its lock.
 */

/* Negotiated features (stable once the device is active). */
static inline bool virtio_has(const struct virtio_transport *t, unsigned bit)
{
	return t->features & VIRTIO_BIT(bit);
}

static inline unsigned virtio_nr_queues(const struct virtio_transport *t)
{
	return t->info.nr_queues;
}

/* Queue i of the device (i below virtio_nr_queues()). */
static inline struct virtio_queue *virtio_queue_at(struct virtio_transport *t,
						   unsigned i)
{
	return &t->queues[i];
}

/* DRIVER_OK was acted on (loop thread). */
static inline bool virtio_active(const struct virtio_transport *t)
{
	return t->active;
}

/* Active, not paused, neither resetting nor going away: serve queues. */
static inline bool virtio_serving(const struct virtio_transport *t)
{
	return t->active && !t->paused && !t->resetting && !t->destroying;
}

/* Count what the device moved, for the metrics (loop thread). */
static inline void virtio_count(struct virtio_transport *t,
				enum virtio_counter c,
				uint64_t n)
{
	t->counters.total[c] += n;
}

/*
 * The device's config space is read by vCPU threads: a model changes it
 * between these two. With changed, the driver sees a new generation (it
 * is told only by virtio_config_changed(), which raises the interrupt).
 */
void virtio_config_begin(struct virtio_transport *t);
void virtio_config_end(struct virtio_transport *t, bool changed);

/* The first device of the kind (VIRTIO_ID_*) whose model match() accepts. */
void *virtio_find(struct dev_ctx *ctx, uint16_t device_id,
		  bool (*match)(const void *dev, const void *arg),
		  const void *arg);

/*
 * Next good chain of q, or 0 when empty. Malformed chains are dealt with
 * here: a bad chain is completed with length 0 (a failed request) and
 * logged; a broken ring marks the device NEEDS_RESET. Devices see only
 * well-formed chains.
 */
int virtio_queue_pop(struct virtio_queue *q, struct virtq_chain *c,
		     struct iovec *iov, unsigned cap);
/*
 * The next chain as it is, one ring slot: 1, 0 (empty, or the ring is
 * broken, as above), or -EBADMSG for a malformed chain, logged but not
 * completed: the caller completes it (or gives it back with unpop).
 */
int virtio_queue_take(struct virtio_queue *q, struct virtq_chain *c,
		      struct iovec *iov, unsigned cap);
/*
 * The chain skip places after the next one, walked without being taken or
 * acted on (virtq_peek): a device counts what is available with it.
 */
int virtio_queue_peek(struct virtio_queue *q, uint16_t skip,
		      struct virtq_chain *c, struct iovec *iov, unsigned cap);
/*
 * Notification suppression around a drain: disable, pop until empty, and
 * drain again while enable() says buffers arrived meanwhile.
 */
void virtio_queue_notify_disable(struct virtio_queue *q);
bool virtio_queue_notify_enable(struct virtio_queue *q);
/* Several completions the driver must see at once: push each, publish. */
void virtio_queue_push(struct virtio_queue *q, uint16_t head, uint32_t len);
void virtio_queue_publish(struct virtio_queue *q);
/* Give back the last n chains taken (not used after all). */
void virtio_queue_unpop(struct virtio_queue *q, uint16_t n);
/* Complete a chain and publish it; the interrupt waits for _flush. */
void virtio_queue_complete(struct virtio_queue *q, uint16_t head,
			   uint32_t len);
/* Signal the driver if it asked to be told about what was published. */
void virtio_queue_flush(struct virtio_queue *q);
/*
 * The same, after the completions the loop is dispatching now: one
 * interrupt for a batch of CQEs instead of one each.
 */
void virtio_queue_flush_later(struct virtio_queue *q);
/* A driver-visible change in config space. */
void virtio_config_changed(struct virtio_transport *t);
/* Mark the device broken (NEEDS_RESET) and say why, rate-limited. */
void virtio_needs_reset(struct virtio_transport *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* One rate-limited line on stderr about guest misbehaviour. */
void virtio_log(struct virtio_transport *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The device has no request in flight after ops->reset(). */
void virtio_reset_done(struct virtio_transport *t);

/*
 * Create the devices cfg asks for (rng, disks, NICs, the balloon,
 * virtio-mem, pmem), in that order (include/mvm/dev_config.h).
 */
struct virtio_devs_config;
int virtio_create_devices(struct dev_ctx *ctx,
			  const struct virtio_devs_config *cfg,
			  struct mvm_err *err);
/*
 * The VM's teardown: ask every virtio device on ctx to stop, then, once
 * ctx->busy is 0 (ctx->quiesced says when), free them all.
 */
void virtio_stop_devices(struct dev_ctx *ctx);
void virtio_destroy_devices(struct dev_ctx *ctx);
/*
 * Add to d what the VM's devices of one kind (VIRTIO_ID_*) moved since the
 * last call, for the metrics' per-interval lines (loop thread).
 */
void virtio_counters_take(struct dev_ctx *ctx, uint16_t device_id,
			  uint64_t d[VIRTIO_CTR_COUNT]);
/* The same, device by device: fn gets each one's id ("rootfs") too. */
void virtio_counters_take_each(struct dev_ctx *ctx, uint16_t device_id,
			       void (*fn)(void *arg, const char *id,
					  const uint64_t d[VIRTIO_CTR_COUNT]),
			       void *arg);

struct token_bucket;

/*
 * New rate limiter buckets for the running virtio-blk device `id`, or the
 * virtio-net device `id` (each way), on the loop thread (API PATCH): a
 * NULL bucket keeps its settings; a queue waiting for tokens is served
 * again at once under the new ones. -ENOENT when no such device exists.
 */
int virtio_blk_rate_limit(struct dev_ctx *ctx, const char *id,
			  const struct token_bucket *bandwidth,
			  const struct token_bucket *ops, struct mvm_err *err);
int virtio_net_rate_limit(struct dev_ctx *ctx, const char *id,
			  const struct token_bucket *rx_bandwidth,
			  const struct token_bucket *rx_ops,
			  const struct token_bucket *tx_bandwidth,
			  const struct token_bucket *tx_ops,
			  struct mvm_err *err);

/*
 * Swap the backing image of the virtio-blk device `id` (loop thread): the
 * new image is opened, locked and validated now; it replaces the old one
 * once the requests in flight on the old one have completed, and the driver
 * is told of the new capacity by a config-change interrupt. On error the
 * old medium stays. -ENOENT when no such disk exists.
 */
int virtio_blk_swap(struct dev_ctx *ctx, const char *id, const char *path,
		    struct mvm_err *err);

/*
 * virtio-mem (virtio 1.2, 5.15) as the host sees it, in bytes: its region
 * in guest physical memory, the block the guest plugs at a time, what is
 * plugged and what the host asks for (GET /hotplug/memory).
 */
struct virtio_mem_status {
	uint64_t addr;
	uint64_t region_size;
	uint64_t block_size;
	uint64_t usable;
	uint64_t plugged;
	uint64_t requested;
};

/*
 * Ask the guest to bring its plugged memory to requested bytes (a whole
 * number of blocks, at most the region), loop thread: the driver hears
 * of it from a config-change interrupt (a paused device's waits in the
 * PBA) and plugs or unplugs blocks itself. -ENOENT when the VM has no
 * virtio-mem device, -EINVAL for a size that is not whole blocks.
 */
int virtio_mem_resize(struct dev_ctx *ctx, uint64_t requested,
		      struct mvm_err *err);
/* The device's state now (loop thread); -ENOENT without the device. */
int virtio_mem_status(struct dev_ctx *ctx, struct virtio_mem_status *st,
		      struct mvm_err *err);

/*
 * A live migration's disk handover (loop thread, the VM paused, no
 * request in flight): release flushes every disk's data to stable
 * storage and drops its lock, for the destination to take; take locks
 * every disk again (the destination, or a source whose migration failed),
 * -EBUSY naming the disk another process holds. A take that fails half
 * way releases what it took.
 */
int virtio_blk_handover(struct dev_ctx *ctx, bool release,
			struct mvm_err *err);

/*
 * Every virtio-pmem file's data on stable storage (loop thread, the VM
 * paused): a live migration's source, before the destination maps them.
 */
int virtio_pmem_sync(struct dev_ctx *ctx, struct mvm_err *err);

/* Transport + device state as one blob; 0 when cap is too small. */
size_t virtio_save(struct virtio_transport *t, void *buf, size_t cap);
/*
 * Load such a blob; a device that was live goes live again at once.
 * -EINVAL for a blob of another device or shape, -EOPNOTSUPP for a
 * backend without what the driver negotiated; a refusal after the
 * checks (rings outside guest memory, the model's part) leaves the
 * device reset.
 */
int virtio_load(struct virtio_transport *t, const void *buf, size_t len);
/*
 * The same, with a message, leaving the device inactive: the device
 * interface's activate makes a device whose driver set DRIVER_OK live
 * (virtio_device_ops, once every device of the VM has loaded).
 */
int virtio_load_inactive(struct virtio_transport *t, const void *buf,
			 size_t len, struct mvm_err *err);

/*
 * The device interface (include/mvm/device.h) of a virtio device, whose
 * opaque is its transport: pause quiesces it (no request in flight, the
 * interrupts due sent), the state is virtio_save()'s blob in a node.
 */
struct device_ops;
extern const struct device_ops virtio_device_ops;
/* Its id in a VM's registry: "virtio-blk:disk0" (kind:id). */
void virtio_device_id(const struct virtio_transport *t, char *buf,
		      size_t len);

#endif
