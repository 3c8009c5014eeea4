/*
 * The checks of a lab script that prints one "ok - DESC" or "not ok -
 * DESC" line per check and ends with "N passed, N failed", judged by name
 * from the log lab_once.h keeps: a check that failed fails its test, and
 * one that never ran fails too (NOT RUN, with the end of the log, when
 * the lab stopped before it).
 */
#ifndef MVM_TEST_LAB_CHECKS_H
#define MVM_TEST_LAB_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

struct lab_suite {
	const char *prog;       /* "test_lab_memory": the binary */
	const char *name;       /* "lab_memory": the meson test */
	const char *script;     /* "tests/lab/memory" */
	const char *script_env; /* "MVM_LAB_MEMORY": the script's path */
	const char *log_env;    /* "MVM_LAB_MEMORY_LOG" */
	const char *subject;    /* "Linux's drivers": what goes unchecked */
};

/* main()'s run: SCRIPT -B BUILD --mvm MVM [--timeout $MVM_LAB_TIMEOUT]. */
void lab_checks_run(const struct lab_suite *s);
/* Every check in want[] ran and passed (area names them in messages). */
void lab_checks_expect(const struct lab_suite *s, const char *area,
		       const char *const *want, size_t n);
/* The script ran to its end, with 0 failed and status 0. */
void lab_checks_finished(const struct lab_suite *s);

/* Does the log have the whole line "<prefix><desc>"? */
bool lab_has_line(const char *log, const char *prefix, const char *desc);
/* Is prog on PATH? */
bool lab_have(const char *prog);

#define LAB_EXPECT(suite, area, list)                                      \
	lab_checks_expect(suite, area, list, sizeof(list) / sizeof(list[0]))

#endif
