/*
 * Closing a VM's last fd makes KVM destroy the VM inside close(): with an
 * in-kernel irqchip and PIT that takes 15-25 ms on some hosts (each of
 * their I/O devices leaves the bus through an SRCU grace period), during
 * which mvm could not exit, nor boot the next VM after a guest reboot.
 * So the fd goes to a grandchild that closes it and exits, as QEMU's
 * -async-teardown does; mvm goes on at once. Everything else the VM held
 * (taps, images, the API socket) is closed by then, and the grandchild
 * closes its copies of every other fd first, so nothing but KVM's own
 * teardown outlives mvm. Should a fork fail, the fd is closed here.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "teardown.h"

static void close_all_but(int keep)
{
	if (keep > 0)
		close_range(0, (unsigned)keep - 1, 0);
	close_range((unsigned)keep + 1, ~0u, 0);
}

void vm_fd_release(int vm_fd)
{
	pid_t child;

	if (vm_fd < 0)
		return;
	child = fork();
	if (child < 0) {
		close(vm_fd);
		return;
	}
	if (child == 0) {
		/*
		 * The middle process only exists so that no zombie is left.
		 * The grandchild must hold the last reference: it closes its
		 * fd once the middle one has exited (its pipe end closes).
		 */
		int gone[2];
		char c;

		close_all_but(vm_fd);
		if (pipe(gone) < 0)
			_exit(1); /* the parent's close is then the last */
		if (fork() == 0) {
			close(gone[1]);
			while (read(gone[0], &c, 1) > 0)
				;
			close(vm_fd); /* the teardown */
			_exit(0);
		}
		_exit(0);
	}
	close(vm_fd);
	waitpid(child, NULL, 0);
}
