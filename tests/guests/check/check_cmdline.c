/* The command line arrived whole: echo it for the host, and find tag=. */
#include "../lib/cmdline.h"
#include "../lib/printf.h"
#include "../lib/report.h"
#include "checks.h"

void check_cmdline(const struct bootinfo *bi)
{
	char tag[64];

	kprintf("cmdline: %s\n", bi->cmdline);
	if (!check_enabled(bi, "cmdline"))
		return;
	int r = cmdline_str(bi->cmdline, "tag", tag, sizeof(tag));
	if (bi->cmdline_truncated)
		fail("cmdline", "truncated at %u bytes",
		     (unsigned)(BI_CMDLINE_MAX - 1));
	else if (r == 0)
		fail("cmdline", "no tag= in the command line");
	else if (r < 0)
		fail("cmdline", "tag= value too long");
	else {
		kprintf("tag: %s\n", tag);
		pass("cmdline");
	}
}
