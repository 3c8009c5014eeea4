#include "user.h"

#include "cmdline.h"
#include "io.h"
#include "lapic.h"
#include "palloc.h"
#include "pit.h"
#include "printf.h"
#include "report.h"

#ifdef __x86_64__

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA (0x18 | 3)
#define SEL_UCODE (0x20 | 3)
#define SEL_TSS 0x28

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PS 0x80

#define RFLAGS_FIXED 0x2
#define RFLAGS_IOPL3 0x3000

#define CR4_TSD (1ul << 2)
#define CR4_SMEP (1ul << 20)
#define CR4_SMAP (1ul << 21)

#define USER_STACK_PAGES 4
/* The 32 exceptions, and the tick (user_tick_start()). */
#define TICK_VECTOR 32
#define PIC_MASTER_DATA 0x21
#define PIC_SLAVE_DATA 0xa1
#define NVEC 33

/* The 64-bit TSS: only RSP0 matters, the stack a trap from ring 3 uses. */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} PACKED;

/* What the stubs below push, lowest address first, then the CPU's frame. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

static uint64_t gdt[7] __attribute__((aligned(16)));
static uint64_t idt[2 * NVEC] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
/*
 * Ring 0's stack for traps: the boot stack still holds the frames of
 * user_run()'s callers, whose data ring 3 goes on using.
 */
static uint8_t trap_stack[8192] __attribute__((aligned(16)));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} PACKED;

/*
 * One 16-byte stub per vector, so the IDT can point at base + 16 * n. The
 * CPU pushes an error code for some vectors only; the others push a zero
 * so every frame looks the same.
 */
__asm__(
	".pushsection .text\n"
	".balign 16\n"
	"user_trap_stubs:\n"
	".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,"
	"21,22,23,24,25,26,27,28,29,30,31,32\n"
	".balign 16\n"
	".if (\\n == 8) || (\\n >= 10 && \\n <= 14) || (\\n == 17) || "
	"(\\n == 21) || (\\n == 29) || (\\n == 30)\n"
	".else\n"
	"pushq $0\n"
	".endif\n"
	"pushq $\\n\n"
	"jmp user_trap_common\n"
	".endr\n"
	"user_trap_common:\n"
	"pushq %rax\n pushq %rbx\n pushq %rcx\n pushq %rdx\n"
	"pushq %rsi\n pushq %rdi\n pushq %rbp\n"
	"pushq %r8\n pushq %r9\n pushq %r10\n pushq %r11\n"
	"pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n"
	"cld\n"
	"movq %rsp, %rdi\n"
	"call user_trap\n"
	"popq %r15\n popq %r14\n popq %r13\n popq %r12\n"
	"popq %r11\n popq %r10\n popq %r9\n popq %r8\n"
	"popq %rbp\n popq %rdi\n popq %rsi\n"
	"popq %rdx\n popq %rcx\n popq %rbx\n popq %rax\n"
	"addq $16, %rsp\n"
	"iretq\n"
	".popsection\n");

extern const uint8_t user_trap_stubs[];
void user_trap(struct trap_frame *f);

/*
 * Port I/O from ring 3, done here. IOPL 3 should let ring 3 do it itself,
 * but a software KVM may not honour the guest's IOPL and raise #GP
 * instead; ports are only touched between the timed loops (console lines,
 * the final debug exit), so a trap per access costs the figures nothing.
 * Handles IN/OUT with DX or an 8-bit port, 8/16/32 bits. False for
 * anything else.
 */
static bool emulate_io(struct trap_frame *f)
{
	const uint8_t *ip = (const uint8_t *)(uintptr_t)f->rip;
	unsigned len = 1, size = 4;
	uint16_t port;
	uint8_t op;

	if (ip[0] == 0x66) {
		size = 2;
		ip++;
		len++;
	}
	op = ip[0];
	if (op >= 0xe4 && op <= 0xe7) {
		port = ip[1];
		len++;
	} else if (op >= 0xec && op <= 0xef) {
		port = (uint16_t)f->rdx;
	} else {
		return false;
	}
	if (!(op & 1))
		size = 1;
	if (op & 2) { /* out */
		if (size == 1)
			outb(port, (uint8_t)f->rax);
		else if (size == 2)
			outw(port, (uint16_t)f->rax);
		else
			outl(port, (uint32_t)f->rax);
	} else if (size == 1) {
		f->rax = (f->rax & ~0xffull) | inb(port);
	} else if (size == 2) {
		f->rax = (f->rax & ~0xffffull) | inw(port);
	} else {
		f->rax = inl(port); /* a 32-bit result zero-extends */
	}
	f->rip += len;
	return true;
}

