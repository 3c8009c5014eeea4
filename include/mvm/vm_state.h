/*
 * The one path that stops a whole VM and takes its state, or puts a state
 * back into it: what snapshots, checkpoints and migration call (the files
 * and streams they write the state to are theirs). The state is a list
 * of nodes (include/mvm/device.h): one per device of the VM's registry
 * ("serial0", "irqchip", "virtio-blk:disk0", ...) and one per vCPU
 * ("vcpu0", ...: vcpu_state_encode()'s blob, include/mvm/vcpu_state.h),
 * and the VM's kvmclock (VM_CLOCK_NODE).
 * Guest memory is not in it: it is the caller's to copy.
 *
 * All four run on the event-loop thread (an API request, a timer), never
 * from a vCPU thread, and return 0 or a negative errno with a message.
 *
 *   vm_pause_all(vm)            the VM stands still
 *   vm_save_all(vm, &state)     state = every device + every vCPU
 *   vm_resume_all(vm)           ... or, into a VM built from the same
 *   vm_load_all(vm, &state)         configuration and paused, load, then
 *   vm_resume_all(vm)               resume
 */
#ifndef MVM_VM_STATE_H
#define MVM_VM_STATE_H

#include <stdbool.h>

/*
 * The VM-wide node beside the devices' and vCPUs': the kvmclock (KVM's
 * struct kvm_clock_data, as KVM_GET_CLOCK gave it).
 */
#define VM_CLOCK_NODE "kvmclock"
#define VM_CLOCK_VERSION 1u

struct dev_state_list;
struct mvm_err;
struct vm;

/*
 * Park every vCPU outside KVM_RUN, each having finished the instruction
 * it exited in the middle of (vcpu_finish_exit, on its own thread before
 * it parks), then pause every device in
 * the order they were built (include/mvm/device.h: nothing in flight,
 * every completion delivered to the guest). While devices drain, the loop runs
 * for their completions with the API's watches held. Pausing a paused VM
 * does nothing. On failure what was paused resumes: -ESRCH when a vCPU
 * has stopped, -ETIMEDOUT when a device's I/O does not finish, -EBUSY
 * when called while a pause is under way (from a callback it dispatched).
 */
int vm_pause_all(struct vm *vm, struct mvm_err *err);
/*
 * The devices resume, last first, then the vCPUs, whose kvmclocks first
 * tell the guest that the VM stood still (vcpu_kvmclock_stopped).
 */
int vm_resume_all(struct vm *vm, struct mvm_err *err);
/*
 * The state of a paused VM into out (empty; the caller frees it with
 * dev_state_list_free, which a failure has done already): the vCPUs,
 * then the devices.
 */
int vm_save_all(struct vm *vm, struct dev_state_list *out,
		struct mvm_err *err);
/*
 * Put in back into a paused VM built from the same configuration (or
 * this VM, in place): one node per device and vCPU, no other, each
 * checked by its owner. The devices load first (the irqchip last of
 * them) and then go live (activate), then the vCPUs; then the irqchip
 * once more, because KVM's PIT kept counting meanwhile and a tick it
 * raised into a LAPIC that was then overwritten would be lost for good
 * (a one-shot PIT never fires again). A refusal may leave the VM half
 * loaded: the caller discards it (the lifecycle's restore_failed).
 */
int vm_load_all(struct vm *vm, const struct dev_state_list *in,
		struct mvm_err *err);

/* How a load treats what is not the guest's own state. */
struct vm_load_opts {
	/*
	 * Advance the kvmclock by the wall-clock time since the save
	 * (Firecracker's clock_realtime); false: it goes on from where it
	 * stood, as if no time had passed.
	 */
	bool clock_realtime;
};
/* vm_load_all with opts (NULL: the defaults). */
int vm_load_all_opts(struct vm *vm, const struct dev_state_list *in,
		     const struct vm_load_opts *opts, struct mvm_err *err);

#endif
