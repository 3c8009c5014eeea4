/*
 * Dynamic memory (mvm's, after Hyper-V's): a controller on the VMM's loop
 * keeps the guest's memory at what the guest uses plus buffer_percent,
 * within min_mib and max_mib. It reads the balloon's statistics; it
 * shrinks the guest by inflating the balloon, and grows it by deflating
 * the balloon, then by asking virtio-mem to plug blocks (up to max_mib);
 * a shrink gives plugged blocks back before it inflates, so that at most
 * one of the two holds anything. While the guest hosts guests of its own
 * the policy refuses dynamic_memory, and the controller is frozen until
 * that ends (src/vmm/dynmem.c).
 *
 * Its decisions are one pure function (dynmem_decide, src/vmm/
 * dynmem_plan.c): a tick's view of the devices and statistics in, the new
 * balloon target and virtio-mem request out. Nothing of it is saved: a
 * restored or migrated VM's controller starts as after a change (it waits
 * for fresh statistics), from the sizes the devices' state holds.
 */
#ifndef MVM_VMM_DYNMEM_H
#define MVM_VMM_DYNMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/loop.h"
#include "mvm/vm_config.h"

struct mvm_err;
struct policy_facts;
struct vmm;

/* The controller's period. */
#define DYNMEM_TICK_MS 1000
/* The statistics period of the balloon mvm adds for dynamic memory. */
#define DYNMEM_STATS_INTERVAL_S 1
/* Hysteresis: max(8 MiB, 5% of the size). A size below the need grows
 * to the need plus half of it; a size above the need by less than it is
 * left alone. */
#define DYNMEM_HYST_MIN_MIB 8
#define DYNMEM_HYST_PERCENT 5
/* Shrinks: at most 25% of the size a step, 3 s after the last change
 * and 20 s after the last growth: a workload's use wobbles by some 5%
 * from one second to the next while it climbs (measured under Linux in
 * the lab), and what was just given is not taken back on a wobble. */
#define DYNMEM_SHRINK_STEP_PERCENT 25
#define DYNMEM_SHRINK_COOLDOWN_MS 3000
#define DYNMEM_SHRINK_AFTER_GROW_MS 20000
/* After a change: fresh statistics rounds to wait for, and how long the
 * guest may take to reach the new sizes before the controller goes on. */
#define DYNMEM_FRESH_ROUNDS 2
#define DYNMEM_SETTLE_MS 30000

/* What the controller sees on one tick; sizes in MiB. */
struct dynmem_view {
	uint64_t ram_mib;            /* the boot memory */
	uint64_t balloon_mib;        /* the balloon's target */
	uint64_t balloon_actual_mib; /* what its driver holds */
	/* deflate_on_oom: Linux counts the balloon's pages as used. */
	bool balloon_counted_used;
	uint64_t hp_total_mib;       /* virtio-mem's region; 0: none */
	uint64_t hp_block_mib;
	uint64_t hp_requested_mib;
	uint64_t hp_plugged_mib;
	/* The guest's statistics: total and available (else free), bytes. */
	bool have_stats;
	uint64_t stats_total;
	uint64_t stats_avail;
	uint64_t stats_rounds;       /* statistics buffers read so far */
	uint64_t now_ms;             /* CLOCK_MONOTONIC */
};

/* What the controller keeps between ticks (never saved). */
struct dynmem_memory {
	bool changed;           /* a change (or a start) to wait after */
	uint64_t change_ms;
	uint64_t change_rounds; /* stats_rounds then */
	bool grew;              /* a growth to wait after before a shrink */
	uint64_t grow_ms;
};

enum dynmem_action { DYNMEM_HOLD, DYNMEM_GROW, DYNMEM_SHRINK };

struct dynmem_plan {
	enum dynmem_action action;
	const char *why;        /* HOLD: why (static text) */
	uint64_t used_mib;      /* the guest's, from its statistics */
	uint64_t kept_mib;      /* given less its total: its kernel's own */
	uint64_t want_mib;      /* the need: used + buffer + kept, within
				 * min and max */
	uint64_t size_mib;      /* RAM - balloon + requested, as asked now */
	uint64_t new_size_mib;  /* GROW/SHRINK: the same after the plan */
	uint64_t balloon_mib;   /* the new asks */
	uint64_t requested_mib;
};

/* One tick's decision: pure. */
void dynmem_decide(const struct dynmem_config *c, const struct dynmem_view *v,
		   const struct dynmem_memory *m, struct dynmem_plan *p);
/* RAM - balloon + plugged: the guest's memory as v's actual sizes say. */
uint64_t dynmem_current_mib(const struct dynmem_view *v);
/*
 * Is the controller frozen under facts f (the policy refuses
 * dynamic_memory: the guest hosts guests)? reason gets the policy's
 * reason ("" when not). Pure.
 */
bool dynmem_frozen(const struct policy_facts *f, char *reason, size_t cap);
/*
 * One tick of the controller: frozen under f (true; *p holds, with why
 * "frozen", and reason gets the policy's reason), or dynmem_decide's
 * plan (false). Pure: a frozen controller changes nothing, and the tick
 * after hosting ends decides as if nothing had happened.
 */
bool dynmem_tick(const struct dynmem_config *c, const struct policy_facts *f,
		 const struct dynmem_view *v, const struct dynmem_memory *m,
		 struct dynmem_plan *p, char *reason, size_t cap);

/* The controller, in struct vmm. Its counters are for the metrics. */
struct vmm_dynmem {
	int timer_fd;           /* -1: not running */
	struct loop_watch watch;
	bool watching;
	struct dynmem_memory mem;
	const char *last_why;   /* the last hold's reason, logged once */
	bool frozen;
	char reason[256];
	uint64_t grows, shrinks, frozen_ticks, fails;
};

/* GET /dynamic-memory. Sizes in MiB; before boot both are the boot's. */
struct vmm_dynmem_status {
	struct dynmem_config cfg;
	uint64_t current_mib; /* RAM - what the balloon holds + plugged */
	uint64_t target_mib;  /* RAM - the balloon's target + requested */
	bool frozen;
	char reason[256];     /* the policy's, when frozen */
};

int vmm_dynmem_status(struct vmm *v, struct vmm_dynmem_status *st,
		      struct mvm_err *err);
/*
 * PATCH /dynamic-memory on a booted VM: c is the whole new configuration.
 * -EINVAL naming the field when it breaks a rule against the running
 * machine (its balloon and virtio-mem are what they are), -EPERM (the
 * API's 409) when the policy refuses dynamic_memory. Turned off, the
 * sizes stay as they are, and the balloon and virtio-mem are the API's
 * again.
 */
int vmm_dynmem_patch(struct vmm *v, const struct dynmem_config *c,
		     struct mvm_err *err);

#endif
