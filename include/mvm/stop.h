/*
 * Why a VM stopped, which decides mvm's exit status. Plain data shared by
 * every layer that can ask the VM to stop (devices through
 * dev_ctx.request_stop, vCPUs through vcpu_ctx.request_stop) and the ones
 * above that act on it; it belongs to core, the lowest of them.
 */
#ifndef MVM_STOP_H
#define MVM_STOP_H

/* The longest stop message, its NUL included. */
#define VM_STOP_MSG_MAX 1024

enum vm_stop_kind {
	VM_STOP_NONE,
	VM_STOP_POWEROFF,   /* ACPI S5 */
	VM_STOP_REBOOT,     /* i8042 reset, 0xCF9, KVM system reset */
	VM_STOP_DEBUG_EXIT, /* isa-debug-exit write */
	VM_STOP_QUIT,       /* Ctrl-A x on the console */
	VM_STOP_SIGNAL,     /* SIGTERM/SIGINT/SIGHUP to mvm */
	VM_STOP_ERROR,      /* triple fault, KVM error, unexpected exit */
	VM_STOP_MIGRATED,   /* it runs on elsewhere: a live migration ended */
};

#endif
