/*
 * PVH entry: the Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY names the 32-bit
 * protected-mode entry point, entered with EBX = hvm_start_info.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f		/* namesz */
	.long 4f - 3f		/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz "Xen"
2:	.balign 4
3:	.long pvh_entry
4:	.balign 4

	.section .text.head, "ax"
	.code32
	.globl pvh_entry
pvh_entry:
	movl $stack_top, %esp
	pushfl
	popl %edx
	jmp head32_start

	.section .note.GNU-stack, "", @progbits
