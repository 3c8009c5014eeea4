/*
 * Multiboot v1 header and entry. The header carries the load addresses
 * (flag 16) as well as being inside an ELF32 file, so a loader may use
 * either the a.out-kludge fields or the ELF program headers; both describe
 * the same single segment.
 */
#define MB_MAGIC 0x1badb002
#define MB_PAGE_ALIGN (1 << 0)	/* modules on 4 KiB boundaries */
#define MB_MEMORY_INFO (1 << 1)	/* mem_* and mmap wanted */
#define MB_AOUT_KLUDGE (1 << 16)	/* the address fields below are valid */
#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE)

	.section .multiboot, "a"
	.balign 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header		/* header_addr */
	.long __image_start	/* load_addr */
	.long __data_end	/* load_end_addr */
	.long __image_end	/* bss_end_addr */
	.long mb_entry		/* entry_addr */

	.section .text.head, "ax"
	.code32
	.globl mb_entry
mb_entry:
	/* No stack is given: set ours before pushf reads the entry flags. */
	movl $stack_top, %esp
	pushfl
	popl %edx
	jmp head32_start

	.section .note.GNU-stack, "", @progbits
