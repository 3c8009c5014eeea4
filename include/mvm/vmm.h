/*
 * The VMM process: one event loop on the main thread, the signals, the
 * console, the spec of the VM to boot, at most one running VM and,
 * optionally, the API server. `mvm run`, `mvm --api-sock` and
 * `mvm --config-file` are this one controller fed differently.
 */
#ifndef MVM_VMM_H
#define MVM_VMM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mvm/spec.h"
#include "mvm/boot_timer.h"
#include "mvm/console.h"
#include "mvm/devices.h"
#include "mvm/lifecycle.h"
#include "mvm/loop.h"
#include "mvm/outq.h"
#include "mvm/rtc.h"
#include "mvm/vm.h"
#include "mvm/vmm_dynmem.h"

/* mvm's exit statuses (documented in the README), vmm_run()'s answer. */
#define MVM_EXIT_OK 0
#define MVM_EXIT_START_FAILED 1 /* bad input or host problem: nothing ran */
#define MVM_EXIT_GUEST_CRASHED 2 /* triple fault, KVM error, unknown exit */

/* Per-route request counters and a latency histogram, for the metrics. */
#define VMM_MAX_ROUTES 64
#define VMM_LAT_BUCKETS 40 /* bucket i: latency < 2^i microseconds */

struct vmm_api_stats {
	uint64_t count[VMM_MAX_ROUTES];
	uint64_t fails[VMM_MAX_ROUTES];
	uint64_t lat[VMM_LAT_BUCKETS];
	uint64_t lat_max_us;
	uint64_t requests;
	uint64_t other_fails; /* 404, 405, 413 and unparsable requests */
};

/*
 * The API's routes, by the index it counts them under (vmm_api_account),
 * named for the metrics. The front end fills it in (api_name_routes());
 * the VMM knows nothing else of the API.
 */
struct vmm_routes {
	unsigned n;
	const char *method[VMM_MAX_ROUTES];
	const char *name[VMM_MAX_ROUTES];
};

/* An instance id: 1 to 64 letters, digits and '-', as Firecracker's. */
#define VMM_ID_MAX 64

/* What the launcher said of its start (Firecracker's ProcessTimeReporter). */
struct vmm_startup {
	bool start_set, start_cpu_set;
	uint64_t start_us;      /* CLOCK_MONOTONIC when the launcher began */
	uint64_t start_cpu_us;  /* this process's CPU time then */
	uint64_t parent_cpu_us; /* the launcher's parent's CPU time */
	/* The metrics' api_server section, once the API serves. */
	bool reported, reported_cpu;
	uint64_t startup_us, startup_cpu_us;
};

struct vmm_log {
	FILE *f;             /* NULL: logging off */
	enum api_log_level level;
	bool show_level;
	bool show_origin;
	char *module;        /* NULL: everything */
};

/*
 * Firecracker's latencies_us: how long the last successful one of each
 * took, in microseconds (0: none yet), as the API saw the request and as
 * the VMM's part of it. Values held, not counts.
 */
enum vmm_latency {
	VMM_LAT_FULL_CREATE_SNAPSHOT,
	VMM_LAT_DIFF_CREATE_SNAPSHOT,
	VMM_LAT_LOAD_SNAPSHOT,
	VMM_LAT_PAUSE_VM,
	VMM_LAT_RESUME_VM,
	VMM_LATENCIES
};

struct vmm_latencies {
	uint64_t api_us[VMM_LATENCIES];
	uint64_t vmm_us[VMM_LATENCIES];
};

/*
 * Counters of the VMM's own, since start, and what the previous metrics
 * line reported of them and of the devices' and vCPUs' totals, so each
 * line carries deltas (a total below its last report: a new VM's device,
 * counted from zero).
 */
struct vmm_fc_counts {
	uint64_t missed_log;     /* log lines the log file did not take */
	uint64_t missed_metrics; /* metrics lines the file did not take */
	uint64_t metrics_fails;  /* metrics lines that could not be built */
	uint64_t sighup;         /* SIGHUPs taken (mvm ends on one) */
};

