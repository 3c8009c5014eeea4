/* The checks of a lab script, judged by name (lab_checks.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab_checks.h"
#include "lab_once.h"

void lab_checks_run(const struct lab_suite *s)
{
	const char *mvm = lab_env(s->prog, "MVM_BIN");
	const char *build = lab_env(s->prog, "MVM_BUILD_DIR");
	const char *script = lab_env(s->prog, s->script_env);
	const char *tmo = getenv("MVM_LAB_TIMEOUT");
	char *argv[] = { (char *)script, "-B", (char *)build, "--mvm",
			 (char *)mvm, tmo && *tmo ? "--timeout" : NULL,
			 (char *)tmo, NULL };

	lab_once_run(s->prog, s->log_env,
		     mvm && build && script ? argv : NULL);
}

bool lab_has_line(const char *log, const char *prefix, const char *desc)
{
	size_t pl = strlen(prefix), dl = strlen(desc);

	for (const char *p = log; (p = strstr(p, prefix)); p++) {
		if ((p == log || p[-1] == '\n') && !strncmp(p + pl, desc, dl) &&
		    (p[pl + dl] == '\n' || p[pl + dl] == '\r' || !p[pl + dl]))
			return true;
	}
	return false;
}

bool lab_have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* The log, or the test skipped (-Dlab=disabled) or failed (no log). */
static char *log_or_not_run(const struct lab_suite *s, const char *area)
{
	char *log;

	if (lab_disabled()) {
		fprintf(stderr, "[NOTE] %s NOT RUN: the build has "
			"-Dlab=disabled; %s under %s went unchecked\n",
			s->name, area, s->subject);
		cr_skip_test("-Dlab=disabled");
	}
	log = lab_once_log(s->log_env);
	cr_assert(log, "NOT RUN: %s: no lab log (%s did not start; see the "
		  "messages above)", area, s->script);
	return log;
}

void lab_checks_expect(const struct lab_suite *s, const char *area,
		       const char *const *want, size_t n)
{
	char *log = log_or_not_run(s, area);
	const char *st = strstr(log, "\nLAB-RUN-STATUS ");
	int lab_status = st ? atoi(st + 16) : -1;
	bool finished = strstr(log, " passed, ") && strstr(log, " failed\n");

	for (size_t i = 0; i < n; i++) {
		if (lab_has_line(log, "ok - ", want[i]))
			continue;
		if (lab_has_line(log, "not ok - ", want[i])) {
			cr_expect_fail("%s: failed: %s", area, want[i]);
			continue;
		}
		if (!finished)
			cr_assert_fail("NOT RUN: %s: the lab stopped before "
				"\"%s\" (exit status %d: 124 timed out, 125 lab "
				"crashed, 2 bad setup, 127 could not start, -1 "
				"not started); end of its log:\n%s", area,
				want[i], lab_status, lab_log_tail(log, 15));
		cr_expect_fail("%s: the check \"%s\" never ran", area, want[i]);
	}
	free(log);
}

void lab_checks_finished(const struct lab_suite *s)
{
	char *log = log_or_not_run(s, "the lab run");

	if (!strstr(log, " passed, ") || !strstr(log, " failed\n"))
		cr_assert_fail("NOT RUN: the lab script did not finish; end of "
			       "its log:\n%s", lab_log_tail(log, 15));
	cr_expect(strstr(log, " passed, 0 failed\n"), "the lab script did not "
		  "end with \"N passed, 0 failed\"; end of its log:\n%s",
		  lab_log_tail(log, 15));
	cr_expect_null(strstr(log, "\nnot ok - "), "a lab check failed (see "
		       "the log above)");
	cr_expect(strstr(log, "\nLAB-RUN-STATUS 0\n"), "%s did not end with "
		  "status 0", s->script);
	free(log);
}
