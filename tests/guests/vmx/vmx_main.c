/*
 * bz_vmx: a tiny VMX hypervisor, so that a VMM's guest can be made a
 * hypervisor on an Intel host and the VMM's view of that (nested state,
 * policy) can be checked. See tests/guests/README.md ("bz_vmx").
 *
 * Without VMX in CPUID it shows that VMX is really off: setting CR4.VMXE
 * must fault and VMXON must raise #UD. With VMX it turns VMX on, builds a
 * VMCS with EPT for a nested guest of a few real-mode instructions
 * (CPUID, OUT, HLT in a loop), and runs it, handling each exit and
 * printing progress, until COM1 brings 'q': then VMXOFF, and it idles
 * until 'x' ends the machine.
 */
#include "../lib/bootinfo.h"
#include "../lib/cmdline.h"
#include "../lib/cpuid.h"
#include "../lib/io.h"
#include "../lib/palloc.h"
#include "../lib/pit.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/uart.h"
#include "vmx_cpu.h"

#define VEC_UD 6
#define CR0_PE (1ul << 0)
#define CR0_ET (1ul << 4)
#define CR0_NE (1ul << 5)
#define CR0_PG (1ul << 31)
#define FC_LOCKED (1ull << 0)
#define FC_VMXON_OUTSIDE_SMX (1ull << 2)
#define EPT_RWX 7ull
#define EPT_MEMTYPE_WB 6ull

/* Where the nested guest's code sits in its physical memory, and the port. */
#define L3_CODE_GPA 0x1000
#define L3_PORT 0x80

/*
 * The nested guest, 16-bit real mode at L3_CODE_GPA:
 *   xor eax, eax; cpuid; out 0x80, al; hlt; jmp back to the start.
 * The hypervisor answers CPUID with the round number in EAX, so the OUT
 * that follows carries it back: the exit's AL proves that registers go
 * both ways.
 */
static const uint8_t l3_code[] = {
	0x66, 0x31, 0xc0, 0x0f, 0xa2, 0xe6, L3_PORT, 0xf4, 0xeb, 0xf6,
};