struct vmm_fc_last {
	struct vmm_fc_counts own;
	struct serial_counts uart;
	struct outq_counts outq;
	struct i8042_counts i8042;
	uint64_t vcpu[VCPU_COUNTS]; /* summed over the VM's vCPUs */
	uint64_t panics;
	uint64_t irq_triggers, irq_config_updates;
};

struct vmm_metrics {
	int fd;              /* -1: not configured */
	int timer_fd;
	struct loop_watch timer_watch;
	bool timer_armed;
	unsigned long last_exits[VM_METRICS_EXIT_REASONS];
	struct vmm_api_stats last_api;
	uint64_t lines;
	bool final_flushed; /* the last VM's last interval is written */
	uint64_t last_serial_dropped;
	/* Dynamic memory's grows, shrinks, frozen ticks, fails last time. */
	uint64_t last_dynmem[4];
	struct vmm_fc_counts counts;
	struct vmm_fc_last last_fc;
	struct vmm_latencies latencies;
};

struct vmm {
	struct loop loop;
	bool loop_ready;
	struct console console;
	bool console_ready;
	struct outq console_q; /* the UART's output, for every VM in turn */
	int sig_fd;
	struct loop_watch sig_watch;
	bool sig_watched;
	bool in_loop;        /* inside vmm_run's loop_run */

	struct vm_spec spec;
	char id[VMM_ID_MAX + 1]; /* the instance id in GET / */
	/*
	 * --start-time-us and the like: the launcher's start, to report
	 * how long mvm took to serve its API (vmm_report_startup).
	 */
	struct vmm_startup startup;
	/* --boot-timer: every VM built gets the boot timer's register. */
	bool boot_timer;
	struct boot_timer bt;
	struct loop_watch bt_watch;
	bool bt_watched;
	/* Validate and record only: no KVM, no files written (the fuzzer). */
	bool dry_run;

	enum vm_state state; /* changed only by vmm_transition() */
	struct vm vm;
	bool have_vm;        /* vm is built (it may be stopping) */
	bool discard_vm;     /* a failed start: torn down as a stopped VM is */
	/* The VM's teardown has begun: its devices are quiescing. */
	bool tearing_down;
	int serial_fd;       /* PUT /serial output, -1 for the console */
	/* The CMOS a rebooting VM left, for the VM that replaces it. */
	struct rtc_cmos cmos;
	bool cmos_kept;
	/* The NICs' taps, held from the first start to the end (vmm.c). */
	int tap_fds[VM_MAX_NETS];
	unsigned nr_taps;
	/* Where checkpoints are kept (PUT /checkpoints/config), or NULL. */
	char *checkpoint_dir;
	/* The child closing a rebooted VM's fd (vm_destroy_async), or 0. */
	pid_t teardown_pid;

	struct vmm_api_stats api_stats;
	struct vmm_routes routes;
	struct vmm_log log;
	struct vmm_metrics metrics;

	/*
	 * MMDS's data store (src/vmm/mmds.c), made at init, handed to the
	 * NICs that serve it; touched: an API call or --metadata made it
	 * Firecracker's "initialized" MMDS, which a booted VM keeps.
	 */
	struct mmds *mmds;
	bool mmds_touched;

	/* Dynamic memory's controller (src/vmm/dynmem.c). */
	struct vmm_dynmem dynmem;

	/* The live migration, in or out (src/vmm/migration*.c), or NULL. */
	struct vmm_migration *mig;
	/* mvm --incoming: a failed incoming migration ends mvm. */
	bool incoming_cli;

	/* Set when the process must end without a VM stop (signals). */
	bool quit;
	int quit_status;
	char quit_msg[128];
};

/* Set up the loop, signals and console. spec is taken over (moved). */
int vmm_init(struct vmm *v, struct vm_spec *spec, struct mvm_err *err);
/* Stop the API (removing its socket), the VM, the loop. Safe when partial. */
void vmm_fini(struct vmm *v);

