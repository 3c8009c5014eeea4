/*
 * One lab run for a whole criterion test binary. Booting the lab costs
 * more than any check, so main() runs the lab's script once, before
 * criterion starts the tests (criterion's sandbox spawns its workers badly
 * after a long hook), and writes everything it printed to a log whose path
 * the tests inherit through an environment variable; each test then judges
 * its part from that log.
 */
#ifndef MVM_TEST_LAB_ONCE_H
#define MVM_TEST_LAB_ONCE_H

#include <stdbool.h>

/* -Dlab=disabled (MVM_LAB=disabled): no lab at all. */
bool lab_disabled(void);
/* The variable's value, or NULL after saying it is missing. */
const char *lab_env(const char *prog, const char *name);
/*
 * Run argv (NULL-terminated; NULL itself when something was missing),
 * copying its output to stdout and to a new log under
 * $MVM_BUILD_DIR/lab, named in log_env; the log ends with
 * "LAB-RUN-STATUS <exit status>".
 */
void lab_once_run(const char *prog, const char *log_env, char *const *argv);
/*
 * main() for such a binary: run(), unless the lab is disabled or criterion
 * was only asked to list, then the tests; keeps the whole log as
 * $MVM_BUILD_DIR/lab/PROG.last.log, since meson keeps only its end.
 */
int lab_once_main(int argc, char **argv, const char *prog,
		  const char *log_env, void (*run)(void));
/* The whole log, NUL-terminated (caller frees), or NULL. */
char *lab_once_log(const char *log_env);
/* The log's last lines, where the reason a lab stopped short shows. */
const char *lab_log_tail(const char *log, int lines);

#endif
