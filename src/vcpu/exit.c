/*
 * KVM exit dispatch. PIO and MMIO go to the VM's buses; everything that
 * ends the VM is turned into one stop request with a reason a person can
 * act on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/bus.h"
#include "mvm/vcpu.h"

/*
 * The VM's stop request, from its vcpu_ctx: the vCPUs sit in a layer
 * below the VM's (docs/architecture.md) and cannot call vm_request_stop()
 * themselves.
 */
static void request_stop(struct vcpu *v, enum vm_stop_kind kind, int status,
			 const char *msg)
{
	v->ctx->request_stop(v->ctx, kind, status, msg);
}

static void count(atomic_ulong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	count(write ? &v->counts.io_out : &v->counts.io_in);

	/* String I/O arrives as count back-to-back elements. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (bus_dispatch(v->ctx->pio, run->io.port, data, run->io.size,
				 write))
			continue;
		atomic_fetch_add(v->ctx->pio_unclaimed, 1);
		if (!write)
			memset(data, 0xff, run->io.size); /* open bus */
	}
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;

	count(run->mmio.is_write ? &v->counts.mmio_write :
				   &v->counts.mmio_read);
	if (len > sizeof(run->mmio.data))
		len = sizeof(run->mmio.data);
	if (bus_dispatch(v->ctx->mmio, run->mmio.phys_addr, run->mmio.data,
			 len, run->mmio.is_write))
		return;
	atomic_fetch_add(v->ctx->mmio_unclaimed, 1);
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
}

void vcpu_counts_add(struct vcpu *v, uint64_t sums[VCPU_COUNTS])
{
	atomic_ulong *c[VCPU_COUNTS] = { &v->counts.io_in, &v->counts.io_out,
					 &v->counts.mmio_read,
					 &v->counts.mmio_write,
					 &v->counts.failures,
					 &v->counts.kvmclock_ctrl_fails };

	for (int i = 0; i < VCPU_COUNTS; i++)
		sums[i] += atomic_load_explicit(c[i], memory_order_relaxed);
}

void vcpu_fatal(struct vcpu *v, const char *reason)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	char regs[512];
	char msg[VM_STOP_MSG_MAX];
	const char *which = "KVM_GET_REGS";

	count(&v->counts.failures);
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0 &&
	    (which = "KVM_GET_SREGS", ioctl(v->fd, KVM_GET_SREGS, &s) == 0)) {
		snprintf(regs, sizeof(regs),
			 "RIP=%#llx RSP=%#llx RAX=%#llx RBX=%#llx RCX=%#llx "
			 "RDX=%#llx RFLAGS=%#llx CS=%#x CR0=%#llx CR2=%#llx "
			 "CR3=%#llx CR4=%#llx EFER=%#llx",
			 r.rip, r.rsp, r.rax, r.rbx, r.rcx, r.rdx, r.rflags,
			 s.cs.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	} else {
		/* Which read failed and how: EIO here too means a dead VM. */
		int e = errno;

		snprintf(regs, sizeof(regs), "registers unavailable (%s: %s)",
			 which, strerror(e));
	}
	snprintf(msg, sizeof(msg), "vcpu %u: %s: %s", v->id, reason, regs);
	request_stop(v, VM_STOP_ERROR, 2, msg);
}

static void internal_error(struct vcpu *v)
{
	char why[512];

	vcpu_text_internal_error(v->run, why, sizeof(why));
	vcpu_fatal(v, why);
}

static bool system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		request_stop(v, VM_STOP_POWEROFF, 0, NULL);
		return false;
	case KVM_SYSTEM_EVENT_RESET:
		request_stop(v, VM_STOP_REBOOT, 0, NULL);
		return false;
	default:
		vcpu_fatal(v, "guest crash reported by KVM");
		return false;
	}
}

bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[96];

	if (run->exit_reason < VCPU_EXIT_REASONS)
		atomic_fetch_add(&v->ctx->exits[run->exit_reason], 1);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fatal(v, "triple fault (guest shutdown)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		return system_event(v);
	case KVM_EXIT_INTERNAL_ERROR:
		internal_error(v);
		return false;
	case KVM_EXIT_FAIL_ENTRY: {
		char entry[256];

		vcpu_text_fail_entry(run, entry, sizeof(entry));
		vcpu_fatal(v, entry);
		return false;
	}
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; a HLT exit means none. */
		vcpu_fatal(v, "HLT exit without an in-kernel LAPIC");
		return false;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit reason %u",
			 run->exit_reason);
		vcpu_fatal(v, why);
		return false;
	}
}
