/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the stream's
 * checksum: every byte of guest RAM sent is summed on both sides, so it
 * must cost little next to copying it. SSE 4.2's crc32 instruction does
 * 8 bytes per instruction; a CPU without it gets a table, 8 bytes per
 * step (slicing by 8).
 */
#include <endian.h>
#include <string.h>

#include "mvm/migration.h"

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static bool have_hw;

/*
 * Filled before main (the layer's code runs on several threads, none
 * before main): no lock, no check on every call.
 */
__attribute__((constructor)) static void crc32c_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^
				      table[0][table[t - 1][i] & 0xff];
#if defined(__x86_64__)
	/* A constructor runs before the CPU model is, without this. */
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t mig_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo = le32toh(lo) ^ c;
		hi = le32toh(hi);
		c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
		    table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
		    table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
		    table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
	}
	while (len--)
		c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
	return ~c;
}

bool mig_crc32c_have_hw(void)
{
	return have_hw;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
uint32_t mig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#else
uint32_t mig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return mig_crc32c_sw(crc, buf, len);
}
#endif

uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return have_hw ? mig_crc32c_hw(crc, buf, len) :
			 mig_crc32c_sw(crc, buf, len);
}
