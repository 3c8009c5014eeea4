/*
 * The protected-mode part of the bzImage, linked at 1 MiB.
 *
 * +0x000 startup_32: the 32-bit boot protocol entry (ESI = boot_params,
 *        flat segments, paging off). Builds an identity map of the low
 *        4 GiB, enables long mode and continues in 64-bit code.
 * +0x200 startup_64: the 64-bit boot protocol entry (RSI = boot_params,
 *        long mode on the loader's identity map).
 *
 * Both record how they were entered, move the image to its link address if
 * the loader put it elsewhere (the header says relocatable, the code is
 * not), clear .bss and call bz_start(boot_params).
 */
#define BP_SCRATCH 0x1e4	/* boot_params.scratch: 4 bytes for our use */
#define VIA16_MAGIC 0x16161616
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define CR4_PAE (1 << 5)
#define CR0_PG (1 << 31)
#define PTE_P_RW 0x3
#define PDE_2M 0x83		/* present, writable, 2 MiB page */

	.section .head64, "ax"
	.code32
	.globl startup_32
startup_32:
	/* No stack is promised: borrow boot_params.scratch for one word. */
	leal (BP_SCRATCH + 4)(%esi), %esp
	pushfl
	popl %edx
	cli
	cld
	call 1f
1:	popl %ebp
	subl $(1b - startup_32), %ebp	/* where we run */
	movl $startup_32, %edi		/* where we are linked */
	cmpl %edi, %ebp
	je 2f
	jb hang32			/* below 1 MiB: cannot be a real load */
	movl %esi, %eax
	movl %ebp, %esi
	movl $_pm_filesz, %ecx
	rep movsb
	movl %eax, %esi
	movl $2f, %eax
	jmp *%eax
2:
	movl $stack_top, %esp
	movl %edx, bz_entry_flags
	movl %ebp, bz_loaded_at
	movl $32, bz_entry_via
	cmpl $VIA16_MAGIC, %ebx
	jne 3f
	movl $16, bz_entry_via
3:
	lgdt gdt64_desc
	ljmp $0x10, $4f
4:
	movl $0x18, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	movl %eax, %ss

	movl $pgt_pml4, %edi
	movl $(6 * 4096 / 4), %ecx
	xorl %eax, %eax
	rep stosl
	movl $(pgt_pdpt + PTE_P_RW), pgt_pml4
	movl $(pgt_pd + 0x0000 + PTE_P_RW), pgt_pdpt
	movl $(pgt_pd + 0x1000 + PTE_P_RW), pgt_pdpt + 8
	movl $(pgt_pd + 0x2000 + PTE_P_RW), pgt_pdpt + 16
	movl $(pgt_pd + 0x3000 + PTE_P_RW), pgt_pdpt + 24
	movl $pgt_pd, %edi
	movl $PDE_2M, %eax
	movl $2048, %ecx
5:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 5b

	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pgt_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PG, %eax
	movl %eax, %cr0
	ljmp $0x08, $from32
hang32:
	cli
	hlt
	jmp hang32

	.code64
from32:
	movl %esi, %esi			/* upper halves are undefined after the switch */
	jmp common64

	.org 0x200
	.globl startup_64
startup_64:
	/*
	 * Our own stack at its link address: if the image is not there yet we
	 * are about to copy it there, and the stack lies past the copied part.
	 */
	movq $stack_top, %rsp
	pushfq
	popq %rdx
	cli
	cld
	leaq startup_64(%rip), %rbp
	subq $0x200, %rbp		/* where we run */
	movq $startup_32, %rdi		/* where we are linked */
	cmpq %rdi, %rbp
	je 1f
	jb hang64
	movq %rsi, %rax
	movq %rbp, %rsi
	movq $_pm_filesz, %rcx
	rep movsb
	movq %rax, %rsi
	movq $1f, %rax
	jmp *%rax
1:
	movl %edx, bz_entry_flags(%rip)
	movq %rbp, bz_loaded_at(%rip)
	movl $64, bz_entry_via(%rip)
	/* Our own GDT: the loader's lives in memory the guest may reuse. */
	lgdt gdt64_desc(%rip)
	movl $0x18, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	movl %eax, %ss
	pushq $0x08
	leaq common64(%rip), %rax
	pushq %rax
	lretq

common64:
	movq $stack_top, %rsp
	movq %rsi, %rbx
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	movq %rbx, %rdi
	call bz_start
hang64:
	cli
	hlt
	jmp hang64

	.section .data.bz_entry, "aw"
	.balign 8
	.globl bz_loaded_at, bz_entry_via, bz_entry_flags
bz_loaded_at:
	.quad 0
bz_entry_via:
	.long 0
bz_entry_flags:
	.long 0

	.section .rodata.head64, "a"
	.balign 8
gdt64:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf9a000000ffff	/* 0x10: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x18: flat data */
gdt64_desc:
	.word gdt64_desc - gdt64 - 1
	.quad gdt64

	/* The protocol's optional kernel_info block (version 2.15). */
	.balign 4
	.globl kernel_info
kernel_info:
	.ascii "LToP"
	.long kernel_info_end - kernel_info	/* size */
	.long kernel_info_end - kernel_info	/* size_total */
	.long 0					/* setup_type_max */
kernel_info_end:

	/* Page tables for the 32-bit entry; not in .bss, which is cleared
	 * while they are live. */
	.section .pgtables, "aw", @nobits
	.balign 4096
	.globl pgt_pml4, pgt_pdpt, pgt_pd
pgt_pml4:
	.skip 4096
pgt_pdpt:
	.skip 4096
pgt_pd:
	.skip 4 * 4096

	.section .stack, "aw", @nobits
	.balign 16
	.globl stack_top
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
