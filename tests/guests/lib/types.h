/*
 * Basic types for the guest kernels. Only the compiler's freestanding
 * headers are used: the guests link no C library.
 */
#ifndef GUEST_TYPES_H
#define GUEST_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PACKED __attribute__((packed))
#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

/*
 * Physical memory is reachable 1:1 below 4 GiB in every guest: paging is off
 * in the 32-bit kernels and the 64-bit one runs on an identity map of the low
 * 4 GiB. Anything higher is out of reach, so callers check first.
 */
static inline bool phys_reachable(uint64_t pa, uint64_t len)
{
	return pa < 4 * GIB && len <= 4 * GIB - pa;
}

/*
 * The empty asm hides the constant from the compiler, which otherwise
 * "knows" that small fixed addresses such as 0x40e point at no object.
 */
static inline void *phys_ptr(uint64_t pa)
{
	void *p = (void *)(uintptr_t)pa;

	__asm__("" : "+r"(p));
	return p;
}

#endif
