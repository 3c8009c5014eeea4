/*
 * kvm-floor: the least a process can do to boot bench/boot's multiboot
 * kernel on KVM and see it reach the exit port, as a floor for what any
 * VMM's start can cost on this machine. No devices, no threads, no API:
 *
 *   open /dev/kvm, create a VM and its RAM, load the ELF32 kernel's
 *   segments, write a multiboot information block with the command line,
 *   create one vCPU in 32-bit protected mode at the entry, and run it,
 *   answering the UART's status reads, copying its bytes to stdout, until
 *   the guest writes the isa-debug-exit port.
 *
 *   kvm-floor KERNEL CMDLINE [MEM_MIB [irqchip]]
 *
 * With "irqchip", the VM also gets KVM's in-kernel PIC, IOAPIC and PIT, as
 * mvm's VMs have: KVM then takes longer to create and, above all, to
 * destroy the VM (each of those devices leaves KVM's I/O bus through an
 * SRCU grace period), a cost every VMM with an in-kernel irqchip pays.
 *
 * Exits as QEMU's isa-debug-exit does, with (value << 1) | 1, so a bench
 * checks it like the VMMs it stands beside; 2 on any error, with why.
 * Guest RAM is anonymous 4 KiB pages, touched only where the kernel is.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MB_INFO 0x6000u	   /* the multiboot information block */
#define MB_CMDLINE 0x7000u /* the command line, after it */
#define MB_MAGIC 0x2badb002u
#define MBI_MEM (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define PORT_COM1 0x3f8
#define PORT_EXIT 0xf4
#define LSR_IDLE 0x60 /* THR and transmitter empty */

struct vm {
	int kvm, fd, cpu;
	uint8_t *ram;
	uint64_t ram_size;
	struct kvm_run *run;
};

static int fail(const char *what)
{
	fprintf(stderr, "kvm-floor: %s: %s\n", what, strerror(errno));
	return -1;
}

/* KVM's in-kernel PIC, IOAPIC and PIT, which mvm's VMs have too. */
static int vm_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
		return fail("KVM_CREATE_IRQCHIP/PIT2");
	return 0;
}

static int vm_create(struct vm *vm, uint64_t ram_size, bool irqchip)
{
	struct kvm_userspace_memory_region mr = { 0 };

	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm < 0)
		return fail("/dev/kvm");
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return fail("KVM_CREATE_VM");
	vm->ram_size = ram_size;
	vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED)
		return fail("mmap of guest RAM");
	mr.memory_size = ram_size;
	mr.userspace_addr = (uintptr_t)vm->ram;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	/*
	 * After the slot, as mvm does: a slot change with the irqchip in
	 * place waits for an SRCU grace period.
	 */
	return irqchip ? vm_irqchip(vm) : 0;
}

/* Copy the ELF32 file's PT_LOAD segments to their physical addresses. */
static int load_elf32(struct vm *vm, const uint8_t *f, size_t n,
		      uint32_t *entry)
{
	const Elf32_Ehdr *eh = (const void *)f;

	if (n < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS32 ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf32_Phdr) > n) {
		errno = ENOEXEC;
		return fail("kernel is not an ELF32 file");
	}
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf32_Phdr *ph = (const void *)(f + eh->e_phoff +
						      i * sizeof(Elf32_Phdr));

		if (ph->p_type != PT_LOAD)
			continue;
		if ((uint64_t)ph->p_paddr + ph->p_memsz > vm->ram_size ||
		    ph->p_filesz > ph->p_memsz ||
		    (uint64_t)ph->p_offset + ph->p_filesz > n) {
			errno = ERANGE;
			return fail("kernel segment outside RAM or file");
		}
		memcpy(vm->ram + ph->p_paddr, f + ph->p_offset, ph->p_filesz);
	}
	*entry = eh->e_entry;
	return 0;
}

static int load_kernel(struct vm *vm, const char *path, uint32_t *entry)
{
	struct stat st;
	void *f;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(path);
	f = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f == MAP_FAILED)
		return fail("mmap of the kernel");
	ret = load_elf32(vm, f, st.st_size, entry);
	munmap(f, st.st_size);
	return ret;
}

