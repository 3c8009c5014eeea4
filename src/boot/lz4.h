/*
 * LZ4 decoding (lz4.c) for the kernel loaders: the block format and the
 * "legacy" stream the Linux build wraps a compressed kernel in. Private to
 * src/boot.
 */
#ifndef MVM_BOOT_LZ4_H
#define MVM_BOOT_LZ4_H

#include <stdbool.h>
#include <stdint.h>

/* A legacy stream's blocks each decode to at most this many bytes. */
#define LZ4_LEGACY_BLOCK (8u << 20)

/*
 * Decode one LZ4 block of in_len bytes into out (cap bytes). Returns the
 * bytes produced, or -EINVAL for a block that is malformed or would not
 * fit.
 */
int64_t lz4_block_decode(const uint8_t *in, uint64_t in_len, uint8_t *out,
			 uint64_t cap);

/* Takes each decoded block in order; non-zero stops the walk with it. */
typedef int (*lz4_sink_fn)(void *ctx, const uint8_t *data, uint64_t n);

/* True when in starts like a legacy stream (its magic). */
bool lz4_legacy_probe(const uint8_t *in, uint64_t len);

/*
 * Decode a whole legacy stream (magic, then blocks each led by its
 * compressed size), block by block through buf into sink. buf_len need
 * not exceed LZ4_LEGACY_BLOCK; a block that decodes to more is refused.
 * -EINVAL if the stream is malformed or has trailing bytes.
 */
int lz4_legacy_decode(const uint8_t *in, uint64_t len, uint8_t *buf,
		      uint64_t buf_len, lz4_sink_fn sink, void *ctx);

#endif
