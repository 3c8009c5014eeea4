/*
 * Kernel command line parsing: space-separated words, key=value or bare
 * keys. A value may be double-quoted to hold spaces. Words that are not
 * key=value (e.g. the kernel path some loaders put first) are ignored by
 * lookups of other keys.
 */
#ifndef GUEST_CMDLINE_H
#define GUEST_CMDLINE_H

#include "types.h"

/* Finds key and points val/len at its value ("" for a bare key). */
bool cmdline_find(const char *cl, const char *key, const char **val,
		  size_t *len);
/* Copies the value into buf. 1 found, 0 absent, -1 value too long. */
int cmdline_str(const char *cl, const char *key, char *buf, size_t size);
/* Decimal or 0x-hex number. 1 found, 0 absent, -1 malformed. */
int cmdline_u64(const char *cl, const char *key, uint64_t *out);
/* Same, with a default for an absent key; a malformed one also yields def. */
uint64_t cmdline_u64_or(const char *cl, const char *key, uint64_t def);
/* Parses a whole number in s[0..len). Returns false when malformed. */
bool parse_u64(const char *s, size_t len, uint64_t *out);

#endif
