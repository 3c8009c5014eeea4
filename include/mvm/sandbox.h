/*
 * seccomp filters: one allow-list per kind of thread mvm runs, installed
 * before the guest runs. A call off the list ends mvm at once with one line
 * on stderr naming the call, and exit status MVM_EXIT_SECCOMP.
 *
 * Filters stack: a vCPU thread is created by the main thread after the main
 * filter is in force, so it may make only the calls both lists allow; the
 * teardown process is forked from the main thread likewise.
 */
#ifndef MVM_SANDBOX_H
#define MVM_SANDBOX_H

#include <stdbool.h>

struct mvm_err;

/* Exit status when a filter stops a call: Firecracker's for the same. */
#define MVM_EXIT_SECCOMP 148

enum sandbox_kind {
	SANDBOX_MAIN,     /* the event loop: API, devices, VM (re)builds */
	SANDBOX_VCPU,     /* a vCPU thread: KVM_RUN and its exits */
	SANDBOX_TEARDOWN, /* the process that closes a rebooted VM's fd */
	SANDBOX_KINDS
};

/*
 * Compile every kind's filter and install the SIGSYS handler that reports
 * a stopped call. No filter is in force yet. With enabled false (--no-seccomp)
 * nothing is built and sandbox_enter* do nothing.
 */
int sandbox_init(bool enabled, struct mvm_err *err);

/*
 * sandbox_init, then the main thread's filter, with exit_hook (see
 * sandbox_set_exit_hook) run should a filter end mvm: the front ends pass
 * console_crash_restore, which the core cannot name. Called after start-up
 * (files, the API socket, libmicrohttpd are open) and before the first VM
 * is built.
 */
int sandbox_start(bool enabled, void (*exit_hook)(void), struct mvm_err *err);

/* Put the calling thread under kind's filter. */
int sandbox_enter(enum sandbox_kind kind, struct mvm_err *err);

/*
 * The same from a child right after fork(): async-signal-safe, no message.
 * Returns 0 or -errno.
 */
int sandbox_enter_forked(enum sandbox_kind kind);

/*
 * Run before the SIGSYS report exits, from the signal handler: it must be
 * async-signal-safe (the console restores the terminal here).
 */
void sandbox_set_exit_hook(void (*fn)(void));

#endif