/*
 * hlt from ring 3 (user_idle()): halt here with interrupts on for just
 * that wait, so the tick (or any interrupt) ends it.
 */
static bool emulate_hlt(struct trap_frame *f)
{
	if (*(const uint8_t *)(uintptr_t)f->rip != 0xf4)
		return false;
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	f->rip++;
	return true;
}

void user_trap(struct trap_frame *f)
{
	if (f->vector == TICK_VECTOR) {
		lapic_eoi();
		return;
	}
	if (f->vector == 13 && (f->cs & 3) == 3 &&
	    (emulate_io(f) || emulate_hlt(f)))
		return;
	fail("ring3", "exception %llu (error 0x%llx) at rip 0x%llx cs 0x%llx "
	     "rflags 0x%llx rsp 0x%llx", (unsigned long long)f->vector,
	     (unsigned long long)f->error, (unsigned long long)f->rip,
	     (unsigned long long)f->cs, (unsigned long long)f->rflags,
	     (unsigned long long)f->rsp);
	report_finish();
	halt_forever();
}

static void set_gate(unsigned n, uint64_t at)
{
	idt[2 * n] = (at & 0xffff) | (uint64_t)SEL_KCODE << 16 |
		     0x8eull << 40 /* present, DPL 0, interrupt gate */ |
		     (at >> 16 & 0xffff) << 48;
	idt[2 * n + 1] = at >> 32;
}

/* Low 4 GiB, 2 MiB pages, every level user-accessible. */
static bool build_page_tables(uint64_t *cr3)
{
	uint64_t *pml4 = palloc_pages(6);
	uint64_t *pdpt, *pd;

	if (!pml4)
		return false;
	pdpt = pml4 + 512;
	pd = pml4 + 1024;
	pml4[0] = (uintptr_t)pdpt | PTE_P | PTE_RW | PTE_US;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (uintptr_t)(pd + 512 * i) | PTE_P | PTE_RW | PTE_US;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = i << 21 | PTE_P | PTE_RW | PTE_US | PTE_PS;
	*cr3 = (uintptr_t)pml4;
	return true;
}

bool user_available(void)
{
	return true;
}

static uint32_t tick_us;

bool user_tick_start(uint32_t us)
{
	uint64_t count = (uint64_t)lapic_timer_per_ms() * us / 1000;

	/*
	 * Mask both 8259s: a BIOS (SeaBIOS under QEMU) leaves its timer on
	 * IRQ 0 at vector 8, which the first sti would take for a double
	 * fault.
	 */
	outb(PIC_MASTER_DATA, 0xff);
	outb(PIC_SLAVE_DATA, 0xff);

	if (!count || count > UINT32_MAX)
		return false;
	tick_us = us;
	lapic_timer_periodic(TICK_VECTOR, (uint32_t)count);
	return true;
}

void user_idle(void)
{
	if (!tick_us)
		cpu_pause();
	else if (user_mode())
		__asm__ volatile("hlt" ::: "memory"); /* to emulate_hlt() */
	else
		delay_us(tick_us); /* ring3=0: no IDT for the tick */
}

bool user_mode(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return (cs & 3) == 3;
}

static void (*user_fn)(void *);
static void *user_arg;

static NORETURN void user_start(void)
{
	user_fn(user_arg);
	report_finish();
	/* Not reached: report_finish() ends the machine. hlt would #GP here. */
	for (;;)
		cpu_pause();
}

