/*
 * The PCI host bridge: bus 0's slot table, the two ways into configuration
 * space (the 0xCF8 address latch with the 0xCFC data window, and ECAM in
 * the 32-bit hole), and BAR placement in the 32-bit window, as firmware
 * does before an OS boots. One lock covers every function's config space:
 * accesses are rare and short.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/pci.h"

#define CF8_ENABLE 0x80000000u
/* An ID from the range reserved for virtual devices: a generic host bridge. */
#define BRIDGE_VENDOR 0x1b36
#define BRIDGE_DEVICE 0x0008
#define CLASS_HOST_BRIDGE 0x060000

static struct pci_dev *lookup(struct pci_host *h, unsigned bus, unsigned dev,
			      unsigned fn)
{
	/* Single-function devices on bus 0 only. */
	if (bus != 0 || fn != 0 || dev >= PCI_SLOTS)
		return NULL;
	return h->slots[dev];
}

/* Called with h->lock held. */
static void cfg_access(struct pci_dev *d, uint32_t reg, uint8_t *data,
		       uint32_t len, bool is_write)
{
	if (!d) {
		/* No function: reads float high, writes go nowhere. */
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_dev_cfg_access(d, reg, data, len, is_write);
}

static void cf8_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct pci_host *h = ctx;

	/* Only dword accesses reach the latch; 0xCF9 is the reset port. */
	if (off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (is_write)
		h->cf8 = pci_get32(data) & 0x80fffffcu;
	else
		pci_put32(data, h->cf8);
	pthread_mutex_unlock(&h->lock);
}

static void cfc_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write)
{
	struct pci_host *h = ctx;
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->cf8;
	if ((a & CF8_ENABLE) && off + len <= 4)
		cfg_access(lookup(h, (a >> 16) & 0xff, (a >> 11) & 0x1f,
				  (a >> 8) & 7),
			   (a & 0xfc) + (uint32_t)off, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len);
	pthread_mutex_unlock(&h->lock);
}

static void ecam_io(void *ctx, uint64_t off, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct pci_host *h = ctx;
	uint32_t reg = off & 0xfff;

	/* An access may not cross a function's 4 KiB. */
	if (reg + len > PCI_ECAM_FN_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&h->lock);
	cfg_access(lookup(h, (unsigned)(off >> 20), (off >> 15) & 0x1f,
			  (off >> 12) & 7),
		   reg, data, len, is_write);
	pthread_mutex_unlock(&h->lock);
}

static int place_bars(struct pci_host *h, struct pci_dev *d,
		      struct mvm_err *err)
{
	uint64_t end = LAYOUT_PCI_MMIO32 + LAYOUT_PCI_MMIO32_SIZE;

	for (int i = 0; i < 6; i++) {
		struct pci_bar *b = &d->bar[i];
		uint64_t at;

		if (!b->size)
			continue;
		at = (h->mmio32_next + b->size - 1) & ~(b->size - 1);
		if (at + b->size > end)
			return mvm_fail(err, -ENOSPC, "pci: no room for a "
					"%llu KiB BAR in the 32-bit window",
					(unsigned long long)(b->size >> 10));
		h->mmio32_next = at + b->size;
		pci_put32(d->cfg + PCI_BAR0 + 4 * i,
			  (uint32_t)at | (b->is64 ? PCI_BAR_MEM64 : 0));
		if (b->is64) {
			pci_put32(d->cfg + PCI_BAR0 + 4 * i + 4,
				  (uint32_t)(at >> 32));
			i++;
		}
	}
	return 0;
}

int pci_register(struct pci_host *h, struct pci_dev *d, struct mvm_err *err)
{
	uint8_t cmd[2];
	unsigned s;
	int ret;

	pthread_mutex_lock(&h->lock);
	for (s = 0; s < PCI_SLOTS && h->slots[s]; s++)
		;
	if (s == PCI_SLOTS) {
		ret = mvm_fail(err, -ENOSPC, "pci: all %d slots are taken",
			       PCI_SLOTS);
		goto out;
	}
	d->host = h;
	d->slot = s;
	ret = place_bars(h, d, err);
	if (ret)
		goto out;
	h->slots[s] = d;
	/* Decoding on, as firmware leaves it; this maps the BARs. */
	pci_put16(cmd, PCI_CMD_MEM);
	pci_dev_cfg_access(d, PCI_COMMAND, cmd, 2, true);
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

void pci_unregister(struct pci_host *h, struct pci_dev *d)
{
	pthread_mutex_lock(&h->lock);
	pci_dev_unmap_all(d);
	if (d->host == h && h->slots[d->slot] == d)
		h->slots[d->slot] = NULL;
	pthread_mutex_unlock(&h->lock);
}

static void bridge_ident(struct pci_dev *d)
{
	pci_dev_init(d, BRIDGE_VENDOR, BRIDGE_DEVICE, CLASS_HOST_BRIDGE, 0,
		     BRIDGE_VENDOR, 0x1100);
}

int pci_create(struct dev_ctx *ctx, struct mvm_err *err)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return mvm_fail(err, -ENOMEM, "out of memory");
	h->mmio = ctx->mmio;
	h->mmio32_next = LAYOUT_PCI_MMIO32;
	pthread_mutex_init(&h->lock, NULL);
	ctx->pci = h;

	bridge_ident(&h->bridge);
	ret = pci_register(h, &h->bridge, err);
	if (ret)
		return ret;
	if (bus_add(ctx->pio, PORT_PCI_CONFIG_ADDR, 1, cf8_io, h) ||
	    bus_add(ctx->pio, PORT_PCI_CONFIG_DATA, 4, cfc_io, h))
		return mvm_fail(err, -EEXIST, "pci: config ports 0xcf8/0xcfc "
				"are taken");
	if (bus_add(ctx->mmio, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, ecam_io,
		    h))
		return mvm_fail(err, -EEXIST, "pci: ECAM range is taken");
	return 0;
}

