/*
 * libFuzzer target: virtio-pmem. The input is the guest (fuzz_vm.h):
 * FLUSH requests and chains of any shape, answered after an fsync on
 * the loop, with resets and pauses while it is in flight.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_PMEM, data, size);
}
