/*
 * libFuzzer target: virtio-rng. The input is the guest (fuzz_vm.h):
 * request chains of any shape, readable, empty or outside RAM.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_RNG, data, size);
}
