/*
 * libFuzzer target: virtio-balloon. The input is the guest (fuzz_vm.h):
 * PFN arrays of any length and value on the inflate and deflate queues,
 * statistics buffers of any shape, hinting commands and free ranges,
 * reported ranges; every PFN and range is checked against guest RAM.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_BALLOON, data, size);
}
