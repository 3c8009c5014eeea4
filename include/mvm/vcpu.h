/*
 * vCPUs: one thread each, looping on KVM_RUN and dispatching exits to the
 * buses. Other threads never issue ioctls on a vCPU fd; they kick the vCPU
 * (a signal plus immediate_exit) and let it run the request itself.
 */
#ifndef MVM_VCPU_H
#define MVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "mvm/stop.h"

struct bus;
struct mvm_err;
struct boot_entry;
struct cpu_template;
enum host_vendor;

/* Signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

/* Exit counters by KVM_EXIT_* below this; the others are not counted. */
#define VCPU_EXIT_REASONS 64

/*
 * Firecracker's vcpu group: PIO and MMIO exits each way, the vCPU's
 * failures (whatever it ended the VM with as an error) and the kvmclock
 * notes KVM refused. Each vCPU has its own, bumped relaxed by its thread
 * alone (no cache line shared with the other vCPUs); the metrics writer
 * sums them (vcpu_counts_add).
 */
struct vcpu_counts {
	atomic_ulong io_in, io_out;
	atomic_ulong mmio_read, mmio_write;
	atomic_ulong failures;
	atomic_ulong kvmclock_ctrl_fails; /* KVM_KVMCLOCK_CTRL on resume */
};

/*
 * What a vCPU may use of the VM it belongs to, and nothing else: the KVM
 * fds, the CPUID it starts from, the machine's shape, the buses its
 * exits go to, the counters it bumps and a stop request. The VM (src/vm/
 * vm.c) fills one in once and hands it to every vcpu_create(); vCPUs never
 * see struct vm (docs/architecture.md, "Layers").
 */
struct vcpu_ctx {
	/* /dev/kvm and the VM; any thread. */
	int kvm_fd;
	int vm_fd;
	/* Bytes of a vCPU's struct kvm_run (KVM_GET_VCPU_MMAP_SIZE). */
	int vcpu_mmap_size;
	/* KVM_GET_SUPPORTED_CPUID, what each vCPU's CPUID is shaped from. */
	const struct kvm_cpuid2 *supported_cpuid;
	/* vCPUs of the VM (the topology in CPUID), VMX/SVM exposed or not. */
	unsigned nr_cpus;
	bool smt; /* two threads a core (vCPUs 2n and 2n+1 are siblings) */
	/* The CPU template applied to CPUID and MSRs; NULL: none. */
	const struct cpu_template *tmpl;
	bool nested;
	/* Where PIO and MMIO exits are dispatched; any thread: each locks. */
	struct bus *pio, *mmio;
	/*
	 * Counters bumped lock-free from vCPU threads: exits by reason
	 * (VCPU_EXIT_REASONS of them), accesses no bus device claimed.
	 */
	atomic_ulong *exits;
	atomic_ulong *pio_unclaimed;
	atomic_ulong *mmio_unclaimed;
	/* Set once the VM is stopping: every vCPU thread ends. */
	const atomic_bool *stopping;
	/* Ask the VM to stop (the first request wins), msg or NULL; any. */
	void (*request_stop)(struct vcpu_ctx *ctx, enum vm_stop_kind kind,
			     int status, const char *msg);
};

struct vcpu {
	struct vcpu_ctx *ctx;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	struct vcpu_counts counts;
	atomic_bool exit_thread;

	/* Requests from other threads, served between KVM_RUN calls. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool pause_req;
	bool paused;
	bool dead; /* the thread has ended: requests fail */
	void (*req_fn)(struct vcpu *v, void *arg);
	void *req_arg;
};

/*
 * Add v's counts to sums: io_in, io_out, mmio_read, mmio_write, failures,
 * kvmclock_ctrl_fails.
 */
#define VCPU_COUNTS 6
void vcpu_counts_add(struct vcpu *v, uint64_t sums[VCPU_COUNTS]);

int vcpu_create(struct vcpu_ctx *ctx, unsigned id, struct vcpu **out,
		struct mvm_err *err);
void vcpu_destroy(struct vcpu *v);
int vcpu_start(struct vcpu *v, struct mvm_err *err);
/*
 * Start the thread asked to park, as vcpu_pause asks, so that it never
 * enters KVM_RUN before vcpu_resume (a restored vCPU's state is loaded
 * first). It does not wait: vcpu_pause then returns once it has parked.
 */
int vcpu_start_paused(struct vcpu *v, struct mvm_err *err);
/* Make the thread leave KVM_RUN soon; safe from any thread. */
void vcpu_kick(struct vcpu *v);
/* Ask the thread to end, kick it and join it. */
void vcpu_join(struct vcpu *v);

/*
 * Run fn(v, arg) on v's own thread (state ioctls belong there) and wait for
 * it. Before the thread starts, fn runs on the caller. -ESRCH if the thread
 * has ended.
 */
int vcpu_run_on(struct vcpu *v, void (*fn)(struct vcpu *v, void *arg),
		void *arg);
/* Park the thread outside KVM_RUN and wait until it is parked; resume. */
int vcpu_pause(struct vcpu *v);
void vcpu_resume(struct vcpu *v);
/*
 * vcpu_pause in two halves, so that all of a VM's vCPUs are asked before
 * any is waited for: they park together, not one after the other.
 */
void vcpu_pause_ask(struct vcpu *v);
int vcpu_pause_wait(struct vcpu *v);

/* Install the kick signal's (empty) handler once per process. */
int vcpu_signals_init(struct mvm_err *err);

/* The CPU vendor named by a CPUID table's leaf 0 (cpuid.c). */
enum host_vendor vcpu_cpuid_vendor(const struct kvm_cpuid2 *c);
/* CPUID for vCPU id out of KVM's supported set (cpuid.c). */
int vcpu_set_cpuid(struct vcpu *v, struct mvm_err *err);
/* Boot vCPU registers for the loader's entry (regs.c). */
int vcpu_set_boot_regs(struct vcpu *v, const struct boot_entry *e,
		       struct mvm_err *err);
/* LAPIC LINT0 = ExtINT, LINT1 = NMI, as firmware leaves them (regs.c). */
int vcpu_set_lapic_lints(struct vcpu *v, struct mvm_err *err);

/* Handle one KVM exit; returns false when the thread must stop (exit.c). */
bool vcpu_handle_exit(struct vcpu *v);
/* Report a fatal exit with RIP and key registers, stopping the VM. */
void vcpu_fatal(struct vcpu *v, const char *reason);

/*
 * One-line texts for a vCPU stop caused by KVM (stop_text.c), so that the
 * line alone says what happened: "IOCTL failed: <strerror> (<ENAME>)", and
 * what EIO or ENOEXEC from KVM mean; an internal-error exit's kind,
 * suberror, instruction bytes and data words; a failed entry's hardware
 * reason, decoded for VMX and SVM, and the host CPU. Each writes at most
 * size bytes, NUL-terminated, and reads no more of run than KVM's
 * declared counts allow, bounded by the arrays' sizes.
 */
void vcpu_text_ioctl(const char *ioctl_name, int err, char *buf, size_t size);
void vcpu_text_internal_error(const struct kvm_run *run, char *buf,
			      size_t size);
void vcpu_text_fail_entry(const struct kvm_run *run, char *buf, size_t size);

#endif
