/* The few string functions the guests need; the compiler may also call them. */
#ifndef GUEST_STRING_H
#define GUEST_STRING_H

#include "types.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/*
 * -ffreestanding turns off the compiler's builtins; these bring them back
 * so small fixed-size copies become plain loads and stores instead of calls.
 * Other sizes still call the functions above.
 */
#ifndef GUEST_STRING_IMPL
#define memcpy(d, s, n) __builtin_memcpy(d, s, n)
#define memset(d, c, n) __builtin_memset(d, c, n)
#define memcmp(a, b, n) __builtin_memcmp(a, b, n)
#endif

#endif
