/*
 * How long mvm took from its launcher's start to serving its API, as
 * Firecracker reports it when a launcher (its jailer) passes
 * --start-time-us, --start-time-cpu-us and --parent-cpu-time-us: wall time
 * on CLOCK_MONOTONIC, and CPU time of this process since the launcher read
 * it (the same process: exec keeps the count) plus its parent's.
 */
#include <time.h>

#include "mvm/clock.h"
#include "mvm/vmm.h"

void vmm_report_startup(struct vmm *v)
{
	struct vmm_startup *s = &v->startup;
	uint64_t now;

	if (s->start_set) {
		now = mvm_clock_ns(CLOCK_MONOTONIC) / 1000;
		/* A start in the future is the launcher's mistake: 0. */
		s->startup_us = now > s->start_us ? now - s->start_us : 0;
		s->reported = true;
		vmm_log(v, API_LOG_INFO, "startup", "serving the API %llu us "
			"after the launcher's start",
			(unsigned long long)s->startup_us);
	}
	if (s->start_cpu_set) {
		now = mvm_clock_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000;
		s->startup_cpu_us = (now > s->start_cpu_us ?
				     now - s->start_cpu_us : 0) +
				    s->parent_cpu_us;
		s->reported_cpu = true;
		vmm_log(v, API_LOG_INFO, "startup", "serving the API after "
			"%llu us of CPU time",
			(unsigned long long)s->startup_cpu_us);
	}
}
