/*
 * The boot vCPU's initial state: flat segments from the boot GDT, and
 * either 32-bit protected mode (multiboot, PVH) or 64-bit long mode on the
 * identity map (Linux 64-bit boot protocol).
 */
#include <string.h>
#include <sys/ioctl.h>

#include "mvm/boot.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/vcpu.h"

#define CR0_PE 0x1ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code64 ? 0 : 1,
		.s = 1,
		.l = code64 ? 1 : 0,
		.g = 1,
	};
}

static void set_segments(struct kvm_sregs *s, bool long_mode)
{
	struct kvm_segment data = flat_seg(BOOT_GDT_DATA, 0x3, false);

	s->cs = long_mode ? flat_seg(BOOT_GDT_CODE64, 0xb, true)
			  : flat_seg(BOOT_GDT_CODE32, 0xb, false);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->gdt.base = LAYOUT_GDT;
	s->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	/* VM entry demands a usable TR even though nothing switches tasks. */
	s->tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb,
				      .present = 1 };
	s->ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2,
				       .present = 1 };
}

int vcpu_set_boot_regs(struct vcpu *v, const struct boot_entry *e,
		       struct mvm_err *err)
{
	bool lm = e->mode == BOOT_MODE_LONG64;
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_fpu fpu;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return mvm_fail(err, -errno, "vcpu %u: KVM_GET_SREGS: %s",
				v->id, strerror(errno));
	set_segments(&s, lm);
	s.cr0 = CR0_PE | CR0_ET | CR0_NE;
	s.cr4 = 0;
	s.efer = 0;
	if (lm) {
		s.cr0 |= CR0_PG;
		s.cr3 = LAYOUT_PML4;
		s.cr4 = CR4_PAE;
		s.efer = EFER_LME | EFER_LMA;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return mvm_fail(err, -errno, "vcpu %u: KVM_SET_SREGS: %s",
				v->id, strerror(errno));

	memset(&r, 0, sizeof(r));
	r.rflags = 0x2; /* bit 1 is reserved-one; interrupts off */
	r.rip = e->rip;
	r.rsp = e->rsp;
	r.rax = e->rax;
	r.rbx = e->rbx;
	r.rsi = e->rsi;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return mvm_fail(err, -errno, "vcpu %u: KVM_SET_REGS: %s",
				v->id, strerror(errno));

	/* The power-on x87/SSE control words, as firmware would leave them. */
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return mvm_fail(err, -errno, "vcpu %u: KVM_SET_FPU: %s",
				v->id, strerror(errno));
	return 0;
}

static void lvt_set_mode(struct kvm_lapic_state *l, int reg, uint32_t mode)
{
	uint32_t val;

	memcpy(&val, &l->regs[reg], sizeof(val));
	val = (val & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &val, sizeof(val));
}

int vcpu_set_lapic_lints(struct vcpu *v, struct mvm_err *err)
{
	struct kvm_lapic_state l;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return mvm_fail(err, -errno, "vcpu %u: KVM_GET_LAPIC: %s",
				v->id, strerror(errno));
	/* Legacy PIC interrupts reach the CPU through LINT0 until the OS
	 * programs the IOAPIC; LINT1 carries NMIs. */
	lvt_set_mode(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lvt_set_mode(&l, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0)
		return mvm_fail(err, -errno, "vcpu %u: KVM_SET_LAPIC: %s",
				v->id, strerror(errno));
	return 0;
}
