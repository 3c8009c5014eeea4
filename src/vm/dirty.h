/* The VM's memory slots, shared by vm.c and dirty.c. */
#ifndef MVM_VM_DIRTY_H
#define MVM_VM_DIRTY_H

#include <stdint.h>

struct vm;
struct mvm_err;

/* (Re)register memory slot i, gm.r[i], with KVM with these flags. */
int vm_memslot_set(struct vm *vm, int i, uint32_t flags, struct mvm_err *err);

#endif
