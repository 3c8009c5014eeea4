/*
 * action=cpuid: what a guest sees of the virtualization extensions, so the
 * host can check that `--nested off` hides them and `--nested on` shows
 * its vendor's one (CPUID.1:ECX[5] VMX, CPUID.80000001h:ECX[2] SVM, and
 * the SVM leaf 8000000Ah).
 */
#include "../lib/cpuid.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "cpuid_virt.h"

#define VMX_BIT (1u << 5)
#define SVM_BIT (1u << 2)

NORETURN void cpuid_virt_report(void)
{
	struct cpuid_regs r, ext;
	char vendor[13];
	uint32_t max_ext;
	bool vmx, svm = false;

	cpuid(0, 0, &r);
	__builtin_memcpy(vendor, &r.ebx, 4);
	__builtin_memcpy(vendor + 4, &r.edx, 4);
	__builtin_memcpy(vendor + 8, &r.ecx, 4);
	vendor[12] = '\0';
	cpuid(1, 0, &r);
	vmx = r.ecx & VMX_BIT;
	cpuid(0x80000000, 0, &ext);
	max_ext = ext.eax;
	if (max_ext >= 0x80000001) {
		cpuid(0x80000001, 0, &ext);
		svm = ext.ecx & SVM_BIT;
	}
	ext.eax = ext.ebx = ext.edx = 0;
	if (max_ext >= 0x8000000a)
		cpuid(0x8000000a, 0, &ext);
	kprintf("cpuid-virt: vendor=%s vmx=%d svm=%d svm_rev=0x%x "
		"svm_asids=%u svm_features=0x%x\n", vendor, vmx ? 1 : 0,
		svm ? 1 : 0, ext.eax, ext.ebx, ext.edx);
	debug_exit(EXIT_CODE_OK);
}
