/*
 * libFuzzer target: virtio-vsock. The input is the guest (fuzz_vm.h):
 * packets of any header and chains of any shape on its three queues,
 * while host programs connect to its socket with any first line (op 3)
 * and the host's port 5000 takes the guest's connections and closes
 * them (op 2), with resets and pauses in between.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_VSOCK, data, size);
}
