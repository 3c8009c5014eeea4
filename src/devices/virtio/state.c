/*
 * A virtio device's state as one blob, for snapshots: the PCI config
 * space, the transport (features, status, queue setup and ring indices),
 * MSI-X, then whatever the device model adds. Taken and restored on the
 * loop thread with the vCPUs paused and no request in flight, so nothing
 * moves underneath. The blob is host-endian and versioned; a blob for
 * another device type or queue count is refused.
 */
#include <string.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "transport.h"

#define STATE_MAGIC 0x314f4956u /* "VIO1" */
#define STATE_VERSION 1

struct saved_queue {
	uint64_t desc, driver, device;
	uint16_t size, msix_vector, last_avail, used_idx, signalled_used;
	uint8_t enabled, ready, broken, signalled_valid;
};

struct saved {
	uint32_t magic, version, device_id, nr_queues;
	uint64_t driver_features, features;
	uint32_t dfselect, gfselect;
	uint16_t queue_select, config_vector, msix_nr;
	uint8_t status, config_generation, isr, msix_enabled, msix_fmask;
	uint8_t active;
	uint8_t cfg[PCI_CFG_SIZE];
	uint32_t dev_len;
};

static size_t msix_bytes(const struct msix *m)
{
	return m->nr * 4 * sizeof(uint32_t) + MSIX_PBA_SIZE(m->nr);
}

size_t virtio_save(struct virtio_transport *t, void *buf, size_t cap)
{
	size_t qbytes = t->info.nr_queues * sizeof(struct saved_queue);
	size_t fixed = sizeof(struct saved) + qbytes + msix_bytes(&t->msix);
	uint8_t *p = buf;
	struct saved s;
	size_t dev_len = 0;

	if (cap < fixed)
		return 0;
	memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&t->pci.host->lock);
	memcpy(s.cfg, t->pci.cfg, sizeof(s.cfg));
	pthread_mutex_unlock(&t->pci.host->lock);
	pthread_mutex_lock(&t->lock);
	s.magic = STATE_MAGIC;
	s.version = STATE_VERSION;
	s.device_id = t->info.device_id;
	s.nr_queues = t->info.nr_queues;
	s.driver_features = t->driver_features;
	s.features = t->features;
	s.dfselect = t->dfselect;
	s.gfselect = t->gfselect;
	s.queue_select = t->queue_select;
	s.config_vector = t->config_vector;
	s.status = t->status;
	s.config_generation = t->config_generation;
	s.isr = t->isr;
	s.active = t->active;
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		const struct virtio_queue *q = &t->queues[i];
		struct saved_queue sq;

		/* Zeroed first: an initializer leaves the struct's tail
		 * padding as the stack had it, which would put host stack
		 * bytes in the state file and make two saves differ. */
		memset(&sq, 0, sizeof(sq));
		sq.desc = q->desc;
		sq.driver = q->driver;
		sq.device = q->device;
		sq.size = q->size;
		sq.msix_vector = q->msix_vector;
		sq.last_avail = q->vq.last_avail;
		sq.used_idx = q->vq.used_idx;
		sq.signalled_used = q->vq.signalled_used;
		sq.enabled = q->enabled;
		sq.ready = q->ready;
		sq.broken = q->broken;
		sq.signalled_valid = q->vq.signalled_valid;

		memcpy(p + sizeof(s) + i * sizeof(sq), &sq, sizeof(sq));
	}
	pthread_mutex_unlock(&t->lock);

	pthread_mutex_lock(&t->msix.lock);
	s.msix_nr = t->msix.nr;
	s.msix_enabled = t->msix.enabled;
	s.msix_fmask = t->msix.fmask;
	uint8_t *m = p + sizeof(s) + qbytes;
	for (unsigned i = 0; i < t->msix.nr; i++) {
		uint32_t e[4] = { t->msix.v[i].addr_lo, t->msix.v[i].addr_hi,
				  t->msix.v[i].data, t->msix.v[i].ctrl };

		memcpy(m + i * sizeof(e), e, sizeof(e));
	}
	memcpy(m + t->msix.nr * 16, t->msix.pba, MSIX_PBA_SIZE(t->msix.nr));
	pthread_mutex_unlock(&t->msix.lock);

	if (t->ops->save) {
		dev_len = t->ops->save(t->dev, p + fixed, cap - fixed);
		if (!dev_len)
			return 0; /* no room for the device's part */
	}
	s.dev_len = (uint32_t)dev_len;
	memcpy(p, &s, sizeof(s));
	return fixed + dev_len;
}

