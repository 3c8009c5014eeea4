/*
 * LZ4 block decoding, for bzImage payloads that mvm unpacks itself
 * (unpack.c). The input is hostile: every length is checked against what
 * is left of the input and of the output before a byte moves, and a match
 * may only reach back into what this block has produced.
 */
#include <errno.h>
#include <string.h>

#include "loader.h"
#include "lz4.h"

/* Add the 255-continued extension bytes of a length; false if truncated. */
static bool read_length(const uint8_t **ip, const uint8_t *iend,
			uint64_t *len)
{
	uint8_t b;

	do {
		if (*ip >= iend)
			return false;
		b = *(*ip)++;
		*len += b;
	} while (b == 255);
	return true;
}

/*
 * Copy a match of len bytes from off back. Kernels are full of zero runs
 * (off 1) and other short-period patterns, so this is the decoder's hot
 * spot: word copies where the distance allows, with up to 7 bytes written
 * past the match when the output has room for them (bytes a later
 * sequence overwrites anyway).
 */
static void copy_match(uint8_t *d, uint64_t off, uint64_t len, uint64_t room)
{
	const uint8_t *s = d - off;
	uint8_t *e = d + len;

	if (off == 1) {
		memset(d, s[0], len);
	} else if (off >= 8 && room >= len + 8) {
		do {
			memcpy(d, s, 8);
			d += 8;
			s += 8;
		} while (d < e);
	} else if (off >= len) {
		memcpy(d, s, len);
	} else {
		while (d < e)
			*d++ = *s++; /* a repeating pattern, byte by byte */
	}
}

int64_t lz4_block_decode(const uint8_t *in, uint64_t in_len, uint8_t *out,
			 uint64_t cap)
{
	const uint8_t *ip = in, *iend = in + in_len;
	uint64_t op = 0;

	while (ip < iend) {
		uint8_t token = *ip++;
		uint64_t lit = token >> 4, len = token & 15, off;

		/*
		 * Most sequences are short: copy their literals 16 bytes at a
		 * time when both buffers have room (what lies past them is
		 * rewritten next). Only the block's last sequence has no match,
		 * and it cannot end before the 16 bytes asked for here.
		 */
		if (lit < 15 && iend - ip >= 16 + 2 && cap - op >= 16) {
			memcpy(out + op, ip, 16);
			ip += lit;
			op += lit;
		} else {
			if (lit == 15 && !read_length(&ip, iend, &lit))
				return -EINVAL;
			if (lit > (uint64_t)(iend - ip) || lit > cap - op)
				return -EINVAL;
			memcpy(out + op, ip, lit);
			ip += lit;
			op += lit;
			if (ip == iend)
				return (int64_t)op; /* the last: no match */
			if (iend - ip < 2)
				return -EINVAL;
		}
		off = (uint64_t)ip[0] | (uint64_t)ip[1] << 8;
		ip += 2;
		if (off == 0 || off > op)
			return -EINVAL;
		if (len == 15 && !read_length(&ip, iend, &len))
			return -EINVAL;
		len += 4; /* LZ4's minimum match */
		if (len > cap - op)
			return -EINVAL;
		if (off >= 8 && len <= 16 && cap - op >= 16) {
			memcpy(out + op, out + op - off, 8);
			memcpy(out + op + 8, out + op + 8 - off, 8);
		} else {
			copy_match(out + op, off, len, cap - op);
		}
		op += len;
	}
	return -EINVAL; /* empty input is not a block */
}

#define LEGACY_MAGIC 0x184c2102u
/* The largest compressed form of a full block (LZ4_compressBound). */
#define LEGACY_BLOCK_BOUND (LZ4_LEGACY_BLOCK + LZ4_LEGACY_BLOCK / 255 + 16)

bool lz4_legacy_probe(const uint8_t *in, uint64_t len)
{
	return len >= 4 && get_le32(in) == LEGACY_MAGIC;
}

int lz4_legacy_decode(const uint8_t *in, uint64_t len, uint8_t *buf,
		      uint64_t buf_len, lz4_sink_fn sink, void *ctx)
{
	uint64_t pos = 0;
	bool any = false;

	if (!lz4_legacy_probe(in, len))
		return -EINVAL;
	while (len - pos >= 4) {
		uint32_t csize = get_le32(in + pos);
		int64_t n;
		int ret;

		pos += 4;
		if (csize == LEGACY_MAGIC)
			continue; /* concatenated streams each start with it */
		if (csize == 0 || csize > LEGACY_BLOCK_BOUND || csize > len - pos)
			return -EINVAL;
		n = lz4_block_decode(in + pos, csize, buf,
				     buf_len < LZ4_LEGACY_BLOCK ? buf_len :
								  LZ4_LEGACY_BLOCK);
		if (n < 0)
			return (int)n;
		ret = sink(ctx, buf, (uint64_t)n);
		if (ret)
			return ret;
		pos += csize;
		any = true;
	}
	return any && pos == len ? 0 : -EINVAL;
}
