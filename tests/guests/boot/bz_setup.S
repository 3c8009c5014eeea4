/*
 * The real-mode part of the bzImage: the boot sector area with the setup
 * header at 0x1f1, then a small 16-bit setup routine.
 *
 * A loader using the 64-bit boot protocol (mvm) only reads the header and
 * never runs this code. A loader using the 16-bit protocol (SeaBIOS's
 * linuxboot ROM under QEMU -kernel) jumps to offset 0x200 of this setup in
 * real mode: we then build boot_params ourselves from the header and the
 * BIOS's E820 map, switch to protected mode and enter the 32-bit entry at
 * code32_start, as a real kernel's setup would.
 */
#define ZP_OFF 0x1000		/* boot_params, just after the setup code */
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_HDR_END 0x290
#define BP_E820_TABLE 0x2d0
#define E820_MAX 128
#define SMAP 0x534d4150
#define VIA16_MAGIC 0x16161616	/* tells startup_32 it came from here */
#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x0001

	.section .bzsetup, "ax"
	.code16
	.globl bz_setup
bz_setup:
	.org BP_HDR
hdr:
	.byte _setup_sects		/* 0x1f1 setup_sects */
	.word 0				/* root_flags */
	.long _syssize			/* syssize, in 16-byte units */
	.word 0				/* ram_size */
	.word 0xffff			/* vid_mode: normal */
	.word 0				/* root_dev */
	.word 0xaa55			/* 0x1fe boot_flag */
	.org 0x200
	.byte 0xeb, start_of_setup - 1f	/* jump: a short jmp */
1:
	.ascii "HdrS"			/* 0x202 header */
	.word 0x020f			/* version 2.15 */
	.long 0				/* realmode_swtch */
	.word 0				/* start_sys_seg */
	.word kernel_version - bz_setup - 0x200
	.byte 0				/* 0x210 type_of_loader */
	.byte LOADFLAG_LOADED_HIGH	/* loadflags */
	.word 0				/* setup_move_size */
	.long 0x100000			/* 0x214 code32_start */
	.long 0				/* ramdisk_image */
	.long 0				/* ramdisk_size */
	.long 0				/* bootsect_kludge */
	.word 0				/* 0x224 heap_end_ptr */
	.byte 0				/* ext_loader_ver */
	.byte 0				/* ext_loader_type */
	.long 0				/* 0x228 cmd_line_ptr */
	.long 0x7fffffff		/* initrd_addr_max */
	.long 0x100000			/* kernel_alignment */
	.byte 1				/* 0x234 relocatable_kernel */
	.byte 12			/* min_alignment: 4 KiB */
	.word XLF_KERNEL_64		/* 0x236 xloadflags */
	.long 2047			/* 0x238 cmdline_size */
	.long 0				/* hardware_subarch */
	.quad 0				/* hardware_subarch_data */
	.long 0				/* 0x248 payload_offset */
	.long 0				/* payload_length */
	.quad 0				/* 0x250 setup_data */
	.quad 0x100000			/* 0x258 pref_address */
	.long _init_size		/* 0x260 init_size */
	.long 0				/* handover_offset */
	.long _kernel_info_off		/* 0x268 kernel_info_offset */
	.org 0x26c

start_of_setup:
	cli
	cld
	/* The loader set DS to our segment; make CS, ES and SS agree. */
	movw %ds, %ax
	movw %ax, %es
	movw %ax, %ss
	movw $ZP_OFF, %sp		/* stack just below boot_params */
	pushw %ds
	pushw $(2f - bz_setup)
	lretw
2:
	/* boot_params: zeroed, then the header as the loader filled it in. */
	movw $ZP_OFF, %di
	xorw %ax, %ax
	movw $2048, %cx
	rep stosw
	movw $BP_HDR, %si
	movw $(ZP_OFF + BP_HDR), %di
	movw $(BP_HDR_END - BP_HDR), %cx
	rep movsb

	/* The memory map from the BIOS, straight into e820_table. */
	xorl %ebx, %ebx
	movw $(ZP_OFF + BP_E820_TABLE), %di
3:
	movl $0xe820, %eax
	movl $20, %ecx
	movl $SMAP, %edx
	int $0x15
	jc 4f
	cmpl $SMAP, %eax
	jne 4f
	incb (ZP_OFF + BP_E820_ENTRIES)
	addw $20, %di
	testl %ebx, %ebx
	jz 4f
	cmpb $E820_MAX, (ZP_OFF + BP_E820_ENTRIES)
	jb 3b
4:
	cli
	/* A20 through the fast gate, in case the BIOS left it off. */
	inb $0x92, %al
	orb $2, %al
	andb $0xfe, %al
	outb %al, $0x92

	/* Linear address of this setup, to patch the GDT base and jump. */
	xorl %ebp, %ebp
	movw %ds, %bp
	shll $4, %ebp
	leal (gdt - bz_setup)(%ebp), %eax
	movl %eax, (gdtr - bz_setup + 2)
	leal (pm32 - bz_setup)(%ebp), %eax
	movl %eax, (farptr - bz_setup)
	lgdtl (gdtr - bz_setup)
	movl %cr0, %eax
	orb $1, %al
	movl %eax, %cr0
	ljmpl *(farptr - bz_setup)

	.code32
pm32:
	movl $0x18, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %fs
	movl %eax, %gs
	movl %eax, %ss
	leal ZP_OFF(%ebp), %esi
	movl $VIA16_MAGIC, %ebx
	xorl %edi, %edi
	movl 0x214(%esi), %eax		/* code32_start */
	jmp *%eax

	/* The boot protocol's segments: 0x10 code, 0x18 data, both flat. */
	.balign 8
gdt:
	.quad 0, 0
	.quad 0x00cf9a000000ffff
	.quad 0x00cf92000000ffff
gdtr:
	.word gdtr - gdt - 1
	.long 0				/* patched: linear address of gdt */
farptr:
	.long 0				/* patched: linear address of pm32 */
	.word 0x10

kernel_version:
	.asciz "mvm-guest bz_check"

	.section .note.GNU-stack, "", @progbits
