/*
 * Virtio modern PCI transport, register side (virtio 1.2, 4.1.4): the
 * vendor capabilities that locate each structure in BAR 0, the common
 * configuration (features, status, queue setup), ISR, device config and
 * notify regions, MSI-X in the same BAR, and the ioeventfds that let queue
 * notifications bypass this process's vCPU threads.
 *
 * Everything here runs on vCPU threads, under t->lock. Anything that needs
 * the device (DRIVER_OK, reset) is handed to the event loop via t->ctl_fd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/dev_ctx.h"
#include "mvm/err.h"
#include "mvm/virtio_dev.h"

#include "transport.h"

/* BAR 0 layout: one 4 KiB page per structure, MSI-X at the end. */
#define BAR_SIZE 0x8000
#define COMMON_OFF 0x0000
#define COMMON_LEN 0x40
#define ISR_OFF 0x1000
#define ISR_LEN 4
#define DEVCFG_OFF 0x2000
#define DEVCFG_MAX 0x1000
#define NOTIFY_OFF 0x3000
#define NOTIFY_MULT 4 /* a queue's own address: no data match needed */
#define MSIX_TABLE_OFF 0x4000
#define MSIX_PBA_OFF 0x6000
#define MAX_QUEUES 256 /* notify region and MSI-X table both fit */

/* Vendor capability types (4.1.4). */
enum {
	CAP_COMMON = 1,
	CAP_NOTIFY = 2,
	CAP_ISR = 3,
	CAP_DEVICE = 4,
	CAP_PCI_CFG = 5,
};
#define CAP_LEN 16
#define CAP_NOTIFY_LEN 20
#define CAP_PCI_CFG_LEN 20

/* Common configuration structure offsets (4.1.4.3). */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10,
	CC_NUM_QUEUES = 0x12,
	CC_STATUS = 0x14,
	CC_CFG_GENERATION = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOTIFY_OFF = 0x1e,
	CC_Q_DESC = 0x20,
	CC_Q_DRIVER = 0x28,
	CC_Q_DEVICE = 0x30,
	/*
	 * 0x38 queue_notify_data and 0x3a queue_reset read as zero: mvm
	 * offers neither VIRTIO_F_NOTIF_CONFIG_DATA nor VIRTIO_F_RING_RESET.
	 */
};

#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_DEVICE_VIRTIO_BASE 0x1040
#define PCI_SUBSYS_VIRTIO 0x1100

static void ctl_kick(struct virtio_transport *t)
{
	uint64_t one = 1;

	if (write(t->ctl_fd, &one, sizeof(one)) < 0) {
		/* Only fails when the counter is saturated: already kicked. */
	}
}

static struct virtio_queue *selected(struct virtio_transport *t)
{
	return t->queue_select < t->info.nr_queues ? &t->queues[t->queue_select]
						   : NULL;
}

/* The common config as the driver would read it now. */
static void common_image(struct virtio_transport *t, uint8_t *img)
{
	struct virtio_queue *q = selected(t);
	uint8_t status = t->status;

	memset(img, 0, COMMON_LEN);
	pci_put32(img + CC_DFSELECT, t->dfselect);
	if (t->dfselect < 2)
		pci_put32(img + CC_DF, (uint32_t)(t->offered >>
						  (32 * t->dfselect)));
	pci_put32(img + CC_GFSELECT, t->gfselect);
	if (t->gfselect < 2)
		pci_put32(img + CC_GF, (uint32_t)(t->driver_features >>
						  (32 * t->gfselect)));
	pci_put16(img + CC_MSIX_CONFIG, t->config_vector);
	pci_put16(img + CC_NUM_QUEUES, t->info.nr_queues);
	/* 4.1.4.3.2: reads of 0 mean the reset has completed. */
	img[CC_STATUS] = status;
	img[CC_CFG_GENERATION] = t->config_generation;
	pci_put16(img + CC_Q_SELECT, t->queue_select);
	if (!q)
		return; /* a missing queue reads as size 0 */
	pci_put16(img + CC_Q_SIZE, q->size);
	pci_put16(img + CC_Q_MSIX, q->msix_vector);
	pci_put16(img + CC_Q_ENABLE, q->enabled);
	pci_put16(img + CC_Q_NOTIFY_OFF, (uint16_t)q->index);
	for (int i = 0; i < 2; i++) {
		pci_put32(img + CC_Q_DESC + 4 * i, (uint32_t)(q->desc >> 32 * i));
		pci_put32(img + CC_Q_DRIVER + 4 * i,
			  (uint32_t)(q->driver >> 32 * i));
		pci_put32(img + CC_Q_DEVICE + 4 * i,
			  (uint32_t)(q->device >> 32 * i));
	}
}

