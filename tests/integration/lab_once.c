#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab_once.h"

bool lab_disabled(void)
{
	const char *mode = getenv("MVM_LAB");

	return mode && !strcmp(mode, "disabled");
}

const char *lab_env(const char *prog, const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "%s: %s is not set (run through meson test)\n",
			prog, name);
		return NULL;
	}
	return v;
}

/* A new log file under $MVM_BUILD_DIR/lab, named in log_env. */
static FILE *open_log(const char *prog, const char *log_env)
{
	const char *build = getenv("MVM_BUILD_DIR");
	char dir[4096], path[4096 + 64];
	FILE *log;
	int fd;

	snprintf(dir, sizeof(dir), "%s/lab", build && *build ? build : ".");
	if (build && *build)
		mkdir(build, 0755);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s.XXXXXX", dir, prog);
	fd = mkstemp(path);
	log = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!log) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, path,
			strerror(errno));
		return NULL;
	}
	setenv(log_env, path, 1);
	return log;
}

static void run_once(const char *prog, const char *log_env, char *const *argv)
{
	FILE *log = open_log(prog, log_env);
	int pipefd[2], status = -1;
	char buf[4096];
	pid_t pid;
	ssize_t n;

	if (!log)
		return;
	if (!argv || pipe2(pipefd, O_CLOEXEC) < 0) {
		fprintf(log, "LAB-RUN-STATUS -1\n");
		fclose(log);
		return;
	}
	printf("%s: booting the lab once for every test (%s)\n", prog,
	       argv[0]);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	while (pid > 0 && (n = read(pipefd[0], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* Flushed as it comes: a slow lab is watched while it runs. */
		fwrite(buf, 1, (size_t)n, stdout);
		fflush(stdout);
		fwrite(buf, 1, (size_t)n, log);
		fflush(log);
	}
	close(pipefd[0]);
	if (pid > 0 && waitpid(pid, &status, 0) == pid)
		status = WIFEXITED(status) ? WEXITSTATUS(status)
					   : 128 + WTERMSIG(status);
	fprintf(log, "\nLAB-RUN-STATUS %d\n", status);
	fclose(log);
}

/*
 * The nested guests' kernels (L2, under the lab's KVM, itself under TCG)
 * very rarely hang or fault: in 2026-11 runs, about one lab run in twenty
 * saw a soft lockup at boot or a double fault at syscall entry, and
 * neither came back in dozens of runs after. Such a run is repeated once,
 * saying so, and its log is kept beside the new one; anything else (a
 * check that fails, a lab that does not boot) counts at once.
 */
static const char *const guest_kernel_trouble[] = {
	"watchdog: BUG: soft lockup",
	"rcu_preempt self-detected stall",
	"traps: PANIC: double fault",
};

static const char *trouble_in(const char *log)
{
	for (size_t i = 0; i < sizeof(guest_kernel_trouble) /
			       sizeof(guest_kernel_trouble[0]); i++)
		if (strstr(log, guest_kernel_trouble[i]))
			return guest_kernel_trouble[i];
	return NULL;
}

void lab_once_run(const char *prog, const char *log_env, char *const *argv)
{
	char *log, first[4096 + 64];
	const char *why, *path;

	run_once(prog, log_env, argv);
	log = lab_once_log(log_env);
	why = log ? trouble_in(log) : NULL;
	path = getenv(log_env);
	if (why && path) {
		snprintf(first, sizeof(first), "%s.first", path);
		rename(path, first);
		printf("%s: RETRY: a guest kernel in the lab reported \"%s\" "
		       "(the run's log is kept in %s); running the lab once "
		       "more\n", prog, why, first);
		fflush(stdout);
		run_once(prog, log_env, argv);
	}
	free(log);
}

/* Only a run of the tests needs the lab: not --help, not --list. */
static bool runs_tests(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--list") || !strcmp(argv[i], "-l"))
			return false;
	return true;
}

int lab_once_main(int argc, char **argv, const char *prog,
		  const char *log_env, void (*run)(void))
{
	struct criterion_test_set *tests = criterion_initialize();
	const char *path;
	int ret = 0;

	if (criterion_handle_args(argc, argv, true)) {
		if (runs_tests(argc, argv) && !lab_disabled())
			run();
		ret = !criterion_run_all_tests(tests);
	}
	criterion_finalize(tests);
	/* Concurrent runs each leave theirs; the last one stays. */
	path = getenv(log_env);
	if (path) {
		char last[4096 + 64];

		snprintf(last, sizeof(last), "%s/lab/%s.last.log",
			 getenv("MVM_BUILD_DIR"), prog);
		if (rename(path, last) == 0)
			printf("%s: the lab's whole log is in %s\n", prog, last);
		else
			unlink(path);
	}
	return ret;
}

char *lab_once_log(const char *log_env)
{
	const char *path = getenv(log_env);
	char *data = NULL;
	size_t len = 0, cap = 0;
	FILE *f;

	if (!path)
		return NULL;
	f = fopen(path, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(data, cap + 65536);

			if (!p)
				break;
			data = p;
			cap += 65536;
		}
		size_t got = fread(data + len, 1, cap - len - 1, f);

		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	if (data)
		data[len] = '\0';
	return data;
}

const char *lab_log_tail(const char *log, int lines)
{
	const char *tail = log + strlen(log);

	while (tail > log && lines > 0)
		if (*--tail == '\n')
			lines--;
	return tail;
}