/* Bring the queues that were live back to life; -1 or the one that fails. */
static int revive_queues(struct virtio_transport *t,
			 const struct saved_queue *sq)
{
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		struct virtio_queue *q = &t->queues[i];

		if (!sq[i].ready)
			continue;
		if (virtq_init(&q->vq, t->ctx->mem, q->size, q->desc,
			       q->driver, q->device, t->features, NULL))
			return (int)i;
		q->vq.last_avail = sq[i].last_avail;
		q->vq.used_idx = sq[i].used_idx;
		q->vq.signalled_used = sq[i].signalled_used;
		q->vq.signalled_valid = sq[i].signalled_valid;
		q->ready = true;
	}
	return -1;
}

static int bad(struct virtio_transport *t, struct mvm_err *err,
	       const char *what, unsigned long long a, unsigned long long b)
{
	return mvm_fail(err, -EINVAL, "%s: state: %s (%llu, this device: "
			"%llu)", t->name, what, a, b);
}

/* Everything that can be judged before the device is touched. */
static int check_saved(struct virtio_transport *t, const struct saved *s,
		       const struct saved_queue *sq, size_t len, size_t fixed,
		       struct mvm_err *err)
{
	if (s->magic != STATE_MAGIC || s->version != STATE_VERSION)
		return bad(t, err, "not a virtio state of this version",
			   s->version, STATE_VERSION);
	if (s->device_id != t->info.device_id)
		return bad(t, err, "another device type", s->device_id,
			   t->info.device_id);
	if (s->nr_queues != t->info.nr_queues)
		return bad(t, err, "another number of queues", s->nr_queues,
			   t->info.nr_queues);
	if (s->msix_nr != t->msix.nr)
		return bad(t, err, "another number of MSI-X vectors",
			   s->msix_nr, t->msix.nr);
	if (len != fixed + s->dev_len)
		return bad(t, err, "a length that does not add up", len,
			   fixed + s->dev_len);
	if (s->dev_len && !t->ops->load)
		return bad(t, err, "device state for a device without",
			   s->dev_len, 0);
	/*
	 * Features this device does not offer cannot come back to life. The
	 * driver's own register may hold any bits (a driver writes what it
	 * likes; FEATURES_OK then fails): it comes back as it was.
	 */
	if (s->features & ~t->offered)
		return mvm_fail(err, -EINVAL, "%s: state: features %#llx, "
				"which this device does not offer", t->name,
				(unsigned long long)(s->features &
						     ~t->offered));
	if (s->active && !(s->status & VIRTIO_STATUS_DRIVER_OK))
		return bad(t, err, "live without DRIVER_OK", s->status, 0);
	/* What write_status() can never make (pci.c). */
	if (s->status & ~(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |
			  VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return bad(t, err, "a status with undefined bits", s->status,
			   0);
	if ((s->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(s->status & VIRTIO_STATUS_FEATURES_OK))
		return bad(t, err, "DRIVER_OK without FEATURES_OK", s->status,
			   0);
	/*
	 * A queue that is not live may hold any size the driver wrote (it
	 * is checked when the queue goes live); a live one may not.
	 */
	for (unsigned i = 0; i < t->info.nr_queues; i++)
		if (sq[i].ready && sq[i].size > t->info.queue_size)
			return bad(t, err, "a queue larger than the maximum",
				   sq[i].size, t->info.queue_size);
	return 0;
}

/* Config space first: it places the BAR (and the ioeventfds). */
static void load_pci(struct virtio_transport *t, const struct saved *s,
		     const uint8_t *m)
{
	uint8_t cmd[2];

	pthread_mutex_lock(&t->pci.host->lock);
	memcpy(t->pci.cfg, s->cfg, sizeof(s->cfg));
	memcpy(cmd, s->cfg + PCI_COMMAND, 2);
	pci_dev_cfg_access(&t->pci, PCI_COMMAND, cmd, 2, true);
	pthread_mutex_unlock(&t->pci.host->lock);

	pthread_mutex_lock(&t->msix.lock);
	for (unsigned i = 0; i < t->msix.nr; i++) {
		uint32_t e[4];

		memcpy(e, m + i * sizeof(e), sizeof(e));
		t->msix.v[i].addr_lo = e[0];
		t->msix.v[i].addr_hi = e[1];
		t->msix.v[i].data = e[2];
		t->msix.v[i].ctrl = e[3] & MSIX_CTRL_MASKED;
		t->msix.v[i].routed = false; /* re-routed on first use */
	}
	memcpy(t->msix.pba, m + t->msix.nr * 16, MSIX_PBA_SIZE(t->msix.nr));
	t->msix.enabled = s->msix_enabled;
	t->msix.fmask = s->msix_fmask;
	pthread_mutex_unlock(&t->msix.lock);
}

/* The transport's registers and rings. Returns revive_queues()'s. */
static int load_transport(struct virtio_transport *t, const struct saved *s,
			  const struct saved_queue *sq)
{
	int bad_queue;

	pthread_mutex_lock(&t->lock);
	transport_reset_state(t);
	t->driver_features = s->driver_features;
	t->features = s->features;
	t->dfselect = s->dfselect;
	t->gfselect = s->gfselect;
	t->queue_select = s->queue_select;
	t->config_vector = s->config_vector;
	t->status = s->status;
	t->config_generation = s->config_generation;
	t->isr = s->isr;
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		struct virtio_queue *q = &t->queues[i];

		q->desc = sq[i].desc;
		q->driver = sq[i].driver;
		q->device = sq[i].device;
		q->size = sq[i].size;
		q->msix_vector = sq[i].msix_vector;
		q->enabled = sq[i].enabled;
		q->broken = sq[i].broken;
	}
	bad_queue = revive_queues(t, sq);
	pthread_mutex_unlock(&t->lock);
	return bad_queue;
}

/* A load that failed half way leaves the device reset, not half loaded. */
static int undo(struct virtio_transport *t, int ret)
{
	pthread_mutex_lock(&t->lock);
	transport_reset_state(t);
	pthread_mutex_unlock(&t->lock);
	t->active = false;
	return ret;
}

/* The state, with the device left inactive; *active: was it live? */
static int load_state(struct virtio_transport *t, const void *buf,
		      size_t len, bool *active, struct mvm_err *err)
{
	size_t qbytes = t->info.nr_queues * sizeof(struct saved_queue);
	size_t fixed = sizeof(struct saved) + qbytes + msix_bytes(&t->msix);
	const uint8_t *p = buf;
	struct saved_queue sq[256];
	struct saved s;
	int ret;

	if (len < fixed || t->info.nr_queues > 256)
		return bad(t, err, "shorter than the transport's part", len,
			   fixed);
	memcpy(&s, p, sizeof(s));
	memcpy(sq, p + sizeof(s), qbytes);
	ret = check_saved(t, &s, sq, len, fixed, err);
	if (ret)
		return ret;
	load_pci(t, &s, p + sizeof(s) + qbytes);
	t->active = false;
	ret = load_transport(t, &s, sq);
	if (ret >= 0)
		return undo(t, mvm_fail(err, -EINVAL, "%s: state: queue %d: "
					"its rings are not in guest memory",
					t->name, ret));
	ret = t->ops->load ? t->ops->load(t->dev, p + fixed, s.dev_len) : 0;
	if (ret == -EOPNOTSUPP)
		return undo(t, mvm_fail(err, ret, "%s: state: the backend "
					"cannot do what the driver negotiated",
					t->name));
	if (ret)
		return undo(t, mvm_fail(err, ret, "%s: state: the %s's own "
					"part is refused (another medium or "
					"configuration)", t->name,
					t->info.kind));
	*active = s.active;
	return 0;
}

int virtio_load(struct virtio_transport *t, const void *buf, size_t len)
{
	bool active = false;
	int ret = load_state(t, buf, len, &active, NULL);

	/* A running device picks up where it was. */
	if (!ret && active) {
		t->active = true;
		if (t->ops->activate)
			t->ops->activate(t->dev);
	}
	return ret;
}

int virtio_load_inactive(struct virtio_transport *t, const void *buf,
			 size_t len, struct mvm_err *err)
{
	bool active = false;

	return load_state(t, buf, len, &active, err);
}