/* Multiboot v1 information: memory sizes and the command line. */
static int write_mbinfo(struct vm *vm, const char *cmdline)
{
	uint32_t info[4] = {
		MBI_MEM | MBI_CMDLINE,
		640,					/* mem_lower, KiB */
		(uint32_t)((vm->ram_size >> 10) - 1024), /* mem_upper, KiB */
		0,					/* boot_device */
	};
	uint32_t cl = MB_CMDLINE;
	size_t len = strlen(cmdline) + 1;

	if (len > 0x1000) {
		errno = E2BIG;
		return fail("command line");
	}
	memcpy(vm->ram + MB_INFO, info, sizeof(info));
	memcpy(vm->ram + MB_INFO + sizeof(info), &cl, sizeof(cl));
	memcpy(vm->ram + MB_CMDLINE, cmdline, len);
	return 0;
}

static void flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){ .base = 0, .limit = 0xffffffff,
				   .selector = sel, .type = type,
				   .present = 1, .dpl = 0, .db = 1, .s = 1,
				   .g = 1 };
}

/* One vCPU in flat 32-bit protected mode, paging off, at the entry. */
static int vcpu_create(struct vm *vm, uint32_t entry)
{
	struct kvm_sregs sr;
	struct kvm_regs r = { .rip = entry, .rax = MB_MAGIC, .rbx = MB_INFO,
			      .rflags = 0x2 };
	int sz;

	vm->cpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	sz = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->cpu < 0 || sz < 0)
		return fail("KVM_CREATE_VCPU");
	vm->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vm->cpu,
		       0);
	if (vm->run == MAP_FAILED)
		return fail("mmap of kvm_run");
	if (ioctl(vm->cpu, KVM_GET_SREGS, &sr) < 0)
		return fail("KVM_GET_SREGS");
	flat_seg(&sr.cs, 0x08, 0xb);
	flat_seg(&sr.ds, 0x10, 0x3);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.cr0 = 0x11; /* PE, ET */
	if (ioctl(vm->cpu, KVM_SET_SREGS, &sr) < 0 ||
	    ioctl(vm->cpu, KVM_SET_REGS, &r) < 0)
		return fail("KVM_SET_SREGS/REGS");
	return 0;
}

/*
 * One port I/O exit: the exit port's value in *code (return 1), the
 * UART's bytes to stdout, LSR reads answered idle, other reads 0.
 */
static int port_io(struct vm *vm, int *code)
{
	struct kvm_run *run = vm->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t len = run->io.size * run->io.count;

	if (run->io.direction == KVM_EXIT_IO_OUT) {
		if (run->io.port == PORT_EXIT) {
			*code = (data[0] << 1) | 1;
			return 1;
		}
		if (run->io.port == PORT_COM1 &&
		    write(STDOUT_FILENO, data, len) < 0)
			return fail("write to stdout");
		return 0;
	}
	memset(data, run->io.port == PORT_COM1 + 5 ? LSR_IDLE : 0, len);
	return 0;
}

static int run_vcpu(struct vm *vm, int *code)
{
	for (;;) {
		int ret;

		if (ioctl(vm->cpu, KVM_RUN, 0) < 0 && errno != EINTR)
			return fail("KVM_RUN");
		switch (vm->run->exit_reason) {
		case KVM_EXIT_IO:
			ret = port_io(vm, code);
			if (ret)
				return ret < 0 ? ret : 0;
			break;
		case KVM_EXIT_MMIO:
			if (!vm->run->mmio.is_write)
				memset(vm->run->mmio.data, 0xff, 8);
			break;
		default:
			fprintf(stderr, "kvm-floor: vCPU stopped, exit reason "
				"%u\n", vm->run->exit_reason);
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	struct vm vm = { .kvm = -1 };
	uint32_t entry = 0;
	int code = 2;

	if (argc < 3 || argc > 5 || (argc == 5 && strcmp(argv[4], "irqchip"))) {
		fprintf(stderr, "usage: kvm-floor KERNEL CMDLINE [MEM_MIB "
			"[irqchip]]\n");
		return 2;
	}
	if (vm_create(&vm, (argc >= 4 ? strtoull(argv[3], NULL, 0) : 32) << 20,
		      argc == 5) ||
	    load_kernel(&vm, argv[1], &entry) ||
	    write_mbinfo(&vm, argv[2]) || vcpu_create(&vm, entry) ||
	    run_vcpu(&vm, &code))
		return 2;
	return code;
}
