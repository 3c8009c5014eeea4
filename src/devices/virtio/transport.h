/* Between the transport's register side (pci.c) and its loop side. */
#ifndef MVM_VIRTIO_TRANSPORT_H
#define MVM_VIRTIO_TRANSPORT_H

#include "mvm/virtio_dev.h"

/* Queues, eventfds and loop watches. */
int transport_init(struct virtio_transport *t, struct mvm_err *err);
/* Everything back to the device's reset state. t->lock held. */
void transport_reset_state(struct virtio_transport *t);
/* Cancel the watches and close the eventfds (nothing may be in flight). */
void transport_fini(struct virtio_transport *t);
/* Unregister from PCI and free t (the device model is the caller's). */
void virtio_pci_free(struct virtio_transport *t);
/* One device of ctx->busy is idle: the last one calls ctx->quiesced. */
void transport_busy_put(struct dev_ctx *ctx);

/* How long a pause or a reset waits for the device's I/O to finish. */
#define VIRTIO_PAUSE_MS 10000

/*
 * Act on the status the driver wrote: start a reset it asked for, or go
 * live on DRIVER_OK (the queues are served unless paused). True when the
 * device went live. Loop thread, as everything below.
 */
bool transport_ctl(struct virtio_transport *t);
/*
 * Quiesce (include/mvm/device.h): stop serving, let the model cancel
 * what waits on the outside world, wait until nothing is in flight, and
 * send the interrupts due. -ETIMEDOUT leaves the device running.
 */
int transport_pause(struct virtio_transport *t, struct mvm_err *err);
/* Serve again: the driver's status first, then every live queue. */
void transport_resume(struct virtio_transport *t);
/* The driver's reset, done at once (the device is paused: nothing waits). */
int transport_reset(struct virtio_transport *t, struct mvm_err *err);

#endif
