/*
 * The VMX instructions, MSRs and VMCS field encodings bz_vmx uses (Intel
 * SDM vol. 3, appendix B and chapter 24), and its own descriptor tables.
 */
#ifndef GUEST_VMX_CPU_H
#define GUEST_VMX_CPU_H

#include "../lib/types.h"

#define MSR_FEATURE_CONTROL 0x3a
#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PINBASED 0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT 0x48f
#define MSR_VMX_TRUE_ENTRY 0x490

#define CR4_VMXE (1ul << 13)

/* VMCS fields. */
#define VMCS_LINK_POINTER 0x2800
#define EPT_POINTER 0x201a
#define PIN_CONTROLS 0x4000
#define PROC_CONTROLS 0x4002
#define EXCEPTION_BITMAP 0x4004
#define CR3_TARGET_COUNT 0x400a
#define EXIT_CONTROLS 0x400c
#define EXIT_MSR_STORE_COUNT 0x400e
#define EXIT_MSR_LOAD_COUNT 0x4010
#define ENTRY_CONTROLS 0x4012
#define ENTRY_MSR_LOAD_COUNT 0x4014
#define ENTRY_INTR_INFO 0x4016
#define PROC_CONTROLS2 0x401e
#define VM_INSTRUCTION_ERROR 0x4400
#define EXIT_REASON 0x4402
#define EXIT_INSTRUCTION_LEN 0x440c
#define EXIT_QUALIFICATION 0x6400
#define GUEST_PHYS_ADDR 0x2400

#define GUEST_ES_SELECTOR 0x0800 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 */
#define GUEST_ES_LIMIT 0x4800	 /* ... then GDTR, IDTR limits */
#define GUEST_ES_AR 0x4814	 /* ES .. TR access rights */
#define GUEST_INTERRUPTIBILITY 0x4824
#define GUEST_ACTIVITY_STATE 0x4826
#define GUEST_SYSENTER_CS 0x482a
#define GUEST_CR0 0x6800
#define GUEST_CR3 0x6802
#define GUEST_CR4 0x6804
#define GUEST_ES_BASE 0x6806 /* ES .. TR, GDTR, IDTR bases: +2 */
#define GUEST_DR7 0x681a
#define GUEST_RSP 0x681c
#define GUEST_RIP 0x681e
#define GUEST_RFLAGS 0x6820
#define GUEST_PENDING_DBG 0x6822
#define GUEST_SYSENTER_ESP 0x6824
#define GUEST_SYSENTER_EIP 0x6826
#define GUEST_DEBUGCTL 0x2802

#define HOST_ES_SELECTOR 0x0c00 /* ES, CS, SS, DS, FS, GS, TR: +2 */
#define HOST_SYSENTER_CS 0x4c00
#define HOST_CR0 0x6c00
#define HOST_CR3 0x6c02
#define HOST_CR4 0x6c04
#define HOST_FS_BASE 0x6c06
#define HOST_GS_BASE 0x6c08
#define HOST_TR_BASE 0x6c0a
#define HOST_GDTR_BASE 0x6c0c
#define HOST_IDTR_BASE 0x6c0e
#define HOST_SYSENTER_ESP 0x6c10
#define HOST_SYSENTER_EIP 0x6c12
#define HOST_RSP 0x6c14
#define HOST_RIP 0x6c16

#define PROC_HLT_EXITING (1u << 7)
#define PROC_UNCOND_IO_EXITING (1u << 24)
#define PROC_SECONDARY (1u << 31)
#define PROC2_EPT (1u << 1)
#define PROC2_UNRESTRICTED (1u << 7)
#define EXIT_HOST_64BIT (1u << 9)

#define EXIT_REASON_TRIPLE_FAULT 2
#define EXIT_REASON_CPUID 10
#define EXIT_REASON_HLT 12
#define EXIT_REASON_IO 30
#define EXIT_REASON_EPT_VIOLATION 48
#define EXIT_REASON_ENTRY_FAILED (1u << 31)

/* Selectors of the kernel's own GDT (vmx_tables_load()). */
#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

/* The last exception caught by vmx_try_*(): its vector, or -1. */
extern volatile int vmx_fault_vector;

/* Loads a GDT with a TSS (a host's TR must not be 0) and a catching IDT. */
void vmx_tables_load(void);
uint64_t vmx_gdt_base(void);
uint64_t vmx_idt_base(void);
uint64_t vmx_tss_base(void);

/*
 * Each runs one instruction; an exception it raises is caught: the result
 * is its vector (6 #UD, 13 #GP), or -1 when none came. rflags gets the
 * flags after the instruction (VMfail: CF or ZF).
 */
int vmx_try_write_cr4(uint64_t cr4);
int vmx_try_vmxon(uint64_t pa, uint64_t *rflags);

/* VMCLEAR, VMPTRLD, VMWRITE, VMREAD: false on VMfail. */
bool vmx_vmclear(uint64_t pa);
bool vmx_vmptrld(uint64_t pa);
bool vmx_vmwrite(uint64_t field, uint64_t value);
uint64_t vmx_vmread(uint64_t field);
void vmx_vmxoff(void);

/* The nested guest's general registers, loaded at entry, saved at exit. */
struct vmx_guest_regs {
	uint64_t rax, rbx, rcx, rdx;
};

/*
 * VMLAUNCH (launched false) or VMRESUME into the guest with regs; returns
 * 0 after a VM exit, 1 when the instruction failed (VMfail).
 */
int vmx_enter(struct vmx_guest_regs *regs, int launched);

#endif
