/*
 * CRC-32 as zlib, Python's zlib.crc32 and cksum -o3 compute it (reflected
 * polynomial 0xEDB88320, initial and final inversion), so the host can state
 * an initrd's CRC with standard tools.
 */
#ifndef GUEST_CRC32_H
#define GUEST_CRC32_H

#include "types.h"

/* crc is the running value: start with 0, feed the result back. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);

#endif
