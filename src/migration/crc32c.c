/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the stream's
 * checksum: every byte of guest RAM sent is summed on both sides, so it
 * must cost little next to copying it. SSE 4.2's crc32 instruction does
 * 8 bytes per instruction, but each waits for the one before (3 cycles):
 * three lanes of LANE bytes are summed side by side instead, and joined
 * (CRCs are linear: the CRC of X then Y is X's shifted over len(Y) zero
 * bytes, xor Y's from 0), 5 -> 12 GB/s or so. A CPU without it gets a
 * table, 8 bytes per step (slicing by 8).
 */
#include <endian.h>
#include <pthread.h>
#include <string.h>

#include "mvm/migration.h"

#define POLY 0x82F63B78u
#define LANE 1024u

static uint32_t table[8][256];
/* A CRC register moved over LANE zero bytes, a byte of it at a time. */
static uint32_t over_lane[4][256];
static bool have_hw;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* over_lane from the 32 one-bit registers each moved over LANE zeros. */
static void over_lane_init(void)
{
	uint32_t bit[32];

	for (unsigned k = 0; k < 32; k++) {
		uint32_t c = 1u << k;

		for (unsigned i = 0; i < LANE; i++)
			c = (c >> 8) ^ table[0][c & 0xff];
		bit[k] = c;
	}
	for (unsigned b = 0; b < 4; b++)
		for (unsigned v = 0; v < 256; v++) {
			uint32_t x = 0;

			for (unsigned j = 0; j < 8; j++)
				if (v & 1u << j)
					x ^= bit[8 * b + j];
			over_lane[b][v] = x;
		}
}

/*
 * Filled on first use, not before main: a VM that never migrates or
 * saves does not pay 300k instructions and 12 KiB of tables at start.
 * pthread_once, as the layer's code runs on several threads; once filled,
 * a call costs one load.
 */
static void crc32c_init(void)
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
	over_lane_init();
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t mig_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	pthread_once(&tables_once, crc32c_init);
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
	pthread_once(&tables_once, crc32c_init);
	return have_hw;
}

#if defined(__x86_64__)
static uint32_t shift_lane(uint32_t c)
{
	return over_lane[0][c & 0xff] ^ over_lane[1][(c >> 8) & 0xff] ^
	       over_lane[2][(c >> 16) & 0xff] ^ over_lane[3][c >> 24];
}

__attribute__((target("sse4.2")))
uint32_t mig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	pthread_once(&tables_once, crc32c_init);
	for (; len >= 3 * LANE; len -= 3 * LANE, p += 3 * LANE) {
		uint64_t a = c, b = 0, d = 0;

		for (unsigned i = 0; i < LANE; i += 8) {
			uint64_t x, y, z;

			memcpy(&x, p + i, 8);
			memcpy(&y, p + LANE + i, 8);
			memcpy(&z, p + 2 * LANE + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			d = __builtin_ia32_crc32di(d, z);
		}
		c = shift_lane(shift_lane((uint32_t)a) ^ (uint32_t)b) ^
		    (uint32_t)d;
	}
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
	pthread_once(&tables_once, crc32c_init);
	return have_hw ? mig_crc32c_hw(crc, buf, len) :
			 mig_crc32c_sw(crc, buf, len);
}
