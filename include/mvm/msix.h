/*
 * MSI-X for a PCI function: the capability in config space, the vector
 * table and pending-bit array in a BAR, and delivery. Each vector that the
 * guest unmasks with a valid message gets a KVM MSI route and an irqfd, so
 * raising it from the event loop is one eventfd write. Masked vectors latch
 * their pending bit and fire on unmask, as the PCI spec requires.
 */
#ifndef MVM_MSIX_H
#define MVM_MSIX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct dev_ctx;
struct pci_dev;
struct mvm_err;

#define MSIX_ENTRY_SIZE 16
#define MSIX_CTRL_MASKED 1
#define MSIX_NO_VECTOR 0xffff

struct msix_vec {
	uint32_t addr_lo, addr_hi, data, ctrl; /* the guest's table entry */
	int gsi;  /* -1 until first routed */
	int efd;  /* irqfd bound to gsi, -1 until then */
	bool routed; /* the route holds the r_* message */
	uint32_t r_addr_lo, r_addr_hi, r_data;
};

struct msix {
	struct dev_ctx *ctx; /* its GSI routes and the KVM VM */
	struct pci_dev *dev;
	pthread_mutex_t lock; /* table, PBA, enable/mask: vCPUs vs the loop */
	uint16_t nr;
	uint8_t cap; /* config offset of the capability */
	bool enabled, fmask;
	bool held; /* the device is paused: vectors fire into the PBA only */
	struct msix_vec *v;
	uint64_t *pba;
	atomic_ulong dropped; /* fired with no valid message programmed */
};

/*
 * Add the capability to d with nr vectors; the table and PBA sit at the
 * given offsets of BAR bir, whose handler forwards those ranges to
 * msix_table_io()/msix_pba_io(). Call before pci_register().
 */
int msix_init(struct msix *m, struct dev_ctx *ctx, struct pci_dev *d,
	      uint16_t nr, int bir, uint32_t table_off, uint32_t pba_off,
	      struct mvm_err *err);
void msix_fini(struct msix *m);

/* BAR accesses; off is relative to the table or PBA start. */
void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		   bool is_write);
void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len,
		 bool is_write);
/* The control word changed (called by the config space code). */
void msix_cfg_written(struct msix *m);

bool msix_enabled(struct msix *m);
/*
 * Hold every vector (a paused device raises nothing, include/mvm/
 * device.h): what fires meanwhile sets its pending bit, which a saved
 * state carries, as for a masked vector. Letting go sends what is pending
 * and unmasked. Loop thread.
 */
void msix_hold(struct msix *m, bool hold);
/* Raise vector (from any thread); MSIX_NO_VECTOR and out-of-range: nothing. */
void msix_notify(struct msix *m, uint16_t vector);

/* Bytes of table and PBA for nr vectors. */
#define MSIX_TABLE_SIZE(nr) ((uint32_t)(nr) * MSIX_ENTRY_SIZE)
#define MSIX_PBA_SIZE(nr) ((((uint32_t)(nr) + 63) / 64) * 8)

#endif
