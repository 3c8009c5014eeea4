/*
 * libFuzzer target: virtio-net transmit and receive. The input is the
 * guest (fuzz_vm.h) and the wire: hostile transmit chains; receive buffers
 * that are too short for a frame, malformed, or changed under the device;
 * frames arriving from the backend (a socket pair) at any time. A receive
 * path that spins on short buffers is a timeout here.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_NET, data, size);
}