static uint16_t valid_vector(struct virtio_transport *t, uint16_t v)
{
	/* 4.1.4.3.1: an unusable vector reads back as NO_VECTOR. */
	return v < t->msix.nr ? v : MSIX_NO_VECTOR;
}

static bool features_acceptable(struct virtio_transport *t, uint64_t f)
{
	if (f & ~t->offered)
		return false;
	/* mvm is a modern-only device (4.1.2.1): no legacy interface. */
	if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		return false;
	return !t->ops->features_ok || t->ops->features_ok(t->dev, f);
}

/* The bits the driver sets (2.1); it may not clear one but by a reset. */
#define STATUS_DRIVER_BITS                                                  \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |                 \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |              \
	 VIRTIO_STATUS_FAILED)

static void write_status(struct virtio_transport *t, uint8_t v)
{
	uint8_t old = t->status;

	if (v == 0) {
		/*
		 * Before DRIVER_OK the device has done nothing, so the reset
		 * is immediate. After it, the loop must stop the device
		 * first; status keeps reading non-zero until it has.
		 */
		if (!(old & VIRTIO_STATUS_DRIVER_OK) && !t->active)
			transport_reset_state(t);
		else if (!t->reset_pending) {
			t->reset_pending = true;
			ctl_kick(t);
		}
		return;
	}
	/*
	 * 2.1.2: the driver MUST NOT clear a status bit. A hostile one that
	 * tries keeps them: a live device with DRIVER_OK gone would be
	 * neither running nor resettable, and its state would not load.
	 */
	v = (uint8_t)((v | old) & STATUS_DRIVER_BITS);
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(old & VIRTIO_STATUS_FEATURES_OK)) {
		if (features_acceptable(t, t->driver_features))
			t->features = t->driver_features;
		else
			v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	/* DRIVER_OK before FEATURES_OK is a driver bug: not honoured. */
	if ((v & VIRTIO_STATUS_DRIVER_OK) &&
	    !(v & VIRTIO_STATUS_FEATURES_OK))
		v &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	/* NEEDS_RESET belongs to the device. */
	t->status = (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) |
			      (old & VIRTIO_STATUS_NEEDS_RESET));
	if ((t->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(old & VIRTIO_STATUS_DRIVER_OK))
		ctl_kick(t);
}

static uint64_t get64(const uint8_t *img, unsigned off)
{
	return (uint64_t)pci_get32(img + off) |
	       (uint64_t)pci_get32(img + off + 4) << 32;
}

static bool field_hit(uint32_t off, uint32_t len, uint32_t f, uint32_t flen)
{
	return off < f + flen && off + len > f;
}

/* Apply the fields a write touched, from the merged image. */
static void common_apply(struct virtio_transport *t, const uint8_t *img,
			 uint32_t off, uint32_t len)
{
	struct virtio_queue *q;

	if (field_hit(off, len, CC_DFSELECT, 4))
		t->dfselect = pci_get32(img + CC_DFSELECT);
	if (field_hit(off, len, CC_GFSELECT, 4))
		t->gfselect = pci_get32(img + CC_GFSELECT);
	if (field_hit(off, len, CC_GF, 4) && t->gfselect < 2 &&
	    !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
		unsigned sh = 32 * t->gfselect;

		t->driver_features &= ~(0xffffffffULL << sh);
		t->driver_features |= (uint64_t)pci_get32(img + CC_GF) << sh;
	}
	if (field_hit(off, len, CC_MSIX_CONFIG, 2))
		t->config_vector = valid_vector(t, pci_get16(img +
							     CC_MSIX_CONFIG));
	if (field_hit(off, len, CC_STATUS, 1))
		write_status(t, img[CC_STATUS]);
	if (field_hit(off, len, CC_Q_SELECT, 2))
		t->queue_select = pci_get16(img + CC_Q_SELECT);

	q = selected(t);
	/* A live queue's setup is frozen until reset (4.1.4.3.2). */
	if (!q || q->enabled)
		return;
	if (field_hit(off, len, CC_Q_SIZE, 2))
		q->size = pci_get16(img + CC_Q_SIZE);
	if (field_hit(off, len, CC_Q_MSIX, 2))
		q->msix_vector = valid_vector(t, pci_get16(img + CC_Q_MSIX));
	if (field_hit(off, len, CC_Q_DESC, 8))
		q->desc = get64(img, CC_Q_DESC);
	if (field_hit(off, len, CC_Q_DRIVER, 8))
		q->driver = get64(img, CC_Q_DRIVER);
	if (field_hit(off, len, CC_Q_DEVICE, 8))
		q->device = get64(img, CC_Q_DEVICE);
	if (field_hit(off, len, CC_Q_ENABLE, 2) &&
	    pci_get16(img + CC_Q_ENABLE) == 1)
		q->enabled = true; /* the ring is checked when it goes live */
}

