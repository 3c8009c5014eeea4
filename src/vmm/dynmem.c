/*
 * Dynamic memory's controller (include/mvm/vmm_dynmem.h) on the VMM's
 * loop: a timerfd every DYNMEM_TICK_MS. Each tick, on a running VM with
 * dynamic memory on, it asks the policy whether dynamic memory may move
 * (frozen while the guest hosts guests, and logged when that starts and
 * ends), reads the balloon's statistics and the devices' sizes, lets
 * dynmem_decide() choose, and asks the balloon and virtio-mem for the
 * new sizes. Every change is logged and counted for the metrics.
 */
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/policy.h"
#include "mvm/virtio_dev.h"
#include "mvm/vmm_balloon.h"
#include "mvm/vmm_dynmem.h"

#include "vmm_priv.h"

#define MIB (UINT64_C(1) << 20)

/* The guest's statistics dynamic memory reads, from the balloon. */
static void view_stats(const struct balloon_info *b, struct dynmem_view *w)
{
	uint32_t seen = b->stats_seen;
	int avail = seen & (1u << BALLOON_STAT_AVAIL) ? BALLOON_STAT_AVAIL :
						       BALLOON_STAT_FREE;

	w->have_stats = (seen & (1u << BALLOON_STAT_TOTAL)) &&
			(seen & (1u << avail));
	w->stats_total = b->stats[BALLOON_STAT_TOTAL];
	w->stats_avail = b->stats[avail];
	w->stats_rounds = b->stats_rounds;
}

static int view_hotplug(struct vmm *v, struct dynmem_view *w,
			struct mvm_err *err)
{
	struct virtio_mem_status st;
	int ret;

	if (!v->vm.cfg.mem_hotplug.total_mib)
		return 0;
	ret = vm_mem_status(&v->vm, &st, err);
	if (ret)
		return ret;
	w->hp_total_mib = st.region_size / MIB;
	w->hp_block_mib = st.block_size / MIB;
	w->hp_requested_mib = st.requested / MIB;
	w->hp_plugged_mib = st.plugged / MIB;
	return 0;
}

int vmm_dynmem_view(struct vmm *v, struct dynmem_view *w,
		    struct mvm_err *err)
{
	struct balloon_info b;
	int ret;

	memset(w, 0, sizeof(*w));
	w->ram_mib = v->vm.cfg.mem_mib;
	w->now_ms = mvm_mono_ms();
	ret = virtio_balloon_info(&v->vm.dev_ctx, &b, err);
	if (ret)
		return ret;
	w->balloon_mib = b.target_pages / BALLOON_PAGES_PER_MIB;
	w->balloon_actual_mib = b.actual_pages / BALLOON_PAGES_PER_MIB;
	w->balloon_counted_used = b.cfg.deflate_on_oom;
	view_stats(&b, w);
	return view_hotplug(v, w, err);
}

static bool live(const struct vmm *v)
{
	return v->have_vm && !v->dry_run && !v->tearing_down;
}

/* The policy's say changed: logged. */
static void note_frozen(struct vmm *v, bool frozen)
{
	struct vmm_dynmem *d = &v->dynmem;

	if (frozen && !d->frozen)
		vmm_log(v, API_LOG_INFO, "dynmem", "frozen: %s", d->reason);
	if (!frozen && d->frozen)
		vmm_log(v, API_LOG_INFO, "dynmem", "resumed: the guest hosts "
			"no guests now");
	d->frozen = frozen;
	d->frozen_ticks += frozen;
}

/* Growing deflates, then plugs; shrinking unplugs, then inflates. */
static int apply(struct vmm *v, const struct dynmem_view *w,
		 const struct dynmem_plan *p, struct mvm_err *err)
{
	bool grow = p->action == DYNMEM_GROW;
	bool plug = p->requested_mib != w->hp_requested_mib;
	bool blow = p->balloon_mib != w->balloon_mib;
	int ret = 0;

	if (plug && !grow)
		ret = vmm_hotplug_apply(v, p->requested_mib, err);
	if (!ret && blow)
		ret = vmm_balloon_apply(v, (uint32_t)p->balloon_mib, err);
	if (!ret && plug && grow)
		ret = vmm_hotplug_apply(v, p->requested_mib, err);
	return ret;
}

