/*
 * libFuzzer target: virtio-blk request processing. The input is the guest
 * (fuzz_vm.h): descriptor chains with hostile headers, data and status
 * buffers, discard segments, resets while requests are in flight, against
 * a small in-memory disk. Nothing may touch memory outside guest RAM
 * (ASan), and every input must end (libFuzzer's -timeout).
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_one(FUZZ_BLK, data, size);
}
