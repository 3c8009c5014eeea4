/*
 * libFuzzer target for the kernel loaders: the input is a kernel file
 * (bzImage, ELF with a PVH note, multiboot v1, or anything else), loaded
 * with a small initrd into a guest of 64 MiB. Whatever the headers claim,
 * the loaders must either refuse the image with a message or load it with
 * an entry point inside guest RAM, and never write outside guest memory
 * (the address sanitizer watches the RAM buffer's edges).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/boot.h"
#include "mvm/e820.h"
#include "mvm/err.h"
#include "mvm/layout.h"
#include "mvm/mem.h"

#define RAM_SIZE (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static const uint8_t initrd[4096] = { 0x1f, 0x8b };
	static struct e820_map map;
	static struct guest_mem gm;
	struct boot_input in = {
		.kernel = data, .kernel_size = size, .kernel_name = "fuzz",
		.initrd = initrd, .initrd_size = sizeof(initrd),
		.initrd_name = "initrd",
		/* nokaslr: bzImages go through mvm's own unpacking too. */
		.cmdline = "console=ttyS0 nokaslr",
		.e820 = &map, .rsdp = LAYOUT_ACPI,
	};
	struct boot_entry e;
	struct mvm_err err = { .msg = "" };
	int ret;

	if (!ram) {
		ram = malloc(RAM_SIZE);
		if (!ram || gm_add_host(&gm, 0, ram, RAM_SIZE))
			abort(); /* the harness itself failed, not mvm */
		e820_build(&map, &gm);
	}
	ret = boot_load(&gm, &in, &e, &err);
	if (ret) {
		/* A refusal is fine, but it must say why. */
		if (ret > 0 || !err.msg[0])
			abort();
		return 0;
	}
	if (e.rip >= RAM_SIZE)
		abort();
	return 0;
}
