/*
 * Conventional PCI on bus 0: a host bridge, configuration space through
 * the 0xCF8/0xCFC ports and ECAM, memory BARs placed by mvm (as firmware
 * would) and moved when the guest reprograms them, and MSI-X.
 *
 * Configuration accesses arrive on vCPU threads and are served inline under
 * the host's lock; they never wait for device work.
 */
#ifndef MVM_PCI_H
#define MVM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvm/bus.h"

struct dev_ctx;
struct mvm_err;
struct pci_dev;
struct msix;

#define PCI_SLOTS 32
#define PCI_CFG_SIZE 256     /* conventional header + capabilities */
#define PCI_ECAM_FN_SIZE 4096 /* what ECAM gives each function */

/* Standard header offsets. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_CMD_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10

#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM64 0x4

struct pci_bar {
	uint64_t size; /* power of two >= 16; 0 when the BAR is unused */
	bool is64;     /* takes this slot and the next */
	bool mapped;   /* registered on the MMIO bus at 'at' */
	uint64_t at;
	bus_io_fn fn;
	void *ctx;
};

struct pci_dev_ops {
	/*
	 * Optional: claim a configuration access before the generic code
	 * (a window such as virtio's PCI_CFG capability). Return true when
	 * handled. Called under the host lock.
	 */
	bool (*cfg_access)(struct pci_dev *d, uint32_t off, uint8_t *data,
			   uint32_t len, bool is_write);
	/* Optional: BAR i now decodes at 'at' (mapped) or nowhere. */
	void (*bar_moved)(struct pci_dev *d, int bar, bool mapped,
			  uint64_t at);
};

struct pci_dev {
	struct pci_host *host;
	unsigned slot;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	struct pci_bar bar[6];
	uint8_t next_cap;  /* offset for the next capability added */
	uint8_t last_cap;  /* 0, or the last capability (to link the next) */
	const struct pci_dev_ops *ops;
	void *priv;
	struct msix *msix; /* set by msix_init */
};

struct pci_host {
	struct bus *mmio;     /* where the BARs decode */
	pthread_mutex_t lock; /* config space of every function */
	uint32_t cf8;         /* the CONFIG_ADDRESS latch */
	struct pci_dev *slots[PCI_SLOTS];
	struct pci_dev bridge;
	uint64_t mmio32_next; /* BAR allocator in the 32-bit window */
};

/* Host bridge at 00:00.0, the config ports and ECAM. Sets ctx->pci. */
int pci_create(struct dev_ctx *ctx, struct mvm_err *err);
void pci_destroy(struct dev_ctx *ctx);
/*
 * The host bridge's side of include/mvm/device.h (the opaque is
 * ctx->pci): the CONFIG_ADDRESS latch and the bridge's config space.
 */
struct device_ops;
extern const struct device_ops pci_host_device_ops;

/*
 * Fill in a function's identity; the caller adds BARs and capabilities,
 * then pci_register() gives it a slot and places its BARs.
 */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		  uint16_t subsys_id);
/* A 64-bit memory BAR (size a power of two) served by fn(ctx). */
void pci_dev_add_bar64(struct pci_dev *d, int bar, uint64_t size,
		       bus_io_fn fn, void *ctx);
/* Append a capability of len bytes; returns its config offset, 0 if full. */
uint8_t pci_dev_add_cap(struct pci_dev *d, uint8_t id, uint8_t len);
int pci_register(struct pci_host *h, struct pci_dev *d, struct mvm_err *err);
/* Unmap the BARs and free the slot (VM teardown). */
void pci_unregister(struct pci_host *h, struct pci_dev *d);

/* Generic config access for one function (lock held by the caller). */
void pci_dev_cfg_access(struct pci_dev *d, uint32_t off, uint8_t *data,
			uint32_t len, bool is_write);
void pci_dev_unmap_all(struct pci_dev *d);

/* Little-endian helpers over a config or register image. */
static inline uint16_t pci_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t pci_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void pci_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