static void log_plan(struct vmm *v, const struct vm_config *cfg,
		     const struct dynmem_view *w, const struct dynmem_plan *p)
{
	vmm_log(v, API_LOG_INFO, "dynmem", "%s %llu -> %llu MiB: the guest "
		"uses %llu MiB, %u%% more and the %llu MiB its kernel keeps "
		"is %llu MiB (%llu-%llu); balloon %llu -> %llu MiB, "
		"virtio-mem %llu -> %llu MiB",
		p->action == DYNMEM_GROW ? "grow" : "shrink",
		(unsigned long long)p->size_mib,
		(unsigned long long)p->new_size_mib,
		(unsigned long long)p->used_mib, cfg->dynmem.buffer_percent,
		(unsigned long long)p->kept_mib,
		(unsigned long long)p->want_mib,
		(unsigned long long)cfg->dynmem.min_mib,
		(unsigned long long)cfg->dynmem.max_mib,
		(unsigned long long)w->balloon_mib,
		(unsigned long long)p->balloon_mib,
		(unsigned long long)w->hp_requested_mib,
		(unsigned long long)p->requested_mib);
}

static void hold(struct vmm *v, const struct dynmem_plan *p)
{
	if (p->why == v->dynmem.last_why)
		return;
	v->dynmem.last_why = p->why;
	vmm_log(v, API_LOG_DEBUG, "dynmem", "hold at %llu MiB: %s",
		(unsigned long long)p->size_mib, p->why);
}

/* The controller remembers a change (or a start) to wait after, and a
 * growth, which a shrink waits longer after. */
static void remember(struct vmm *v, const struct dynmem_view *w, bool grew)
{
	struct dynmem_memory *m = &v->dynmem.mem;

	m->changed = true;
	m->change_ms = w->now_ms;
	m->change_rounds = w->stats_rounds;
	if (grew) {
		m->grew = true;
		m->grow_ms = w->now_ms;
	}
	v->dynmem.last_why = NULL;
}

static void act(struct vmm *v, const struct dynmem_view *w,
		const struct dynmem_plan *p)
{
	struct mvm_err err = { .msg = "" };

	log_plan(v, &v->vm.cfg, w, p);
	remember(v, w, p->action == DYNMEM_GROW);
	if (apply(v, w, p, &err)) {
		v->dynmem.fails++;
		vmm_log(v, API_LOG_ERROR, "dynmem", "%s", err.msg);
		return;
	}
	if (p->action == DYNMEM_GROW)
		v->dynmem.grows++;
	else
		v->dynmem.shrinks++;
}

static void tick(struct vmm *v)
{
	struct mvm_err err = { .msg = "" };
	struct vmm_dynmem *d = &v->dynmem;
	struct policy_facts f;
	struct dynmem_view w;
	struct dynmem_plan p;
	char reason[sizeof(d->reason)];
	bool frozen;

	if (vmm_dynmem_view(v, &w, &err)) {
		vmm_log(v, API_LOG_ERROR, "dynmem", "%s", err.msg);
		return;
	}
	vmm_policy_facts(v, &f);
	frozen = dynmem_tick(&v->vm.cfg.dynmem, &f, &w, &d->mem, &p, reason,
			     sizeof(reason));
	if (frozen)
		memcpy(d->reason, reason, sizeof(d->reason));
	note_frozen(v, frozen);
	if (p.action == DYNMEM_HOLD)
		hold(v, &p);
	else
		act(v, &w, &p);
}

