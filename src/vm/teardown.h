/* Closing a VM's last KVM fd, here or in a child process (teardown.c). */
#ifndef MVM_VMM_TEARDOWN_H
#define MVM_VMM_TEARDOWN_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Close vm_fd, the VM's last reference. KVM destroys the VM before this
 * returns, unless in_child: then a child process does it, and its pid is
 * returned for vm_teardown_wait() (0 when it was done here after all).
 */
pid_t vm_fd_release(int vm_fd, bool in_child);

#endif
