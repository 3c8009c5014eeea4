/*
 * Closing a VM's last fd makes KVM destroy the VM inside close(): with an
 * in-kernel irqchip and PIT that takes 15-25 ms on some hosts (each of
 * their I/O devices leaves the bus through an SRCU grace period).
 *
 * When mvm ends, it pays that cost itself: "mvm has exited" must mean
 * "its VM is gone". A VM left to an orphan process outlived mvm (its
 * hypervisor state on, the KVM module pinned) and surprised whatever
 * watches mvm's process, as a test, a cgroup or a systemd unit does.
 *
 * Only a guest reboot, where mvm builds the next VM at once, hands the
 * old VM's fd to a child process that closes it meanwhile; mvm reaps that
 * child before it builds yet another VM and before it exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvm/sandbox.h"
#include "mvm/vm.h"
#include "teardown.h"

/*
 * In the child: hold vm_fd until the parent has closed its own copy (its
 * end of the pipe closes), so that the child's close is the last one and
 * KVM's teardown runs here. Nothing else of the parent's is kept open.
 */
static void teardown_child(int vm_fd, int parent_done)
{
	char c;
	ssize_t n;

	if (dup2(parent_done, 0) < 0 || dup2(vm_fd, 1) < 0)
		_exit(1); /* the parent's close is then the last */
	close_range(2, ~0u, 0);
	do
		n = read(0, &c, 1);
	while (n > 0 || (n < 0 && errno == EINTR));
	close(1); /* the teardown */
	_exit(0);
}

pid_t vm_fd_release(int vm_fd, bool in_child)
{
	int done[2];
	pid_t child;

	if (vm_fd < 0)
		return 0;
	if (!in_child || pipe2(done, O_CLOEXEC) < 0) {
		close(vm_fd);
		return 0;
	}
	child = fork();
	if (child == 0) {
		/* It inherits the main thread's list: narrow it to its own. */
		if (sandbox_enter_forked(SANDBOX_TEARDOWN))
			_exit(1); /* the parent's close is then the last */
		teardown_child(vm_fd, done[0]);
	}
	close(vm_fd);
	close(done[0]);
	close(done[1]);
	return child > 0 ? child : 0;
}

void vm_teardown_wait(pid_t *pid)
{
	if (*pid <= 0)
		return;
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}