static void on_tick(void *ctx)
{
	struct vmm *v = ctx;
	uint64_t n;

	if (read(v->dynmem.timer_fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing to read; the tick runs all the same. */
	}
	if (live(v) && v->vm.cfg.dynmem.enabled &&
	    v->state == VM_STATE_RUNNING)
		tick(v);
}

/* Hotpluggable memory from the boot memory up to max_mib, whole slots. */
static void add_hotplug(struct vmm *v, struct vm_config *cfg)
{
	struct mem_hotplug_config *h = &cfg->mem_hotplug;
	uint64_t slot = MEM_HOTPLUG_DEFAULT_SLOT_MIB;
	uint64_t need = cfg->dynmem.max_mib - cfg->mem_mib;

	*h = (struct mem_hotplug_config){
		.total_mib = (need + slot - 1) / slot * slot,
		.slot_mib = slot,
		.block_mib = MEM_HOTPLUG_DEFAULT_BLOCK_MIB,
	};
	vmm_log(v, API_LOG_INFO, "dynmem", "added hotpluggable memory for "
		"max_mib: %llu MiB in slots of %llu MiB, blocks of %llu MiB",
		(unsigned long long)h->total_mib, (unsigned long long)slot,
		(unsigned long long)h->block_mib);
}

void vmm_dynmem_complete(struct vmm *v, struct vm_config *cfg)
{
	struct balloon_config *b = &cfg->balloon;

	if (!cfg->dynmem.enabled)
		return;
	if (!b->enabled) {
		*b = (struct balloon_config){
			.enabled = true,
			.stats_interval_s = DYNMEM_STATS_INTERVAL_S,
		};
		vmm_log(v, API_LOG_INFO, "dynmem", "added a balloon with "
			"statistics every %u s", DYNMEM_STATS_INTERVAL_S);
	}
	if (cfg->dynmem.max_mib > cfg->mem_mib && !cfg->mem_hotplug.total_mib)
		add_hotplug(v, cfg);
	/* Hyper-V's: a VM starts with its startup memory. */
	b->amount_mib = 0;
	cfg->mem_hotplug.requested_mib = 0;
}

static int arm(struct vmm *v, struct mvm_err *err)
{
	struct vmm_dynmem *d = &v->dynmem;
	struct timespec period = {
		.tv_sec = DYNMEM_TICK_MS / 1000,
		.tv_nsec = DYNMEM_TICK_MS % 1000 * 1000000L,
	};
	struct itimerspec its = { .it_interval = period, .it_value = period };

	d->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->timer_fd < 0)
		return mvm_fail_host(err, -errno, "dynamic memory: timerfd: "
				     "%s", strerror(errno));
	if (timerfd_settime(d->timer_fd, 0, &its, NULL) < 0)
		return mvm_fail_host(err, -errno, "dynamic memory: timerfd: "
				     "%s", strerror(errno));
	if (loop_watch_add(&v->loop, &d->watch, d->timer_fd, on_tick, v))
		return mvm_fail(err, -EBUSY, "dynamic memory: event loop "
				"full");
	/* A tick mid-teardown would read a VM being freed. */
	d->watch.holdable = true;
	d->watching = true;
	return 0;
}

void vmm_dynmem_rewait(struct vmm *v)
{
	struct dynmem_view w = { .now_ms = mvm_mono_ms() };
	struct mvm_err ignored;

	if (vmm_dynmem_view(v, &w, &ignored))
		w.stats_rounds = 0;
	remember(v, &w, false);
}

int vmm_dynmem_start(struct vmm *v, struct mvm_err *err)
{
	if (!v->vm.cfg.dynmem.enabled || v->dry_run)
		return 0;
	/* What vmm_dynmem_complete added is the machine's from now on. */
	v->spec.balloon = v->vm.cfg.balloon;
	v->spec.mem_hotplug = v->vm.cfg.mem_hotplug;
	/* A restored VM's statistics may be old: wait as after a change. */
	vmm_dynmem_rewait(v);
	v->dynmem.frozen = false;
	return v->dynmem.watching ? 0 : arm(v, err);
}

void vmm_dynmem_stop(struct vmm *v)
{
	struct vmm_dynmem *d = &v->dynmem;

	if (d->watching)
		loop_watch_cancel(&d->watch);
	d->watching = false;
	if (d->timer_fd >= 0)
		close(d->timer_fd);
	d->timer_fd = -1;
}
