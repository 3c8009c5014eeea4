/*
 * What each kind of mvm thread may call: learnt from strace -f over the
 * unit, integration and API suites, plus the paths named below that the
 * suites cannot reach on every host. Names this libseccomp does not know
 * are skipped by sandbox.c.
 */
#include <stddef.h>

#include "sandbox_rules.h"

/*
 * Every thread: memory (malloc, thread stacks), locks, time, signals
 * (the vCPU kick, the SIGSYS report itself), and the end of a thread or of
 * mvm. ioctl is KVM's whole interface (and the terminal's, the tap's).
 */
#define COMMON_CALLS                                                         \
	"brk", "mmap", "munmap", "mprotect", "madvise", "mremap", "futex",   \
	"clock_gettime", "clock_nanosleep", "nanosleep", "gettimeofday",     \
	"sched_yield", "getpid", "gettid", "getppid", "tgkill", "tkill",     \
	"rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "restart_syscall", \
	"read", "readv", "write", "writev", "close", "ioctl", "exit",        \
	"exit_group" SANITIZER_CALLS

/*
 * ASan builds only (make test-sanitize; GCC defines __SANITIZE_ADDRESS__):
 * the sanitizer runtime's own calls. Every thread and process looks at,
 * sets up and removes its alternate signal stack (in _exit too); at exit,
 * LeakSanitizer stops the threads from a tracer that lists them
 * (getdents) and ptrace()s them. Other builds allow none of these.
 */
#ifdef __SANITIZE_ADDRESS__
#define SANITIZER_CALLS , "sigaltstack", "ptrace", "getdents"
#else
#define SANITIZER_CALLS
#endif

static const char *const main_calls[] = {
	COMMON_CALLS,
	/* The event loop: io_uring (its operations bypass seccomp, the
	 * ring's own calls do not), signalfd, eventfds, timers; the user-mode
	 * stack's (libslirp's) sockets, through epoll and a poll(). */
	"io_uring_setup", "io_uring_enter", "io_uring_register", "signalfd4",
	"eventfd2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"poll", "ppoll", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "select", "pselect6",
	/* Files: kernel, initrd and disk images, PATCH /drives media swaps,
	 * logger and metrics files, serial output, /dev/kvm, /dev/net/tun,
	 * hugetlbfs, /proc and /sys reads (nested, host checks). */
	"openat", "open", "creat", "newfstatat", "fstat", "stat", "lstat",
	"statx", "statfs", "fstatfs", "lseek", "pread64", "pwrite64",
	"preadv", "pwritev", "preadv2", "pwritev2", "fsync", "fdatasync",
	"fallocate", "ftruncate", "fcntl", "flock", "dup", "dup2", "dup3",
	"close_range", "pipe2", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "getdents64", "rename", "renameat",
	"renameat2", "unlink", "unlinkat", "fchmod", "fchmodat", "fchown",
	"umask", "getcwd", "memfd_create", "mlock", "munlock", "sysinfo",
	/* Snapshots: a restore's Uffd backend (mem_uffd.c), merging a
	 * Diff memory file onto its base in the kernel (mem_merge.c),
	 * checkpoints' disk copies where no reflink can be made. */
	"userfaultfd", "copy_file_range",
	/* Checkpoints: a directory each, made, listed and removed. */
	"mkdir", "mkdirat", "rmdir",
	/* The API socket, vsock's Unix sockets (listen, accept, connect to
	 * <uds_path>_<port>, shutdown), the tap's address setup and netlink;
	 * the user-mode stack's NATed connections (TCP, UDP, ICMP datagram
	 * sockets) and its hostfwd listeners. No socketpair: nothing here
	 * makes one (the user backend passes frames by call). */
	"socket", "bind", "listen", "accept", "accept4",
	"connect", "getsockname", "getpeername", "getsockopt", "setsockopt",
	"shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg",
	/* vCPU threads (new ones on a restart) and the teardown process. */
	"clone", "clone3", "fork", "vfork", "wait4", "waitid", "kill",
	"set_robust_list", "rseq", "sched_getaffinity", "sched_setaffinity",
	"prctl", "arch_prctl", "set_tid_address",
	/* Signal handling, limits, identity, randomness (hash seeds). */
	"rt_sigaction", "sigaltstack", "prlimit64", "getrlimit", "setrlimit",
	"getuid", "geteuid", "getgid", "getegid", "uname", "getrandom",
	NULL,
};

static const char *const vcpu_calls[] = {
	COMMON_CALLS,
	/* Device work done on the exiting vCPU: ioeventfds and irqfds set up
	 * when a driver starts a virtio device, disk I/O, console output. */
	"eventfd2", "io_uring_enter", "pread64", "pwrite64", "preadv",
	"pwritev", "fsync", "fdatasync", "fcntl", "poll", "ppoll", "getrandom",
	/* localtime_r (the RTC) reads /etc/localtime once. */
	"openat", "newfstatat", "fstat", "lseek",
	/* Its name, at start; its stack and arena, at its end. */
	"prctl", "set_robust_list", "rseq",
	NULL,
};

static const char *const teardown_calls[] = {
	/* teardown.c: keep the VM's fd, drop the rest, wait, close, exit. */
	"dup2", "dup3", "close_range", "close", "read", "exit_group", "exit",
	/* The SIGSYS report. */
	"write", "rt_sigreturn" SANITIZER_CALLS,
	NULL,
};

const char *const *const sandbox_rules[SANDBOX_KINDS] = {
	[SANDBOX_MAIN] = main_calls,
	[SANDBOX_VCPU] = vcpu_calls,
	[SANDBOX_TEARDOWN] = teardown_calls,
};
