/*
 * The logger PUT /logger configures: human-readable lines to a file or a
 * named pipe, filtered by level and, optionally, by module. Off until
 * configured, so `mvm run` prints nothing but its own one-line messages.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/vmm.h"

static const char *level_tag(enum api_log_level l)
{
	static const char *const tags[] = { "OFF", "ERROR", "WARN", "INFO",
					    "DEBUG", "TRACE" };

	return (unsigned)l < sizeof(tags) / sizeof(tags[0]) ? tags[l] : "?";
}

void vmm_log(struct vmm *v, enum api_log_level level, const char *module,
	     const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (!v->log.f || level == API_LOG_OFF || level > v->log.level)
		return;
	if (v->log.module && strcmp(v->log.module, module))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(v->log.f, "%s.%09ld [%s", when, ts.tv_nsec, v->id);
	if (v->log.show_level)
		fprintf(v->log.f, ":%s", level_tag(level));
	if (v->log.show_origin)
		fprintf(v->log.f, ":%s", module);
	fputs("] ", v->log.f);
	va_start(ap, fmt);
	vfprintf(v->log.f, fmt, ap);
	va_end(ap);
	fputc('\n', v->log.f);
	/* A full pipe or disk: the line is lost, counted for the metrics. */
	if (fflush(v->log.f) || ferror(v->log.f)) {
		v->metrics.counts.missed_log++;
		clearerr(v->log.f);
	}
}

/* Move the logger settings from src into v->spec (src loses them). */
static void take_settings(struct vmm *v, struct vm_spec *src)
{
	if (src == &v->spec)
		return;
	free(v->spec.log_path);
	free(v->spec.log_module);
	v->spec.log_path = src->log_path;
	v->spec.log_module = src->log_module;
	src->log_path = src->log_module = NULL;
	v->spec.log_level = src->log_level;
	v->spec.log_show_level = src->log_show_level;
	v->spec.log_show_origin = src->log_show_origin;
	v->spec.logger_set = true;
}

static FILE *open_output(const char *path, struct mvm_err *err)
{
	FILE *f;
	int fd;

	/* Without a path the log goes to stderr, as Firecracker's does. */
	if (!path)
		fd = dup(2);
	else
		/* O_NONBLOCK: a FIFO without a reader fails now, not later. */
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
				O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		mvm_fail(err, -errno, "log_path: cannot open '%s': %s",
			 path ? path : "stderr", strerror(errno));
		return NULL;
	}
	f = fdopen(fd, "a");
	if (!f) {
		close(fd);
		mvm_fail(err, -ENOMEM, "out of memory");
	}
	return f;
}

int vmm_logger_set(struct vmm *v, struct vm_spec *src, struct mvm_err *err)
{
	FILE *f = NULL;

	if (!v->dry_run) {
		f = open_output(src->log_path, err);
		if (!f)
			return -EINVAL;
	}
	take_settings(v, src);
	vmm_log_fini(v);
	v->log.f = f;
	v->log.level = v->spec.log_level;
	v->log.show_level = v->spec.log_show_level;
	v->log.show_origin = v->spec.log_show_origin;
	v->log.module = v->spec.log_module;
	vmm_log(v, API_LOG_INFO, "logger", "logging at level %s",
		level_tag(v->log.level));
	return 0;
}

void vmm_log_fini(struct vmm *v)
{
	if (v->log.f)
		fclose(v->log.f);
	v->log.f = NULL;
}
