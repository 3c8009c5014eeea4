#ifndef GUEST_CPUID_VIRT_H
#define GUEST_CPUID_VIRT_H

#include "../lib/types.h"

/*
 * action=cpuid: prints the CPU vendor and whether CPUID offers VMX or SVM
 * ("cpuid-virt: vendor=... vmx=0|1 svm=0|1 svm_rev=..."), then exits
 * through the debug port with code 0.
 */
NORETURN void cpuid_virt_report(void);

#endif
