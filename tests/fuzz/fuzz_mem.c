/*
 * libFuzzer target: virtio-mem. The input is the guest (fuzz_vm.h):
 * requests of any shape, length and content (PLUG, UNPLUG, UNPLUG_ALL,
 * STATE with hostile addresses and counts) against a region of two
 * blocks, with 0, 1 or 2 of them asked for.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_MEM, data, size);
}