static void common_io(struct virtio_transport *t, uint32_t off, uint8_t *data,
		      uint32_t len, bool is_write)
{
	uint8_t img[COMMON_LEN];

	if (off + len > COMMON_LEN) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	common_image(t, img);
	if (!is_write) {
		memcpy(data, img + off, len);
		return;
	}
	/* While a reset is pending the driver must only poll status. */
	if (t->reset_pending)
		return;
	memcpy(img + off, data, len);
	common_apply(t, img, off, len);
}

static void isr_io(struct virtio_transport *t, uint32_t off, uint8_t *data,
		   uint32_t len, bool is_write)
{
	if (is_write)
		return;
	memset(data, 0, len);
	if (off == 0) {
		/* Reading acknowledges (4.1.4.5). */
		data[0] = t->isr;
		t->isr = 0;
	}
}

static void devcfg_io(struct virtio_transport *t, uint32_t off, uint8_t *data,
		      uint32_t len, bool is_write)
{
	if (off + len > t->info.config_size) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write)
		t->ops->config_read(t->dev, off, data, len);
	else if (t->ops->config_write)
		t->ops->config_write(t->dev, off, data, len);
}

static void notify_io(struct virtio_transport *t, uint32_t off, uint8_t *data,
		      uint32_t len, bool is_write)
{
	uint32_t qi = off / NOTIFY_MULT;
	uint64_t one = 1;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/*
	 * Writes KVM did not catch (another width, or no ioeventfd): kick
	 * the same eventfd, so the queue is still served on the loop.
	 */
	if (qi < t->info.nr_queues &&
	    write(t->queues[qi].kick_fd, &one, sizeof(one)) < 0) {
		/* Saturated counter: the loop is already due to look. */
	}
}

/* BAR 0, on vCPU threads. */
static void bar_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct virtio_transport *t = ctx;

	if (off >= MSIX_PBA_OFF) {
		msix_pba_io(&t->msix, off - MSIX_PBA_OFF, data, len, is_write);
		return;
	}
	if (off >= MSIX_TABLE_OFF) {
		msix_table_io(&t->msix, off - MSIX_TABLE_OFF, data, len,
			      is_write);
		return;
	}
	pthread_mutex_lock(&t->lock);
	if (off >= NOTIFY_OFF)
		notify_io(t, (uint32_t)(off - NOTIFY_OFF), data, len,
			  is_write);
	else if (off >= DEVCFG_OFF)
		devcfg_io(t, (uint32_t)(off - DEVCFG_OFF), data, len,
			  is_write);
	else if (off >= ISR_OFF)
		isr_io(t, (uint32_t)(off - ISR_OFF), data, len, is_write);
	else
		common_io(t, (uint32_t)off, data, len, is_write);
	pthread_mutex_unlock(&t->lock);
}

