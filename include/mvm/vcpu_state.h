/*
 * A vCPU's complete architectural state, nested state included: what a
 * snapshot or a migration stream carries for each vCPU.
 *
 * Saved and restored on the vCPU's own thread (vcpu_run_on), in the order
 * Firecracker and Cloud Hypervisor use, because later steps depend on
 * earlier ones: CPUID, sregs (EFER), MSRs, regs, FPU/XSAVE/XCRs, LAPIC,
 * the TSC deadline (the LAPIC write cancels it), events, mp_state, debug
 * registers, and the nested state last (KVM checks it against EFER.SVME /
 * VMXON permissions and the registers already set).
 *
 * The blob is self-describing: a header, then tagged, length-prefixed
 * sections. It may come from a file or a network peer, so decoding checks
 * every length and refuses what KVM would never produce.
 *
 * Blob layout (integers little-endian, as on every x86-64 host):
 *   header   "MVMVCPU\0", u32 version (1), u32 header size (24),
 *            u32 total size, u32 section count
 *   section  u32 tag, u32 payload length, payload, zero padding to 8 bytes
 * Payloads are KVM's own structs from <linux/kvm.h> (sizes are asserted at
 * build time; a change of any of them means a new version), except:
 *   CPUID    u32 nent, u32 0, nent x struct kvm_cpuid_entry2
 *   MSRS     u32 n, u32 0, n x struct kvm_msr_entry
 *   MP_STATE u32
 *   XSAVE    KVM's XSAVE area, as long as KVM_CAP_XSAVE2 says (>= 4096)
 *   NESTED   struct kvm_nested_state with its data, header.size bytes
 */
#ifndef MVM_VCPU_STATE_H
#define MVM_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vcpu;
struct mvm_err;

#define VCPU_STATE_MAGIC "MVMVCPU"  /* 8 bytes with its NUL */
#define VCPU_STATE_VERSION 1u
#define VCPU_STATE_HEADER_SIZE 24u

enum vcpu_state_tag {
	VCPU_STATE_CPUID = 1,
	VCPU_STATE_SREGS,
	VCPU_STATE_MSRS,
	VCPU_STATE_REGS,
	VCPU_STATE_FPU,
	VCPU_STATE_XSAVE,
	VCPU_STATE_XCRS,
	VCPU_STATE_LAPIC,
	VCPU_STATE_EVENTS,
	VCPU_STATE_MP_STATE,
	VCPU_STATE_DEBUGREGS,
	VCPU_STATE_NESTED,
	VCPU_STATE_TAG_MAX = VCPU_STATE_NESTED,
};

/* Limits a decoder enforces; KVM's own are the same or lower. */
#define VCPU_STATE_MAX_CPUID 256 /* KVM_MAX_CPUID_ENTRIES */
#define VCPU_STATE_MAX_MSRS 256
#define VCPU_STATE_MAX_XSAVE (1u << 20)
#define VCPU_STATE_MAX_NESTED (64u << 10)

struct vcpu_state {
	struct kvm_cpuid2 *cpuid; /* owned */
	struct kvm_sregs sregs;
	struct kvm_msrs *msrs;    /* owned */
	struct kvm_regs regs;
	bool have_fpu;
	struct kvm_fpu fpu;
	void *xsave;              /* owned; NULL: KVM has no XSAVE */
	uint32_t xsave_len;
	bool have_xcrs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	bool have_debugregs;
	struct kvm_debugregs debugregs;
	void *nested;             /* owned; NULL: no nested state */
	uint32_t nested_len;
};

/* Free what st owns and zero it. Safe on a zeroed or half-filled st. */
void vcpu_state_free(struct vcpu_state *st);

/* Serialise st into a new buffer (*buf, *len; the caller frees it). */
int vcpu_state_encode(const struct vcpu_state *st, void **buf, size_t *len,
		      struct mvm_err *err);
/*
 * Parse an untrusted blob into st (which the caller later frees with
 * vcpu_state_free, also after a failure). Structural checks only: whether
 * KVM accepts the values is for vcpu_state_restore to find out.
 */
int vcpu_state_decode(const void *buf, size_t len, struct vcpu_state *st,
		      struct mvm_err *err);

/*
 * Let KVM finish the instruction v exited in the middle of (a port or
 * MMIO access it needs KVM_RUN again for), serving any further exit it
 * makes, without running the guest on: then no device access is half
 * done. On v's own thread: every vCPU does it before it parks for a
 * pause (src/vcpu/vcpu.c), and save and restore below do it first.
 */
int vcpu_finish_exit(struct vcpu *v, struct mvm_err *err);

/*
 * KVM ioctls; call on v's own thread (vcpu_run_on) or before it starts.
 * Save first completes any exit the guest is in the middle of (a KVM_RUN
 * with immediate_exit, as api.rst asks before reading state).
 */
int vcpu_state_save(struct vcpu *v, struct vcpu_state *st,
		    struct mvm_err *err);
int vcpu_state_restore(struct vcpu *v, const struct vcpu_state *st,
		       struct mvm_err *err);

/*
 * Tell the guest the VM stood still (KVM_KVMCLOCK_CTRL sets kvmclock's
 * PVCLOCK_GUEST_STOPPED): Linux then takes the time its clock jumped on
 * resuming (a long pause, a restore with clock_realtime) for no soft
 * lockup or RCU stall of its own. A guest that has not turned kvmclock on
 * has nothing to be told: 0. On v's own thread, while it is parked.
 */
int vcpu_kvmclock_stopped(struct vcpu *v, struct mvm_err *err);
/*
 * The CPUID v runs with (KVM_GET_CPUID2), read on its own thread: *out
 * is malloc'd, the caller frees it. Any thread but v's.
 */
int vcpu_get_cpuid(struct vcpu *v, struct kvm_cpuid2 **out,
		   struct mvm_err *err);

#endif
