/* The VM's memory slots, shared by vm.c and dirty.c. */
#ifndef MVM_VM_DIRTY_H
#define MVM_VM_DIRTY_H

#include <stdint.h>

struct vm;
struct mvm_err;

/* (Re)register memory slot i, gm.r[i], with KVM with these flags. */
int vm_memslot_set(struct vm *vm, int i, uint32_t flags, struct mvm_err *err);
/*
 * KVM slot `slot`'s dirty log (pages of it) into bm, cleared: with manual
 * protection the pages are write-protected again here, right before the
 * caller reads them, not when logging began.
 */
int vm_slot_dirty_log(struct vm *vm, uint32_t slot, unsigned long *bm,
		      uint64_t pages, struct mvm_err *err);

#endif
