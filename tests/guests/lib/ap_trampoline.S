/*
 * AP start-up code. It is assembled into the kernel image and copied to
 * AP_TRAMPOLINE at run time, so every address in it is computed from that
 * fixed base instead of being relocated by the linker. The same bytes work
 * in the 32-bit and the 64-bit kernels.
 */
#include "smp.h"

#define T(sym) (AP_TRAMPOLINE + ((sym) - ap_trampoline_start))

	.section .rodata.ap_trampoline, "a"
	.balign 16
	.globl ap_trampoline_start, ap_trampoline_end

	.code16
ap_trampoline_start:
	/* SIPI starts us at CS = vector << 8, IP = 0, in real mode. */
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_gdtr - ap_trampoline_start)
	movl %cr0, %eax
	orb $1, %al
	movl %eax, %cr0
	ljmpl $0x08, $T(ap_pm32)

	.code32
ap_pm32:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	/* The APIC ID as this CPU's CPUID reports it... */
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	/* ...and as its LAPIC does (xAPIC mode after INIT). */
	movl 0xfee00020, %edx
	shrl $24, %edx
	movl $1, %eax
	lock xaddl %eax, (AP_TRAMPOLINE + AP_OFF_NEXT)
	cmpl $AP_SLOTS_MAX, %eax
	jae 1f
	movl %edx, (AP_TRAMPOLINE + AP_OFF_SLOTS)(,%eax,8)
	movl %ebx, (AP_TRAMPOLINE + AP_OFF_SLOTS + 4)(,%eax,8)
1:
	/* Count in only after the slot is written: the BSP reads it next. */
	lock incl (AP_TRAMPOLINE + AP_OFF_DONE)
2:
	cli
	hlt
	jmp 2b

	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
ap_gdtr:
	.word ap_gdtr - ap_gdt - 1
	.long T(ap_gdt)
ap_trampoline_end:

	.section .note.GNU-stack, "", @progbits
