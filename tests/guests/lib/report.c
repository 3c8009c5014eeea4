#include "report.h"

#include "io.h"
#include "printf.h"

static int npass, nfail;

void pass(const char *name)
{
	npass++;
	kprintf("PASS %s\n", name);
}

static void vfail(const char *name, const char *why, va_list ap)
{
	nfail++;
	kprintf("FAIL %s: ", name);
	kvprintf(why, ap);
	kprintf("\n");
}

void fail(const char *name, const char *why, ...)
{
	va_list ap;

	va_start(ap, why);
	vfail(name, why, ap);
	va_end(ap);
}

bool check(const char *name, bool ok, const char *why, ...)
{
	va_list ap;

	if (ok) {
		pass(name);
		return true;
	}
	va_start(ap, why);
	vfail(name, why, ap);
	va_end(ap);
	return false;
}

int report_failures(void)
{
	return nfail;
}

void report_finish(void)
{
	/* No check at all is a failure too: something skipped them. */
	if (nfail == 0 && npass > 0) {
		kprintf("ALL OK\n");
		debug_exit(EXIT_CODE_OK);
	}
	kprintf("FAILED %d of %d checks\n", nfail, nfail + npass);
	debug_exit(EXIT_CODE_FAIL);
}

void debug_exit(uint8_t code)
{
	outb(PORT_DEBUG_EXIT, code);
	kprintf("debug-exit port did not stop the machine; halting\n");
	halt_forever();
}
