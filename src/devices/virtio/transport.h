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

#endif