/*
 * InstanceStart: build and start the VM from the spec. -EPERM when the
 * policy refuses the start (the API answers 409), other errors are bad
 * input or host trouble.
 */
int vmm_start_vm(struct vmm *v, struct mvm_err *err);
int vmm_pause(struct vmm *v, struct mvm_err *err);
int vmm_resume(struct vmm *v, struct mvm_err *err);
int vmm_send_ctrl_alt_del(struct vmm *v, struct mvm_err *err);
/*
 * PATCH /drives/{id}, already validated: swap the medium of a running VM's
 * disk to path (taken over; NULL: no swap) and give its rate limiter the
 * buckets rl has, then record both in the spec. Nothing changes on error.
 */
int vmm_drive_patch(struct vmm *v, const char *id, char *path,
		    const struct spec_limiter *rl, struct mvm_err *err);
/*
 * PATCH /network-interfaces/{id}, already validated: the buckets rx and
 * tx have, to the running NIC and the spec.
 */
int vmm_net_patch(struct vmm *v, const char *id,
		  const struct spec_limiter *rx, const struct spec_limiter *tx,
		  struct mvm_err *err);

/* Run the loop until the process must end; returns mvm's exit status. */
int vmm_run(struct vmm *v);

/*
 * Move the lifecycle on by e (include/mvm/lifecycle.h): 0, or -EINVAL
 * naming the event and the state when the table has no such transition.
 */
int vmm_transition(struct vmm *v, enum vm_event e, struct mvm_err *err);

/*
 * PUT /logger and PUT /metrics: open the output named in src and, once it
 * is open, take src's logger (metrics) settings into v->spec. src may be
 * &v->spec itself (a config file's settings at start-up).
 */
int vmm_logger_set(struct vmm *v, struct vm_spec *src, struct mvm_err *err);
int vmm_metrics_set(struct vmm *v, struct vm_spec *src, struct mvm_err *err);
/* PUT /serial: open the output now, so a bad path fails the call. */
int vmm_serial_set(struct vmm *v, struct vm_spec *src, struct mvm_err *err);
/* The facts the policy module decides on, as of now. */
struct policy_facts;
void vmm_policy_facts(struct vmm *v, struct policy_facts *f);
/* FlushMetrics: write one JSON line now. */
int vmm_metrics_flush(struct vmm *v, struct mvm_err *err);
void vmm_metrics_fini(struct vmm *v);
/* One API request done: count it for the metrics. */
void vmm_api_account(struct vmm *v, int route, int status, uint64_t us);
/*
 * Record how long a successful op took for the metrics' latencies_us:
 * ns since start_ns (CLOCK_MONOTONIC), as the API's handler saw it.
 * (The VMM records its own part itself.)
 */
void vmm_latency_api(struct vmm *v, enum vmm_latency op, uint64_t start_ns);

/*
 * --boot-timer: watch the boot timer from now on (vmm_boot_timer_enable);
 * start timing as a VM's build begins, as Firecracker times from the
 * InstanceStart request (vmm_boot_timer_arm); give the VM just created
 * its register (vmm_boot_timer_attach; both nothing without the flag);
 * log what is due and close (vmm_fini).
 */
int vmm_boot_timer_enable(struct vmm *v, struct mvm_err *err);
void vmm_boot_timer_arm(struct vmm *v);
int vmm_boot_timer_attach(struct vmm *v, struct mvm_err *err);
void vmm_boot_timer_fini(struct vmm *v);

/*
 * The API serves now: work out how long the start took from what the
 * launcher gave (v->startup), for the metrics and the log.
 */
void vmm_report_startup(struct vmm *v);

/* Log a line at level if the logger is on and the level passes. */
void vmm_log(struct vmm *v, enum api_log_level level, const char *module,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void vmm_log_fini(struct vmm *v);

/*
 * GET /vm/nested: the VM's facts queried fresh when one runs, else the
 * host probe and the configured setting. *out is a new reference (the
 * handler's response body).
 */
struct json_object;
int vmm_nested_json(struct vmm *v, struct json_object **out,
		    struct mvm_err *err);

#endif
