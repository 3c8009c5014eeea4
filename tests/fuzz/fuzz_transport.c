/*
 * libFuzzer target: the virtio-pci transport. The driver's reads and
 * writes of common config (features, status, queue setup and its freeze,
 * reset), ISR, device config, notify and MSI-X, and of PCI config space,
 * in any order, with rings going live wherever it points them. The first
 * byte picks the device behind the transport; the rest is fuzz_one()'s.
 */
#include "fuzz_vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum fuzz_dev kinds[5] = { FUZZ_RNG, FUZZ_BLK, FUZZ_NET,
						FUZZ_BALLOON, FUZZ_MEM };

	if (!size)
		return 0;
	return fuzz_one(kinds[data[0] % 5], data + 1, size - 1);
}