static int ioeventfd(struct virtio_transport *t, struct virtio_queue *q,
		     bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = q->kick_addr,
		.len = 2, /* drivers write the queue index as a 16-bit value */
		.fd = q->kick_fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(t->ctx->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* BAR 0 moved: notify addresses follow it. Host lock held. */
static void bar_moved(struct pci_dev *d, int bar, bool mapped, uint64_t at)
{
	struct virtio_transport *t = d->priv;

	if (bar != 0)
		return;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->info.nr_queues; i++) {
		struct virtio_queue *q = &t->queues[i];

		if (q->kick_registered)
			ioeventfd(t, q, false);
		q->kick_registered = false;
		if (!mapped)
			continue;
		q->kick_addr = at + NOTIFY_OFF + NOTIFY_MULT * i;
		/* Without it, notify_io() still kicks: slower, same result. */
		q->kick_registered = ioeventfd(t, q, true) == 0;
	}
	pthread_mutex_unlock(&t->lock);
}

/*
 * VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): a window onto BAR 0 through config
 * space, for drivers that cannot map the BAR. Host lock held.
 */
static bool cfg_access(struct pci_dev *d, uint32_t off, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct virtio_transport *t = d->priv;
	uint32_t win = t->pci_cfg_cap + 16, boff, blen;

	if (off < win || off + len > win + 4)
		return false;
	boff = pci_get32(d->cfg + t->pci_cfg_cap + 8);
	blen = pci_get32(d->cfg + t->pci_cfg_cap + 12);
	/* Only BAR 0 exists; the access must be naturally aligned. */
	if (d->cfg[t->pci_cfg_cap + 4] != 0 || off != win || len != blen ||
	    (blen != 1 && blen != 2 && blen != 4) || boff % blen ||
	    boff >= BAR_SIZE) {
		if (!is_write)
			memset(data, 0, len);
		return true;
	}
	bar_io(t, boff, data, len, is_write);
	return true;
}

static const struct pci_dev_ops pci_ops = {
	.cfg_access = cfg_access,
	.bar_moved = bar_moved,
};

static uint8_t add_vcap(struct pci_dev *d, uint8_t type, uint8_t len,
			uint32_t off, uint32_t size)
{
	uint8_t c = pci_dev_add_cap(d, PCI_CAP_ID_VNDR, len);

	if (!c)
		return 0;
	d->cfg[c + 2] = len;
	d->cfg[c + 3] = type;
	d->cfg[c + 4] = 0; /* BAR 0 */
	pci_put32(d->cfg + c + 8, off);
	pci_put32(d->cfg + c + 12, size);
	return c;
}

static int setup_pci(struct virtio_transport *t, struct mvm_err *err)
{
	struct pci_dev *d = &t->pci;
	uint16_t vectors = (uint16_t)(t->info.nr_queues + 1);
	uint8_t c;
	int ret;

	pci_dev_init(d, PCI_VENDOR_VIRTIO,
		     (uint16_t)(PCI_DEVICE_VIRTIO_BASE + t->info.device_id),
		     t->info.pci_class, 1, PCI_VENDOR_VIRTIO,
		     PCI_SUBSYS_VIRTIO);
	d->ops = &pci_ops;
	d->priv = t;
	pci_dev_add_bar64(d, 0, BAR_SIZE, bar_io, t);
	ret = msix_init(&t->msix, t->ctx, d, vectors, 0, MSIX_TABLE_OFF,
			MSIX_PBA_OFF, err);
	if (ret)
		return ret;
	if (!add_vcap(d, CAP_COMMON, CAP_LEN, COMMON_OFF, COMMON_LEN) ||
	    !add_vcap(d, CAP_ISR, CAP_LEN, ISR_OFF, ISR_LEN) ||
	    (t->info.config_size &&
	     !add_vcap(d, CAP_DEVICE, CAP_LEN, DEVCFG_OFF,
		       t->info.config_size)))
		return mvm_fail(err, -ENOSPC, "%s: config space full",
				t->name);
	c = add_vcap(d, CAP_NOTIFY, CAP_NOTIFY_LEN, NOTIFY_OFF,
		     NOTIFY_MULT * t->info.nr_queues);
	if (!c)
		return mvm_fail(err, -ENOSPC, "%s: config space full",
				t->name);
	pci_put32(d->cfg + c + 16, NOTIFY_MULT);
	c = add_vcap(d, CAP_PCI_CFG, CAP_PCI_CFG_LEN, 0, 0);
	if (!c)
		return mvm_fail(err, -ENOSPC, "%s: config space full",
				t->name);
	/* The window's bar, offset and length are the driver's to set. */
	d->wmask[c + 4] = 0xff;
	memset(d->wmask + c + 8, 0xff, 8);
	t->pci_cfg_cap = c;
	return pci_register(t->ctx->pci, d, err);
}

int virtio_pci_create(struct dev_ctx *ctx, const struct virtio_dev_info *info,
		      const struct virtio_dev_ops *ops, void *dev,
		      struct virtio_transport **out, struct mvm_err *err)
{
	struct virtio_transport *t;
	int ret;

	if (!info->nr_queues || info->nr_queues > MAX_QUEUES ||
	    info->config_size > DEVCFG_MAX)
		return mvm_fail(err, -EINVAL, "%s %s: unsupported shape",
				info->kind, info->id);
	t = calloc(1, sizeof(*t));
	if (!t)
		return mvm_fail(err, -ENOMEM, "out of memory");
	t->ctx = ctx;
	t->info = *info;
	t->ops = ops;
	t->dev = dev;
	snprintf(t->name, sizeof(t->name), "%s %s", info->kind, info->id);
	t->info.kind = NULL; /* the strings live in name from here on */
	t->info.id = NULL;
	t->offered = info->features | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
		     VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |
		     VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	t->ctl_fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	ret = transport_init(t, err);
	if (!ret)
		ret = setup_pci(t, err);
	if (ret) {
		virtio_pci_free(t);
		return ret;
	}
	t->next = ctx->virtio_devs;
	ctx->virtio_devs = t;
	*out = t;
	return 0;
}

void virtio_pci_free(struct virtio_transport *t)
{
	if (t->pci.host)
		pci_unregister(t->pci.host, &t->pci); /* drops ioeventfds */
	msix_fini(&t->msix);
	transport_fini(t);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
