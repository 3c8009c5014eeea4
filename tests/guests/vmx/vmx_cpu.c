/*
 * bz_vmx's processor plumbing: its own GDT (a VMX host needs a TSS and a
 * non-zero TR), an IDT whose every exception handler resumes at an address
 * the caller set (so that a test can run an instruction that may fault and
 * learn which exception it raised), the VMX instructions, and the entry
 * and exit path of the nested guest.
 */
#include "vmx_cpu.h"

#define NVEC 32

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} PACKED;

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} PACKED;

static uint64_t gdt[5] __attribute__((aligned(16)));
static uint64_t idt[2 * NVEC] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));

volatile int vmx_fault_vector = -1;
/* Where an exception handler resumes (set by vmx_try_*). */
uint64_t vmx_fault_resume;

/*
 * One 16-byte stub per vector; those without a CPU error code push a zero
 * so that every frame looks the same. The common part records the vector,
 * points the frame's RIP at vmx_fault_resume, and returns there.
 */
__asm__(".pushsection .text\n"
	".balign 16\n"
	"vmx_trap_stubs:\n"
	".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,"
	"21,22,23,24,25,26,27,28,29,30,31\n"
	".balign 16\n"
	".if (\\n == 8) || (\\n >= 10 && \\n <= 14) || (\\n == 17) || "
	"(\\n == 21) || (\\n == 29) || (\\n == 30)\n"
	".else\n"
	"pushq $0\n"
	".endif\n"
	"pushq $\\n\n"
	"jmp vmx_trap_common\n"
	".endr\n"
	"vmx_trap_common:\n"
	"pushq %rax\n"
	"movq 8(%rsp), %rax\n"
	"movl %eax, vmx_fault_vector(%rip)\n"
	"movq vmx_fault_resume(%rip), %rax\n"
	"movq %rax, 24(%rsp)\n"
	"popq %rax\n"
	"addq $16, %rsp\n"
	"iretq\n"

	/* int vmx_try_write_cr4(uint64_t cr4) */
	".globl vmx_try_write_cr4\n"
	"vmx_try_write_cr4:\n"
	"movl $-1, vmx_fault_vector(%rip)\n"
	"leaq 1f(%rip), %rax\n"
	"movq %rax, vmx_fault_resume(%rip)\n"
	"movq %rdi, %cr4\n"
	"1: movl vmx_fault_vector(%rip), %eax\n"
	"ret\n"

	/* int vmx_try_vmxon(uint64_t pa, uint64_t *rflags) */
	".globl vmx_try_vmxon\n"
	"vmx_try_vmxon:\n"
	"movl $-1, vmx_fault_vector(%rip)\n"
	"leaq 1f(%rip), %rax\n"
	"movq %rax, vmx_fault_resume(%rip)\n"
	"pushq %rdi\n"
	"vmxon (%rsp)\n"
	"1: pushfq\n"
	"popq %rax\n"
	"movq %rax, (%rsi)\n"
	"addq $8, %rsp\n"
	"movl vmx_fault_vector(%rip), %eax\n"
	"ret\n"

	/*
	 * int vmx_enter(struct vmx_guest_regs *regs, int launched): the
	 * host's RSP at exit is this frame's, with regs on top; HOST_RIP is
	 * vmx_exit_point. The guest's RAX-RDX go in and come out through
	 * regs; the callee-saved registers the guest may change are pushed.
	 */
	".globl vmx_enter\n"
	"vmx_enter:\n"
	"pushq %rbp\n pushq %rbx\n pushq %r12\n pushq %r13\n"
	"pushq %r14\n pushq %r15\n"
	"pushq %rdi\n"
	"movq $0x6c14, %rax\n"
	"vmwrite %rsp, %rax\n"
	"movq $0x6c16, %rax\n"
	"leaq vmx_exit_point(%rip), %rcx\n"
	"vmwrite %rcx, %rax\n"
	"movl %esi, %r8d\n"
	"movq 8(%rdi), %rbx\n"
	"movq 16(%rdi), %rcx\n"
	"movq 24(%rdi), %rdx\n"
	"movq 0(%rdi), %rax\n"
	"testl %r8d, %r8d\n"
	"jnz 2f\n"
	"vmlaunch\n"
	"jmp 3f\n"
	"2: vmresume\n"
	"3: popq %rdi\n"
	"popq %r15\n popq %r14\n popq %r13\n popq %r12\n"
	"popq %rbx\n popq %rbp\n"
	"movl $1, %eax\n"
	"ret\n"
	"vmx_exit_point:\n"
	"pushq %rax\n"
	"movq 8(%rsp), %rax\n"
	"movq %rbx, 8(%rax)\n"
	"movq %rcx, 16(%rax)\n"
	"movq %rdx, 24(%rax)\n"
	"popq 0(%rax)\n"
	"popq %rdi\n"
	"popq %r15\n popq %r14\n popq %r13\n popq %r12\n"
	"popq %rbx\n popq %rbp\n"
	"xorl %eax, %eax\n"
	"ret\n"
	".popsection\n");

