/*
 * struct vm owns everything of one virtual machine: KVM fds, guest memory,
 * the I/O buses, the vCPUs and the platform devices. Nothing lives in
 * globals, so tests can build VMs in-process.
 */
#ifndef MVM_VM_H
#define MVM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mvm/boot.h"
#include "mvm/bus.h"
#include "mvm/dev_ctx.h"
#include "mvm/device.h"
#include "mvm/loop.h"
#include "mvm/mem.h"
#include "mvm/nested.h"
#include "mvm/vcpu.h"
#include "mvm/vm_config.h"

struct mvm_err;
struct vcpu;
struct serial;
struct i8042;
struct pm;
struct rtc;
struct irqchip;
struct virtio_mem_status;

struct nested_query;   /* per-vCPU sources (src/vm/nested_query.c) */
struct nested_monitor; /* the change logger (src/vm/nested_monitor.c) */

struct vm_nested {
	struct vm_nested_facts facts;
	struct nested_query *q;
	struct nested_monitor *mon;
};

/* Counters read by the metrics writer; updated lock-free by vCPUs. */
#define VM_METRICS_EXIT_REASONS VCPU_EXIT_REASONS
struct vm_metrics {
	atomic_ulong exits[VM_METRICS_EXIT_REASONS]; /* by KVM_EXIT_* */
	atomic_ulong pio_unclaimed;
	atomic_ulong mmio_unclaimed;
};

struct vm {
	struct vm_config cfg;
	int kvm_fd;
	int vm_fd;
	int vcpu_mmap_size;
	struct kvm_cpuid2 *supported_cpuid;

	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct loop *loop;
	struct boot_entry entry;
	struct dev_ctx dev_ctx; /* what the devices see of all this */
	struct vcpu_ctx vcpu_ctx; /* and what the vCPUs see */
	struct cpu_template cpu_tmpl; /* the template in force, if any */
	bool cpu_tmpl_on;

	struct vcpu **vcpus;
	unsigned nr_vcpus;

	struct serial *serial;
	struct i8042 *i8042;
	struct pm *pm;
	struct rtc *rtc;
	struct irqchip *irqchip;
	/* Every device above and the virtio ones, as built (vm_state.h). */
	struct dev_registry devices;
	struct vm_metrics metrics;
	struct vm_nested nested;
	bool paused;  /* the vCPUs are parked */
	bool pausing; /* vm_pause_all is draining the devices */
	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is on: a collect clears (dirty.c) */
	bool dirty_manual;

	/* Stop requests arrive from vCPU threads; the first one wins. */
	pthread_mutex_t stop_lock;
	atomic_bool stopping;
	enum vm_stop_kind stop_kind;
	int stop_status;
	char stop_msg[VM_STOP_MSG_MAX];
	int stop_efd;
	struct loop_watch stop_watch;
	bool quiescing; /* vm_quiesce() has run */
};

/*
 * Can this host expose VMX/SVM to a guest (and save and restore what it
 * does with them)? 0, or -EOPNOTSUPP with the host probe's reason.
 */
int vm_check_nested_host(struct mvm_err *err);
/*
 * Hotpluggable memory (src/vm/hotplug.c). Its region starts at
 * vm_hotplug_gpa: above RAM, on a 1 GiB boundary (the block's, if
 * larger) above 4 GiB. vm_hotplug_problem says why c cannot be, or NULL:
 * block_mib a power of two >= 2, slot_mib >= 128 and whole blocks,
 * total_mib whole slots, requested_mib whole blocks up to total_mib,
 * and, with mem_mib (0: not known yet), the region below the 64-bit PCI
 * window; *field names the culprit (vm_hotplug_field_name: the API's
 * name for it), and the message does not (each front end puts its own
 * name first); buf holds the message when it needs numbers.
 */
enum vm_hotplug_field {
	VM_HOTPLUG_TOTAL,
	VM_HOTPLUG_SLOT,
	VM_HOTPLUG_BLOCK,
	VM_HOTPLUG_REQUESTED,
};
uint64_t vm_hotplug_gpa(uint64_t mem_mib, uint64_t block_mib);
const char *vm_hotplug_problem(const struct mem_hotplug_config *c,
			       uint64_t mem_mib, enum vm_hotplug_field *field,
			       char *buf, size_t cap);
const char *vm_hotplug_field_name(enum vm_hotplug_field f);
/*
 * Add c's region to gm, the memory of a machine with mem_mib MiB of RAM:
 * at vm_hotplug_gpa, reserved but not populated (gm_add_hotplug; pages
 * as the RAM's). Nothing when c->total_mib is 0. A boot and a live
 * migration's destination make the region so; c must have passed
 * vm_hotplug_problem.
 */
int vm_hotplug_add(struct guest_mem *gm, uint64_t mem_mib,
		   enum gm_pages pages, const struct mem_hotplug_config *c,
		   struct mvm_err *err);

/*
 * Dynamic memory's rules (src/vm/dynmem_rules.c), why d cannot be, or
 * NULL: min_mib at least DYNMEM_MIN_FLOOR_MIB and at most max_mib,
 * buffer_percent within DYNMEM_BUFFER_MIN..MAX; with mem_mib (0: not
 * known yet), min_mib <= mem_mib <= max_mib; with b and h (NULL: not
 * known yet, the VMM may still add them), a balloon with statistics (the
 * controller's eyes) and hotpluggable memory that reaches max_mib above
 * mem_mib. *field names the culprit (vm_dynmem_field_name: the API's
 * name for it); buf holds the message when it needs numbers.
 */
