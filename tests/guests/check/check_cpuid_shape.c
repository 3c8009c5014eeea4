/*
 * CPUID as the VM's configuration shapes it: the threads a core (SMT) and
 * the bits a CPU template fixes. Both are asked for on the command line:
 *   threads=N                  every leaf that counts threads says N
 *   cpuidwant=L/S/R/MASK/VALUE[,...]  CPUID(L, S).R & MASK == VALUE, where
 *                              R is a, b, c or d (EAX..EDX)
 *   msrwant=ADDR/MASK/VALUE[,...]     RDMSR(ADDR) & MASK == VALUE (the host
 *                              test names only MSRs the vCPU has: another
 *                              would fault)
 */
#include "../lib/cmdline.h"
#include "../lib/cpuid.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "../lib/string.h"
#include "checks.h"

static bool vendor_is_amd(void)
{
	struct cpuid_regs r;

	cpuid(0, 0, &r);
	/* "AuthenticAMD": EBX "Auth", EDX "enti", ECX "cAMD". */
	return r.ebx == 0x68747541 && r.edx == 0x69746e65 &&
	       r.ecx == 0x444d4163;
}

static uint32_t max_ext_leaf(void)
{
	struct cpuid_regs r;

	cpuid(0x80000000, 0, &r);
	return r.eax;
}

static void check_threads(const struct bootinfo *bi)
{
	uint64_t want, cpus = 1;
	struct cpuid_regs r;
	uint32_t shift = 0;

	if (cmdline_u64(bi->cmdline, "threads", &want) != 1)
		return;
	cmdline_u64(bi->cmdline, "cpus", &cpus);
	while ((1u << shift) < want)
		shift++;
	if (cpuid_max_leaf() >= 0xb) {
		cpuid(0xb, 0, &r);
		kprintf("cpuid-smt: leaf 0xB level 0: shift %u, %u thread(s)\n",
			r.eax & 0x1f, r.ebx & 0xffff);
		if ((r.ebx & 0xffff) != want || (r.eax & 0x1f) != shift) {
			fail("cpuid-smt", "leaf 0xB level 0 says %u threads, "
			     "shift %u; want %llu, %u", r.ebx & 0xffff,
			     r.eax & 0x1f, (unsigned long long)want, shift);
			return;
		}
	}
	cpuid(1, 0, &r);
	if (((r.ebx >> 16) & 0xff) < cpus || !!(r.edx & (1u << 28)) !=
	    (cpus > 1)) {
		fail("cpuid-smt", "leaf 1: %u logical, HTT %u for %llu cpus",
		     (r.ebx >> 16) & 0xff, !!(r.edx & (1u << 28)),
		     (unsigned long long)cpus);
		return;
	}
	if (vendor_is_amd() && max_ext_leaf() >= 0x8000001e) {
		cpuid(0x8000001e, 0, &r);
		if (((r.ebx >> 8) & 0xff) + 1 != want) {
			fail("cpuid-smt", "leaf 0x8000001E: %u threads a "
			     "compute unit, want %llu", ((r.ebx >> 8) & 0xff) +
			     1, (unsigned long long)want);
			return;
		}
	} else if (!vendor_is_amd() && cpuid_max_leaf() >= 4) {
		/* Leaf 4 subleaf 0 is the L1 cache, shared by a core. */
		cpuid(4, 0, &r);
		if ((r.eax & 0x1f) && ((r.eax >> 14) & 0xfff) + 1 != want) {
			fail("cpuid-smt", "leaf 4: L1 shared by %u, want %llu",
			     ((r.eax >> 14) & 0xfff) + 1,
			     (unsigned long long)want);
			return;
		}
	}
	pass("cpuid-smt");
}

/* One "L/S/R/MASK/VALUE" of cpuidwant (reg_at 2), or one of msrwant's
 * "ADDR/MASK/VALUE" (reg_at -1); false if malformed. */
static bool parse_want(const char *s, size_t len, int nf, int reg_at,
		       uint64_t *f)
{
	int n = 0;

	for (size_t i = 0; i <= len && n < nf;) {
		size_t j = i;

		while (j < len && s[j] != '/')
			j++;
		if (n == reg_at) {
			if (j - i != 1 || s[i] < 'a' || s[i] > 'd')
				return false;
			f[n++] = (uint64_t)(s[i] - 'a');
		} else if (!parse_u64(s + i, j - i, &f[n++])) {
			return false;
		}
		i = j + 1;
	}
	return n == nf;
}

static void check_want(const struct bootinfo *bi)
{
	const char *v;
	size_t len;
	int checked = 0;

	if (!cmdline_find(bi->cmdline, "cpuidwant", &v, &len))
		return;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		struct cpuid_regs r;
		uint32_t reg[4];
		uint64_t f[5];

		while (j < len && v[j] != ',')
			j++;
		if (!parse_want(v + i, j - i, 5, 2, f)) {
			fail("cpuid-want", "malformed cpuidwant item %u",
			     checked);
			return;
		}
		cpuid((uint32_t)f[0], (uint32_t)f[1], &r);
		reg[0] = r.eax;
		reg[1] = r.ebx;
		reg[2] = r.ecx;
		reg[3] = r.edx;
		if ((reg[f[2]] & f[3]) != f[4]) {
			fail("cpuid-want", "CPUID 0x%x.0x%x e%cx = 0x%x: masked "
			     "0x%x is 0x%x, want 0x%x", (uint32_t)f[0],
			     (uint32_t)f[1], (char)('a' + f[2]), reg[f[2]],
			     (uint32_t)f[3], reg[f[2]] & (uint32_t)f[3],
			     (uint32_t)f[4]);
			return;
		}
		checked++;
		i = j + 1;
	}
	kprintf("cpuid-want: %d value(s) as the template says\n", checked);
	pass("cpuid-want");
}

static uint64_t rdmsr(uint32_t addr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(addr));
	return (uint64_t)hi << 32 | lo;
}

static void check_msrs(const struct bootinfo *bi)
{
	const char *v;
	size_t len;
	int checked = 0;

	if (!cmdline_find(bi->cmdline, "msrwant", &v, &len))
		return;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		uint64_t f[3], got;

		while (j < len && v[j] != ',')
			j++;
		if (!parse_want(v + i, j - i, 3, -1, f)) {
			fail("msr-want", "malformed msrwant item %u", checked);
			return;
		}
		got = rdmsr((uint32_t)f[0]);
		if ((got & f[1]) != f[2]) {
			fail("msr-want", "MSR 0x%x = 0x%llx: masked 0x%llx is "
			     "0x%llx, want 0x%llx", (uint32_t)f[0],
			     (unsigned long long)got, (unsigned long long)f[1],
			     (unsigned long long)(got & f[1]),
			     (unsigned long long)f[2]);
			return;
		}
		checked++;
		i = j + 1;
	}
	kprintf("msr-want: %d value(s) as the template says\n", checked);
	pass("msr-want");
}

void check_cpuid_shape(const struct bootinfo *bi)
{
	if (check_enabled(bi, "cpuid-smt"))
		check_threads(bi);
	if (check_enabled(bi, "cpuid-want"))
		check_want(bi);
	if (check_enabled(bi, "msr-want"))
		check_msrs(bi);
}