static inline unsigned long read_cr4(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline unsigned long read_cr3(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static uint64_t pa(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* A control value the CPU accepts, or false when `want` is not allowed. */
static bool control(const char *name, uint32_t msr, uint32_t want,
		    uint32_t *out)
{
	uint64_t caps = rdmsr(msr);
	uint32_t v = (want | (uint32_t)caps) & (uint32_t)(caps >> 32);

	*out = v;
	return check(name, (v & want) == want,
		     "MSR 0x%x allows 0x%x, wanted 0x%x", msr,
		     (uint32_t)(caps >> 32), want);
}

/* Without VMX: CR4.VMXE must not stick and VMXON must raise #UD. */
static NORETURN void vmx_absent(void)
{
	int cr4_fault = vmx_try_write_cr4(read_cr4() | CR4_VMXE);
	uint64_t flags = 0;
	void *region = palloc_page();
	int vmxon_fault;

	kprintf("vmx: cr4.vmxe fault=%d\n", cr4_fault);
	check("cr4-vmxe", cr4_fault >= 0 || !(read_cr4() & CR4_VMXE),
	      "CR4.VMXE set without VMX in CPUID");
	vmxon_fault = vmx_try_vmxon(pa(region), &flags);
	kprintf("vmx: vmxon fault=%d\n", vmxon_fault);
	check("vmxon-ud", vmxon_fault == VEC_UD, "VMXON raised %d, not #UD",
	      vmxon_fault);
	report_finish();
}

/* VMXON with the fixed CR0/CR4 bits; false (reported) when it fails. */
static bool vmx_on(uint32_t revision)
{
	uint32_t *region = palloc_page();
	uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
	unsigned long cr0, cr4;
	uint64_t flags = 0;
	int fault;

	kprintf("vmx: feature_control=0x%llx\n", (unsigned long long)fc);
	if (!check("feature-control",
		   (fc & (FC_LOCKED | FC_VMXON_OUTSIDE_SMX)) ==
			   (FC_LOCKED | FC_VMXON_OUTSIDE_SMX),
		   "IA32_FEATURE_CONTROL 0x%llx: not locked with VMXON allowed",
		   (unsigned long long)fc))
		return false;
	cr0 = (read_cr0() | rdmsr(MSR_VMX_CR0_FIXED0)) &
	      rdmsr(MSR_VMX_CR0_FIXED1);
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	cr4 = (read_cr4() | CR4_VMXE | rdmsr(MSR_VMX_CR4_FIXED0)) &
	      rdmsr(MSR_VMX_CR4_FIXED1);
	fault = vmx_try_write_cr4(cr4);
	if (!check("cr4-vmxe", fault < 0, "CR4 0x%lx raised %d", cr4, fault))
		return false;
	region[0] = revision;
	fault = vmx_try_vmxon(pa(region), &flags);
	if (!check("vmxon", fault < 0 && !(flags & 0x41),
		   "VMXON raised %d, rflags 0x%llx", fault,
		   (unsigned long long)flags))
		return false;
	kprintf("vmx: vmxon ok\n");
	return true;
}

/* EPT for the nested guest: its first 2 MiB, page by page, only two pages. */
static uint64_t ept_build(uint64_t memtype)
{
	uint64_t *pml4 = palloc_page(), *pdpt = palloc_page();
	uint64_t *pd = palloc_page(), *pt = palloc_page();
	uint8_t *code = palloc_page(), *low = palloc_page();
	unsigned i;

	for (i = 0; i < sizeof(l3_code); i++)
		code[i] = l3_code[i];
	pml4[0] = pa(pdpt) | EPT_RWX;
	pdpt[0] = pa(pd) | EPT_RWX;
	pd[0] = pa(pt) | EPT_RWX;
	pt[0] = pa(low) | EPT_RWX | memtype << 3;
	pt[L3_CODE_GPA >> 12] = pa(code) | EPT_RWX | memtype << 3;
	/* Walk length 4 (3 in bits 5:3), the paging structures' type. */
	return pa(pml4) | 3 << 3 | memtype;
}

static bool vmcs_controls(bool true_msrs, uint64_t eptp)
{
	uint32_t pin, proc, proc2, exit_c, entry;
	bool ok = true;

	ok &= control("pin-controls",
		      true_msrs ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED, 0,
		      &pin);
	ok &= control("proc-controls",
		      true_msrs ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED,
		      PROC_HLT_EXITING | PROC_UNCOND_IO_EXITING |
			      PROC_SECONDARY,
		      &proc);
	ok &= control("proc-controls2", MSR_VMX_PROCBASED2,
		      PROC2_EPT | PROC2_UNRESTRICTED, &proc2);
	ok &= control("exit-controls",
		      true_msrs ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT,
		      EXIT_HOST_64BIT, &exit_c);
	ok &= control("entry-controls",
		      true_msrs ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY, 0,
		      &entry);
	if (!ok)
		return false;
	ok &= vmx_vmwrite(PIN_CONTROLS, pin);
	ok &= vmx_vmwrite(PROC_CONTROLS, proc);
	ok &= vmx_vmwrite(PROC_CONTROLS2, proc2);
	ok &= vmx_vmwrite(EXIT_CONTROLS, exit_c);
	ok &= vmx_vmwrite(ENTRY_CONTROLS, entry);
	ok &= vmx_vmwrite(EXCEPTION_BITMAP, 0);
	ok &= vmx_vmwrite(CR3_TARGET_COUNT, 0);
	ok &= vmx_vmwrite(EXIT_MSR_STORE_COUNT, 0);
	ok &= vmx_vmwrite(EXIT_MSR_LOAD_COUNT, 0);
	ok &= vmx_vmwrite(ENTRY_MSR_LOAD_COUNT, 0);
	ok &= vmx_vmwrite(ENTRY_INTR_INFO, 0);
	ok &= vmx_vmwrite(EPT_POINTER, eptp);
	ok &= vmx_vmwrite(VMCS_LINK_POINTER, ~0ull);
	return check("vmcs-controls", ok, "a VMWRITE failed");
}

/* The host: this kernel as it runs now, with its own GDT, IDT and TSS. */
static bool vmcs_host(void)
{
	bool ok = true;
	unsigned i;

	ok &= vmx_vmwrite(HOST_CR0, read_cr0());
	ok &= vmx_vmwrite(HOST_CR3, read_cr3());
	ok &= vmx_vmwrite(HOST_CR4, read_cr4());
	for (i = 0; i < 6; i++)
		ok &= vmx_vmwrite(HOST_ES_SELECTOR + 2 * i,
				  i == 1 ? SEL_CODE : SEL_DATA);
	ok &= vmx_vmwrite(HOST_ES_SELECTOR + 12, SEL_TSS);
	ok &= vmx_vmwrite(HOST_FS_BASE, 0);
	ok &= vmx_vmwrite(HOST_GS_BASE, 0);
	ok &= vmx_vmwrite(HOST_TR_BASE, vmx_tss_base());
	ok &= vmx_vmwrite(HOST_GDTR_BASE, vmx_gdt_base());
	ok &= vmx_vmwrite(HOST_IDTR_BASE, vmx_idt_base());
	ok &= vmx_vmwrite(HOST_SYSENTER_CS, 0);
	ok &= vmx_vmwrite(HOST_SYSENTER_ESP, 0);
	ok &= vmx_vmwrite(HOST_SYSENTER_EIP, 0);
	return check("vmcs-host", ok, "a VMWRITE failed");
}

/* The nested guest: real mode (unrestricted guest), at L3_CODE_GPA. */
static bool vmcs_guest(void)
{
	uint64_t fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
	uint64_t fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
	uint64_t cr0 = ((fixed0 & ~(CR0_PE | CR0_PG)) | CR0_NE | CR0_ET) &
		       fixed1;
	uint64_t cr4 = rdmsr(MSR_VMX_CR4_FIXED0) & rdmsr(MSR_VMX_CR4_FIXED1);
	bool ok = true;
	unsigned i;

	ok &= vmx_vmwrite(GUEST_CR0, cr0);
	ok &= vmx_vmwrite(GUEST_CR3, 0);
	ok &= vmx_vmwrite(GUEST_CR4, cr4);
	/* ES, CS, SS, DS, FS, GS, LDTR, TR; then GDTR and IDTR. */
	for (i = 0; i < 8; i++) {
		uint32_t ar = i == 1 ? 0x9b : 0x93;

		if (i == 6)
			ar = 0x82; /* LDT */
		if (i == 7)
			ar = 0x8b; /* busy 16-bit TSS */
		ok &= vmx_vmwrite(GUEST_ES_SELECTOR + 2 * i, 0);
		ok &= vmx_vmwrite(GUEST_ES_BASE + 2 * i, 0);
		ok &= vmx_vmwrite(GUEST_ES_LIMIT + 2 * i, 0xffff);
		ok &= vmx_vmwrite(GUEST_ES_AR + 2 * i, ar);
	}
	for (i = 8; i < 10; i++) {
		ok &= vmx_vmwrite(GUEST_ES_BASE + 2 * i, 0);
		ok &= vmx_vmwrite(GUEST_ES_LIMIT + 2 * i, 0xffff);
	}
	ok &= vmx_vmwrite(GUEST_DR7, 0x400);
	ok &= vmx_vmwrite(GUEST_RSP, 0xff0);
	ok &= vmx_vmwrite(GUEST_RIP, L3_CODE_GPA);
	ok &= vmx_vmwrite(GUEST_RFLAGS, 0x2);
	ok &= vmx_vmwrite(GUEST_PENDING_DBG, 0);
	ok &= vmx_vmwrite(GUEST_INTERRUPTIBILITY, 0);
	ok &= vmx_vmwrite(GUEST_ACTIVITY_STATE, 0);
	ok &= vmx_vmwrite(GUEST_SYSENTER_CS, 0);
	ok &= vmx_vmwrite(GUEST_SYSENTER_ESP, 0);
	ok &= vmx_vmwrite(GUEST_SYSENTER_EIP, 0);
	ok &= vmx_vmwrite(GUEST_DEBUGCTL, 0);
	return check("vmcs-guest", ok, "a VMWRITE failed");
}

static void skip_instruction(void)
{
	vmx_vmwrite(GUEST_RIP, vmx_vmread(GUEST_RIP) +
				       vmx_vmread(EXIT_INSTRUCTION_LEN));
}

/* One exit; false when it is one the nested guest should never cause. */
static bool handle_exit(struct vmx_guest_regs *r, uint32_t *round)
{
	uint32_t reason = (uint32_t)vmx_vmread(EXIT_REASON);
	uint64_t qual = vmx_vmread(EXIT_QUALIFICATION);

	switch (reason) {
	case EXIT_REASON_CPUID:
		r->rax = *round;
		r->rbx = r->rcx = r->rdx = 0;
		break;
	case EXIT_REASON_IO: {
		unsigned port = (unsigned)(qual >> 16) & 0xffff;
		bool in = qual & 8;

		if (in || port != L3_PORT || (qual & 7) != 0 ||
		    (uint8_t)r->rax != (uint8_t)*round) {
			fail("l3-io", "exit qualification 0x%llx, AL 0x%x, "
			     "round %u", (unsigned long long)qual,
			     (unsigned)(uint8_t)r->rax, *round);
			return false;
		}
		break;
	}
	case EXIT_REASON_HLT:
		(*round)++;
		break;
	default:
		fail("l3-exit", "reason 0x%x qualification 0x%llx gpa 0x%llx "
		     "rip 0x%llx", reason, (unsigned long long)qual,
		     (unsigned long long)vmx_vmread(GUEST_PHYS_ADDR),
		     (unsigned long long)vmx_vmread(GUEST_RIP));
		return false;
	}
	skip_instruction();
	return true;
}

/* 'x' on COM1 ends the machine; until then, idle. */
static NORETURN void idle_until_x(void)
{
	for (;;) {
		int c = uart_getc_nowait();

		if (c == 'x')
			report_finish();
		delay_us(20000);
	}
}

/* Runs the nested guest until 'q' (or `rounds` rounds), then VMXOFF. */
static NORETURN void run_l3(const struct bootinfo *bi, uint64_t vmcs_pa)
{
	uint32_t report = (uint32_t)cmdline_u64_or(bi->cmdline, "report", 50);
	uint32_t rounds = (uint32_t)cmdline_u64_or(bi->cmdline, "rounds", 0);
	struct vmx_guest_regs regs = { 0 };
	uint32_t round = 0, exits = 0, last = 0;
	int launched = 0;

	if (report == 0)
		report = 1;
	kprintf("vmx: l3 start\n");
	for (;;) {
		if (vmx_enter(&regs, launched)) {
			fail("vmentry", "%s failed: VM-instruction error %u",
			     launched ? "VMRESUME" : "VMLAUNCH",
			     (unsigned)vmx_vmread(VM_INSTRUCTION_ERROR));
			report_finish();
		}
		launched = 1;
		exits++;
		if (vmx_vmread(EXIT_REASON) & EXIT_REASON_ENTRY_FAILED) {
			fail("vmentry", "entry failed: reason 0x%x "
			     "qualification 0x%llx",
			     (unsigned)vmx_vmread(EXIT_REASON),
			     (unsigned long long)vmx_vmread(EXIT_QUALIFICATION));
			report_finish();
		}
		if (!handle_exit(&regs, &round))
			report_finish();
		if (round == last || round % report)
			continue;
		last = round;
		kprintf("vmx: round %u exits %u\n", round, exits);
		if (uart_getc_nowait() == 'q' || (rounds && round >= rounds))
			break;
	}
	pass("l3-run");
	vmx_vmclear(vmcs_pa);
	vmx_vmxoff();
	/* As Linux's KVM does: VMX fully off, CR4.VMXE clear. */
	vmx_try_write_cr4(read_cr4() & ~CR4_VMXE);
	kprintf("vmx: vmxoff after %u rounds\n", round);
	idle_until_x();
}

void guest_main(struct bootinfo *bi)
{
	struct cpuid_regs r;
	uint64_t basic, eptp, caps;
	uint32_t *vmcs;

	palloc_init(bi);
	vmx_tables_load();
	cpuid(1, 0, &r);
	kprintf("vmx: cpuid vmx=%d\n", (r.ecx >> 5) & 1);
	if (!(r.ecx & (1u << 5)))
		vmx_absent();
	basic = rdmsr(MSR_VMX_BASIC);
	if (!vmx_on((uint32_t)basic & 0x7fffffff))
		report_finish();
	vmcs = palloc_page();
	vmcs[0] = (uint32_t)basic & 0x7fffffff;
	if (!check("vmptrld", vmx_vmclear(pa(vmcs)) && vmx_vmptrld(pa(vmcs)),
		   "VMCLEAR or VMPTRLD failed"))
		report_finish();
	caps = rdmsr(MSR_VMX_EPT_VPID_CAP);
	eptp = ept_build(caps & (1ull << 14) ? EPT_MEMTYPE_WB : 0);
	if (!vmcs_controls(basic & (1ull << 55), eptp) || !vmcs_host() ||
	    !vmcs_guest())
		report_finish();
	run_l3(bi, pa(vmcs));
}