void pci_destroy(struct dev_ctx *ctx)
{
	struct pci_host *h = ctx->pci;

	if (!h)
		return;
	bus_del(ctx->pio, PORT_PCI_CONFIG_ADDR);
	bus_del(ctx->pio, PORT_PCI_CONFIG_DATA);
	bus_del(ctx->mmio, LAYOUT_PCI_ECAM);
	pthread_mutex_destroy(&h->lock);
	free(h);
	ctx->pci = NULL;
}

/*
 * The device interface (include/mvm/device.h) of the host bridge: the
 * CONFIG_ADDRESS latch and the bridge's own configuration space. Every
 * other function's config space is its device's to save (a virtio
 * transport saves its own). Accesses complete on the vCPU that makes
 * them and nothing raises an interrupt: pause and resume have nothing to
 * do.
 */

#define PCI_HOST_STATE_VERSION 1

struct pci_host_saved {
	uint32_t cf8;
	uint8_t bridge_cfg[PCI_CFG_SIZE];
};
_Static_assert(sizeof(struct pci_host_saved) == 4 + PCI_CFG_SIZE,
	       "a new layout: a new PCI_HOST_STATE_VERSION");

/* The bridge as mvm, as firmware, left it: memory decoding on. */
static int pci_host_dev_reset(struct device *d, struct mvm_err *err)
{
	struct pci_host *h = d->opaque;
	struct pci_dev boot;

	(void)err;
	bridge_ident(&boot);
	pci_put16(boot.cfg + PCI_COMMAND, PCI_CMD_MEM);
	pthread_mutex_lock(&h->lock);
	h->cf8 = 0;
	memcpy(h->bridge.cfg, boot.cfg, sizeof(boot.cfg));
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static int pci_host_dev_save(struct device *d, struct dev_state_node *out,
			     struct mvm_err *err)
{
	struct pci_host *h = d->opaque;
	struct pci_host_saved v;

	pthread_mutex_lock(&h->lock);
	v.cf8 = h->cf8;
	memcpy(v.bridge_cfg, h->bridge.cfg, sizeof(v.bridge_cfg));
	pthread_mutex_unlock(&h->lock);
	return dev_state_node_set(out, d->id, PCI_HOST_STATE_VERSION, &v,
				  sizeof(v), err);
}

static int pci_host_dev_load(struct device *d, const struct dev_state_node *in,
			     struct mvm_err *err)
{
	struct pci_host *h = d->opaque;
	struct pci_host_saved v;
	int ret;

	ret = dev_state_check(d, in, PCI_HOST_STATE_VERSION, sizeof(v),
			      sizeof(v), err);
	if (ret)
		return ret;
	memcpy(&v, in->data, sizeof(v));
	if (v.cf8 & ~0x80fffffcu)
		return dev_state_bad(d, err, "CONFIG_ADDRESS %#x has bits the "
				     "latch drops", v.cf8);
	pthread_mutex_lock(&h->lock);
	/* Only what the guest can write may differ: else another bridge. */
	for (unsigned i = 0; i < PCI_CFG_SIZE; i++) {
		if ((v.bridge_cfg[i] ^ h->bridge.cfg[i]) & ~h->bridge.wmask[i]) {
			pthread_mutex_unlock(&h->lock);
			return dev_state_bad(d, err, "config byte %#x is "
					     "read-only and differs", i);
		}
	}
	h->cf8 = v.cf8;
	memcpy(h->bridge.cfg, v.bridge_cfg, sizeof(v.bridge_cfg));
	pthread_mutex_unlock(&h->lock);
	return 0;
}

const struct device_ops pci_host_device_ops = {
	.activate = dev_nop,
	.reset = pci_host_dev_reset,
	.pause = dev_nop,
	.resume = dev_nop,
	.save = pci_host_dev_save,
	.load = pci_host_dev_load,
};
