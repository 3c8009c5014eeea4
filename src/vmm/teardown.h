/* Handing a VM's last KVM fd to a short-lived process (teardown.c). */
#ifndef MVM_VMM_TEARDOWN_H
#define MVM_VMM_TEARDOWN_H

/* Close vm_fd, the VM's last reference; KVM's teardown runs elsewhere. */
void vm_fd_release(int vm_fd);

#endif
