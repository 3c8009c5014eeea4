/*
 * Common start of the 32-bit kernels (multiboot and PVH). The protocol's
 * entry stub sets ESP to our stack, saves the entry EFLAGS in EDX and jumps
 * here with EAX and EBX as the loader left them. We load our own GDT (the
 * loader's may live in memory we reuse), clear .bss and call
 * boot_entry32(eax, ebx, eflags, cr0).
 */
	.section .text.head32, "ax"
	.code32
	.globl head32_start
head32_start:
	cli
	cld
	movl %eax, %esi
	movl %cr0, %ebp
	lgdt gdt32_desc
	ljmp $0x08, $1f
1:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	movl %eax, %ss

	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	rep stosb

	pushl %ebp		/* cr0 */
	pushl %edx		/* eflags at entry */
	pushl %ebx		/* info pointer */
	pushl %esi		/* magic */
	call boot_entry32
2:
	cli
	hlt
	jmp 2b

	.section .rodata.head32, "a"
	.balign 8
gdt32:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
gdt32_desc:
	.word gdt32_desc - gdt32 - 1
	.long gdt32

	/* The stack: no-bits, so it costs no file space and is not cleared. */
	.section .stack, "aw", @nobits
	.balign 16
	.globl stack_bottom, stack_top
stack_bottom:
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