void user_run(const struct bootinfo *bi, void (*fn)(void *), void *arg)
{
	uint64_t cr3, cr4, tss_at = (uintptr_t)&tss;
	struct desc_ptr gp = { sizeof(gdt) - 1, (uintptr_t)gdt };
	struct desc_ptr ip = { sizeof(idt) - 1, (uintptr_t)idt };
	uint8_t *stack;

	/* ring3=0: the same run in ring 0, to compare. */
	if (!cmdline_u64_or(bi->cmdline, "ring3", 1)) {
		fn(arg);
		report_finish();
		halt_forever();
	}
	stack = palloc_pages(USER_STACK_PAGES);
	if (!stack || !build_page_tables(&cr3)) {
		fail("ring3", "out of memory for page tables");
		report_finish();
		halt_forever();
	}
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* ring 0 code, 64-bit */
	gdt[2] = 0x00cf92000000ffffull; /* ring 0 data */
	gdt[3] = 0x00cff2000000ffffull; /* ring 3 data */
	gdt[4] = 0x00affa000000ffffull; /* ring 3 code, 64-bit */
	gdt[5] = (sizeof(tss) - 1) | (tss_at & 0xffffff) << 16 |
		 0x89ull << 40 /* present, available 64-bit TSS */ |
		 (tss_at >> 24 & 0xff) << 56;
	gdt[6] = tss_at >> 32;
	tss.rsp[0] = (uintptr_t)(trap_stack + sizeof(trap_stack));
	tss.iomap_base = sizeof(tss); /* no bitmap: IOPL 3 grants the ports */
	for (unsigned n = 0; n < NVEC; n++)
		set_gate(n, (uintptr_t)(user_trap_stubs + 16 * n));

	/*
	 * rdtsc must work in ring 3 (TSD off); SMEP/SMAP off so the trap
	 * handler may run on pages that are all user pages.
	 */
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 &= ~(CR4_TSD | CR4_SMEP | CR4_SMAP);
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
	__asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
	__asm__ volatile(
		"lgdt %0\n"
		"lidt %1\n"
		"movw %w2, %%ds\n"
		"movw %w2, %%es\n"
		"movw %w2, %%ss\n"
		"pushq %q3\n"
		"leaq 1f(%%rip), %%rax\n"
		"pushq %%rax\n"
		"lretq\n"
		"1: ltr %w4\n"
		: : "m"(gp), "m"(ip), "r"(SEL_KDATA), "r"((uint64_t)SEL_KCODE),
		    "r"(SEL_TSS) : "rax", "memory");

	user_fn = fn;
	user_arg = arg;
	/*
	 * iretq pops RIP, CS, RFLAGS, RSP, SS: IF off, IOPL 3 (which a
	 * software KVM may drop: then port I/O traps to emulate_io()).
	 */
	__asm__ volatile(
		"movw %w0, %%ds\n"
		"movw %w0, %%es\n"
		"pushq %q0\n"
		"pushq %1\n"
		"pushq %2\n"
		"pushq %q3\n"
		"pushq %4\n"
		"iretq\n"
		: : "r"((uint64_t)SEL_UDATA),
		    /* As if called: the ABI wants RSP + 8 16-byte aligned. */
		    "r"((uint64_t)(uintptr_t)(stack + USER_STACK_PAGES *
						       PAGE_SIZE - 8)),
		    "r"((uint64_t)(RFLAGS_FIXED | RFLAGS_IOPL3)),
		    "r"((uint64_t)SEL_UCODE),
		    "r"((uint64_t)(uintptr_t)user_start)
		: "memory");
	__builtin_unreachable();
}

#else /* 32-bit kernels: paging is off, ring 3 would be emulated anyway */

static uint32_t tick_us;

bool user_tick_start(uint32_t us)
{
	tick_us = us;
	return us != 0;
}

void user_idle(void)
{
	if (tick_us)
		delay_us(tick_us);
	else
		cpu_pause();
}

bool user_available(void)
{
	return false;
}

bool user_mode(void)
{
	return false;
}

void user_run(const struct bootinfo *bi, void (*fn)(void *), void *arg)
{
	(void)bi;
	fn(arg);
	report_finish();
	halt_forever();
}

#endif