enum vm_dynmem_field {
	VM_DYNMEM_MIN,
	VM_DYNMEM_MAX,
	VM_DYNMEM_BUFFER,
	VM_DYNMEM_BALLOON,
};
const char *vm_dynmem_problem(const struct dynmem_config *d,
			      uint64_t mem_mib, const struct balloon_config *b,
			      const struct mem_hotplug_config *h,
			      enum vm_dynmem_field *field, char *buf,
			      size_t cap);
const char *vm_dynmem_field_name(enum vm_dynmem_field f);

/*
 * The CPUID a guest of this host sees (*out malloc'd, the caller frees):
 * KVM_GET_SUPPORTED_CPUID as a probe vCPU reports it back once set.
 */
int vm_host_cpuid(struct kvm_cpuid2 **out, struct mvm_err *err);
/* Can this host's KVM save and restore nested state (KVM_CAP_NESTED_STATE)? */
bool vm_host_nested_state(void);
/* Validate cfg against the host before anything is allocated. */
int vm_check_config(const struct vm_config *cfg, struct mvm_err *err);
/* Build the VM: memory, kernel, ACPI, devices and vCPUs (not yet running). */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct loop *loop,
	      struct mvm_err *err);
/* Start the vCPU threads. */
int vm_start(struct vm *vm, struct mvm_err *err);
/*
 * Start them parked (a VM built from a snapshot: cfg.mem_source), with
 * vm->paused set: vm_pause_all then pauses the devices, vm_load_all puts
 * the state in, and vm_resume_all runs the guest.
 */
int vm_start_paused(struct vm *vm, struct mvm_err *err);
/*
 * Ask the VM to stop, from any thread. The first request decides the kind
 * and status; the loop is woken and stops. msg may be NULL.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_kind kind, int status,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Teardown, first half (loop thread, outside loop callbacks): end the
 * vCPUs and ask every device to stop its I/O. The VM's owner then runs
 * its loop until vm_quiesced(): once the last device has quiesced, the VM
 * stops the loop, so that the owner looks. Nothing here runs the loop.
 */
void vm_quiesce(struct vm *vm);
bool vm_quiesced(const struct vm *vm);
/*
 * Second half: free everything (vm_quiesce first, if it has not run: a
 * partly built VM's devices have nothing in flight). KVM has destroyed
 * the VM when this returns.
 */
void vm_destroy(struct vm *vm);
/*
 * The same, but KVM's own teardown of the VM (15-25 ms with an in-kernel
 * irqchip) runs in a child process, for a reboot to go on meanwhile.
 * Returns its pid (0 if none), which vm_teardown_wait() must reap.
 */
pid_t vm_destroy_async(struct vm *vm);
/* Wait for such a child, if *pid names one; *pid becomes 0. */
void vm_teardown_wait(pid_t *pid);

/*
 * Park every vCPU outside KVM_RUN (returns once all are parked), and let
 * them go: the vCPUs only. The whole VM, devices included, pauses with
 * vm_pause_all() (include/mvm/vm_state.h).
 */
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);

/*
 * A live migration's disk handover on the paused VM (virtio_blk_handover):
 * release = flush and unlock every disk (and fsync every pmem file),
 * !release = lock them again.
 */
int vm_disks_handover(struct vm *vm, bool release, struct mvm_err *err);
/*
 * Changes to a running VM's devices (API PATCH calls), on the loop thread.
 * Each returns 0, or a negative errno with a message; -ENOTSUP where the
 * device side cannot do it (yet).
 */
int vm_drive_swap(struct vm *vm, const char *id, const char *path,
		  struct mvm_err *err);
/* New limiter buckets of a disk or NIC (NULL: kept). */
int vm_drive_rate_limit(struct vm *vm, const char *id,
			const struct token_bucket *bandwidth,
			const struct token_bucket *ops, struct mvm_err *err);
int vm_net_rate_limit(struct vm *vm, const char *id,
		      const struct token_bucket *rx_bandwidth,
		      const struct token_bucket *rx_ops,
		      const struct token_bucket *tx_bandwidth,
		      const struct token_bucket *tx_ops, struct mvm_err *err);

/*
 * PATCH /hotplug/memory: ask the guest for requested bytes of its
 * virtio-mem region (virtio_mem_resize); GET: the device's state.
 * -ENOENT when the VM has none.
 */
int vm_mem_resize(struct vm *vm, uint64_t requested, struct mvm_err *err);
int vm_mem_status(struct vm *vm, struct virtio_mem_status *st,
		  struct mvm_err *err);

/*
 * What the guest does with nesting right now, for policy checks: L1 runs a
 * hypervisor (VMXON / EFER.SVME), an L2 guest is on a vCPU. Queried fresh
 * from every vCPU (src/vm/nested_query.c; vm_nested_query() has the rest of
 * the facts). Both false when nesting is not exposed.
 */
void vm_nested_facts(struct vm *vm, bool *l1_hypervisor_active,
		     bool *l2_running);

/*
 * Dirty page tracking, for Diff snapshots (src/vm/dirty.c). Start: every
 * memory slot logs the guest's writes (KVM_MEM_LOG_DIRTY_PAGES), and
 * guest RAM the VMM's own (gm_dirty_track).
 */
int vm_dirty_start(struct vm *vm, struct mvm_err *err);
/*
 * The pages written since vm_dirty_start or the last collect, per
 * region: out[i] (calloc'd here; free each with free(), NULL past
 * vm->mem.nr) is slot i's KVM_GET_DIRTY_LOG ORed with gm_dirty_take(i),
 * and both logs start over. On a paused VM. -EINVAL if not tracking.
 */
int vm_dirty_collect(struct vm *vm, unsigned long *out[MEM_MAX_REGIONS],
		     struct mvm_err *err);

/* Host limits, for validation and messages. */
int vm_host_max_vcpus(int kvm_fd);
uint64_t vm_host_mem_mib(void);
int vm_open_kvm(struct mvm_err *err);

#endif