extern const uint8_t vmx_trap_stubs[];

void vmx_tables_load(void)
{
	uint64_t tss_base = (uint64_t)(uintptr_t)&tss;
	uint64_t stubs = (uint64_t)(uintptr_t)vmx_trap_stubs;
	struct desc_ptr gp, ip;
	int n;

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* 64-bit code, ring 0 */
	gdt[2] = 0x00cf92000000ffffull; /* data, ring 0 */
	/* Available 64-bit TSS (type 9), 16 bytes. */
	gdt[3] = (sizeof(tss) - 1) | (tss_base & 0xffffff) << 16 |
		 0x89ull << 40 | ((tss_base >> 24) & 0xff) << 56;
	gdt[4] = tss_base >> 32;
	tss.iomap_base = sizeof(tss);
	for (n = 0; n < NVEC; n++) {
		uint64_t off = stubs + 16 * (uint64_t)n;

		idt[2 * n] = (off & 0xffff) | (uint64_t)SEL_CODE << 16 |
			     0x8eull << 40 | ((off >> 16) & 0xffff) << 48;
		idt[2 * n + 1] = off >> 32;
	}
	gp.limit = sizeof(gdt) - 1;
	gp.base = (uint64_t)(uintptr_t)gdt;
	ip.limit = sizeof(idt) - 1;
	ip.base = (uint64_t)(uintptr_t)idt;
	__asm__ volatile("lgdt %0\n"
			 "lidt %1\n"
			 "pushq %2\n"
			 "leaq 1f(%%rip), %%rax\n"
			 "pushq %%rax\n"
			 "lretq\n"
			 "1: movl %3, %%eax\n"
			 "movl %%eax, %%ds\n movl %%eax, %%es\n"
			 "movl %%eax, %%ss\n movl %%eax, %%fs\n"
			 "movl %%eax, %%gs\n"
			 "movl %4, %%eax\n"
			 "ltr %%ax\n"
			 :
			 : "m"(gp), "m"(ip), "i"(SEL_CODE), "i"(SEL_DATA),
			   "i"(SEL_TSS)
			 : "rax", "memory");
}

uint64_t vmx_gdt_base(void)
{
	return (uint64_t)(uintptr_t)gdt;
}

uint64_t vmx_idt_base(void)
{
	return (uint64_t)(uintptr_t)idt;
}

uint64_t vmx_tss_base(void)
{
	return (uint64_t)(uintptr_t)&tss;
}

bool vmx_vmclear(uint64_t pa)
{
	uint8_t ok;

	__asm__ volatile("vmclear %1; seta %0"
			 : "=qm"(ok)
			 : "m"(pa)
			 : "cc", "memory");
	return ok;
}

bool vmx_vmptrld(uint64_t pa)
{
	uint8_t ok;

	__asm__ volatile("vmptrld %1; seta %0"
			 : "=qm"(ok)
			 : "m"(pa)
			 : "cc", "memory");
	return ok;
}

bool vmx_vmwrite(uint64_t field, uint64_t value)
{
	uint8_t ok;

	__asm__ volatile("vmwrite %2, %1; seta %0"
			 : "=qm"(ok)
			 : "r"(field), "rm"(value)
			 : "cc", "memory");
	return ok;
}

uint64_t vmx_vmread(uint64_t field)
{
	uint64_t v = 0;

	__asm__ volatile("vmread %1, %0" : "+rm"(v) : "r"(field) : "cc");
	return v;
}

void vmx_vmxoff(void)
{
	__asm__ volatile("vmxoff" ::: "cc", "memory");
}
