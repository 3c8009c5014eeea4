/*
 * Kernel loaders. Each loader recognises one format, copies the kernel and
 * initrd into guest memory, writes its protocol's boot structures, and says
 * how the boot vCPU must start. Loaders are pure: they touch only guest
 * memory, so they are unit-tested without KVM.
 */
#ifndef MVM_BOOT_H
#define MVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "mvm/e820.h"

struct guest_mem;
struct mvm_err;

enum boot_cpu_mode {
	BOOT_MODE_PROT32, /* flat 32-bit protected mode, paging off */
	BOOT_MODE_LONG64, /* 64-bit long mode, identity map at LAYOUT_PML4 */
};

enum boot_format {
	BOOT_FMT_BZIMAGE,
	BOOT_FMT_BZIMAGE_UNPACKED, /* its vmlinux unpacked by mvm, see unpack.c */
	BOOT_FMT_PVH,
	BOOT_FMT_MULTIBOOT,
};

/* The boot vCPU's starting state, as the protocol demands. */
struct boot_entry {
	enum boot_format format;
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rsp;
	uint64_t rax, rbx, rsi; /* protocol registers (magic, info pointer) */
};

/* What the loader is given. Files are already read into memory. */
struct boot_input {
	const uint8_t *kernel;
	size_t kernel_size;
	const char *kernel_name; /* for messages */
	const uint8_t *initrd;   /* may be NULL */
	size_t initrd_size;
	const char *initrd_name;
	const char *cmdline; /* never NULL; "" for none */
	const struct e820_map *e820;
	uint64_t rsdp; /* guest address of the ACPI RSDP */
};

/*
 * Detect the format of in->kernel and load it. Returns 0 and fills *out, or
 * a negative errno with a one-line message naming the culprit:
 * "kernel FILE: ...", "initrd FILE: ...", "cmdline: ...".
 */
int boot_load(struct guest_mem *gm, const struct boot_input *in,
	      struct boot_entry *out, struct mvm_err *err);

/* Per-format loaders; each returns -ENOEXEC when the image is not its format. */
int boot_load_bzimage(struct guest_mem *gm, const struct boot_input *in,
		      struct boot_entry *out, struct mvm_err *err);
int boot_load_pvh(struct guest_mem *gm, const struct boot_input *in,
		  struct boot_entry *out, struct mvm_err *err);
int boot_load_multiboot(struct guest_mem *gm, const struct boot_input *in,
			struct boot_entry *out, struct mvm_err *err);

/* How a kernel of this format was booted, in words, for logs. */
const char *boot_format_name(enum boot_format f);

/* Write the boot GDT and the identity page tables used by 64-bit entries. */
int boot_write_cpu_tables(struct guest_mem *gm, struct mvm_err *err);

/* Write the boot GDT alone, for 32-bit entries (no paging). */
int boot_write_gdt(struct guest_mem *gm, struct mvm_err *err);

/* Selectors in the boot GDT at LAYOUT_GDT. */
#define BOOT_GDT_CODE64 0x08
#define BOOT_GDT_CODE32 0x10
#define BOOT_GDT_DATA 0x18
#define BOOT_GDT_ENTRIES 4

#endif
