/*
 * Dynamic memory's pure parts: the controller's decision (what the guest
 * uses plus the buffer, within min and max, with hysteresis, shrinking a
 * step at a time and growing at once, the balloon below the boot memory
 * and virtio-mem above it), its freezing while the guest hosts guests and
 * its resuming after, and the configuration's rules.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mvm/policy.h"
#include "mvm/vm.h"
#include "mvm/vmm_dynmem.h"

#define MIB (UINT64_C(1) << 20)

/* min 64, max 512, 20%: RAM 256, 256 MiB of virtio-mem in 2 MiB blocks. */
static const struct dynmem_config cfg = {
	.enabled = true, .min_mib = 64, .max_mib = 512, .buffer_percent = 20,
};

/*
 * The statistics Linux sends for v's sizes: its total is what it was
 * given less the 16 MiB its kernel keeps (a balloon's pages go off it,
 * plugged blocks onto it), of which it uses used MiB. A guest using more
 * than that total says it uses all of a total that large.
 */
static void uses(struct dynmem_view *v, uint64_t used)
{
	uint64_t total = 240 - v->balloon_actual_mib + v->hp_plugged_mib;

	total = used > total ? used : total;
	v->stats_total = total * MIB;
	v->stats_avail = (total - used) * MIB;
}

/* A settled guest using used MiB, its statistics fresh, long after any
 * change. */
static struct dynmem_view guest(uint64_t used)
{
	struct dynmem_view v = {
		.ram_mib = 256,
		.hp_total_mib = 256,
		.hp_block_mib = 2,
		.have_stats = true,
		.stats_rounds = 100,
		.now_ms = 1000000,
	};

	uses(&v, used);
	return v;
}

static const struct dynmem_memory long_ago = {
	.changed = true, .change_ms = 1, .change_rounds = 1,
};

static struct dynmem_plan decide(const struct dynmem_view *v,
				 const struct dynmem_memory *m)
{
	struct dynmem_plan p;

	dynmem_decide(&cfg, v, m, &p);
	return p;
}

static void holds(const struct dynmem_view *v, const struct dynmem_memory *m,
		  const char *why)
{
	struct dynmem_plan p = decide(v, m);

	cr_assert_eq(p.action, DYNMEM_HOLD, "acted: %llu -> %llu",
		     (unsigned long long)p.size_mib,
		     (unsigned long long)p.new_size_mib);
	cr_assert_not_null(p.why);
	cr_assert(strstr(p.why, why), "hold '%s', want '%s'", p.why, why);
}

/* The guest takes the plan's asks as they are, and its total follows. */
static void follow(struct dynmem_view *v, const struct dynmem_plan *p)
{
	uint64_t used = (v->stats_total - v->stats_avail) / MIB;

	v->balloon_mib = v->balloon_actual_mib = p->balloon_mib;
	v->hp_requested_mib = v->hp_plugged_mib = p->requested_mib;
	uses(v, used);
}

Test(dynmem, an_idle_guest_shrinks_by_the_balloon_a_step_at_a_time)
{
	struct dynmem_view v = guest(20);
	struct dynmem_plan p = decide(&v, &long_ago);

	/* 20 MiB + 20% + 16 kept is below min: aim at 64, a quarter of 256
	 * first. */
	cr_assert_eq(p.action, DYNMEM_SHRINK);
	cr_assert_eq(p.used_mib, 20);
	cr_assert_eq(p.kept_mib, 16);
	cr_assert_eq(p.want_mib, 64);
	cr_assert_eq(p.size_mib, 256);
	cr_assert_eq(p.new_size_mib, 192);
	cr_assert_eq(p.balloon_mib, 64);
	cr_assert_eq(p.requested_mib, 0);
	/* Then 144, 108, 81, and min itself: never below it. */
	static const uint64_t steps[] = { 144, 108, 81, 64 };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		follow(&v, &p);
		p = decide(&v, &long_ago);
		cr_assert_eq(p.action, DYNMEM_SHRINK, "step %zu", i);
		cr_assert_eq(p.new_size_mib, steps[i], "step %zu: %llu", i,
			     (unsigned long long)p.new_size_mib);
		cr_assert_eq(p.balloon_mib, 256 - steps[i]);
	}
	follow(&v, &p);
	holds(&v, &long_ago, "within the hysteresis");
}

/*
 * What the lab found: a quarter of 696 MiB is 174, and a step to 522
 * would stop 10 MiB above a need of 512, within the hysteresis (26):
 * stuck there. The step goes all the way to 512 instead.
 */
Test(dynmem, a_shrink_never_stops_within_the_hysteresis_of_its_aim)
{
	static const struct dynmem_config big = {
		.enabled = true, .min_mib = 512, .max_mib = 2048,
		.buffer_percent = 20,
	};
	struct dynmem_view v = {
		.ram_mib = 1024, .balloon_mib = 328, .balloon_actual_mib = 328,
		.hp_total_mib = 1024, .hp_block_mib = 2, .have_stats = true,
		.stats_total = 644 * MIB, .stats_avail = 544 * MIB,
		.stats_rounds = 100, .now_ms = 1000000,
	};
	struct dynmem_plan p;

	dynmem_decide(&big, &v, &long_ago, &p);
	cr_assert_eq(p.size_mib, 696);
	cr_assert_eq(p.want_mib, 512);
	cr_assert_eq(p.action, DYNMEM_SHRINK);
	cr_assert_eq(p.new_size_mib, 512);
	cr_assert_eq(p.balloon_mib, 512);
	/* A step that leaves a whole hysteresis is taken as it is. */
	v.balloon_mib = v.balloon_actual_mib = 124; /* 900 */
	v.stats_total = 848 * MIB;
	v.stats_avail = 748 * MIB;
	dynmem_decide(&big, &v, &long_ago, &p);
	cr_assert_eq(p.new_size_mib, 675);
}

Test(dynmem, pressure_grows_at_once_deflating_then_plugging)
{
	struct dynmem_view v = guest(130);
	struct dynmem_plan p;

	/* Ballooned down to 172: 130 + 20% + 16 kept = 172 holds. */
	v.balloon_mib = v.balloon_actual_mib = 84;
	uses(&v, 130);
	holds(&v, &long_ago, "within the hysteresis");
	/* 150 used of 156: 196 needed, and half the hysteresis (4) more:
	 * the balloon alone gives it back. */
	uses(&v, 150);
	p = decide(&v, &long_ago);
	cr_assert_eq(p.action, DYNMEM_GROW);
	cr_assert_eq(p.want_mib, 196);
	cr_assert_eq(p.balloon_mib, 56);
	cr_assert_eq(p.requested_mib, 0);
	cr_assert_eq(p.new_size_mib, 200);
	/* 300 used (of a total of 300: nothing kept): 360 needed, 369
	 * aimed at; the balloon empties and whole blocks plug. */
	v.stats_avail = 0;
	v.stats_total = 300 * MIB;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.action, DYNMEM_GROW);
	cr_assert_eq(p.kept_mib, 0);
	cr_assert_eq(p.want_mib, 360);
	cr_assert_eq(p.balloon_mib, 0);
	cr_assert_eq(p.requested_mib, 114);
	cr_assert_eq(p.new_size_mib, 370);
}

/*
 * What the lab found under Linux: a 1 GiB guest held at min_mib (512)
 * whose MemTotal is 460 MiB (its kernel keeps 52) used 384 MiB. Without
 * the kept part that is 461 MiB wanted, under min: it held while the
 * guest had 76 MiB available for a 20% buffer of 77, and a workload that
 * waits for memory waited forever.
 */
Test(dynmem, a_guest_at_min_grows_once_its_available_memory_is_short)
{
	static const struct dynmem_config big = {
		.enabled = true, .min_mib = 512, .max_mib = 2048,
		.buffer_percent = 20,
	};
	struct dynmem_view v = {
		.ram_mib = 1024, .balloon_mib = 512, .balloon_actual_mib = 512,
		.hp_total_mib = 1024, .hp_block_mib = 2, .have_stats = true,
		.stats_total = 460 * MIB, .stats_avail = 76 * MIB,
		.stats_rounds = 100, .now_ms = 1000000,
	};
	struct dynmem_plan p;

	dynmem_decide(&big, &v, &long_ago, &p);
	cr_assert_eq(p.used_mib, 384);
	cr_assert_eq(p.kept_mib, 52);
	cr_assert_eq(p.want_mib, 513);
	cr_assert_eq(p.action, DYNMEM_GROW, "held: %s", p.why);
	cr_assert_eq(p.new_size_mib, 525);
	cr_assert_eq(p.balloon_mib, 499);
	/* 80 MiB available, 20% of 380 is 76: it holds at 512. */
	v.stats_avail = 80 * MIB;
	dynmem_decide(&big, &v, &long_ago, &p);
	cr_assert_eq(p.action, DYNMEM_HOLD);
}

Test(dynmem, kept_is_what_the_guest_was_given_less_its_total)
{
	struct dynmem_view v = guest(20);
	struct dynmem_plan p;

	/* Linux takes a balloon's pages off its total: still 16 kept. */
	v.balloon_mib = v.balloon_actual_mib = 100;
	v.hp_requested_mib = v.hp_plugged_mib = 40;
	uses(&v, 20);
	cr_assert_eq(decide(&v, &long_ago).kept_mib, 16);
	/* A total above what it was given (a hostile guest): none kept. */
	v.stats_total = 1000 * MIB;
	v.stats_avail = 980 * MIB;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.kept_mib, 0);
	cr_assert_eq(p.used_mib, 20);
	/* No statistics' total at all: all it was given is kept, and the
	 * size sought is still within max. */
	v.stats_total = v.stats_avail = 0;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.kept_mib, 196);
	cr_assert_leq(p.want_mib, 512);
}

Test(dynmem, growth_stops_at_max)
{
	struct dynmem_config odd = cfg;
	struct dynmem_view v = guest(0);
	struct dynmem_plan p;

	v.stats_total = 4000 * MIB;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.want_mib, 512);
	cr_assert_eq(p.requested_mib, 256);
	cr_assert_eq(p.new_size_mib, 512);
	/* Whole blocks only, never beyond max: 301 gives 300. */
	odd.max_mib = 301;
	dynmem_decide(&odd, &v, &long_ago, &p);
	cr_assert_eq(p.requested_mib, 44);
	cr_assert_eq(p.new_size_mib, 300);
	/* Without virtio-mem the boot memory is the ceiling. */
	v.hp_total_mib = 0;
	holds(&v, &long_ago, "already as near as the devices go");
}

Test(dynmem, hysteresis_leaves_small_surpluses_never_a_shortfall)
{
	/* 256 MiB, hysteresis 12: needs are used + 20% + 16 kept. */
	struct dynmem_view v = guest(195); /* needs 250: 6 MiB to spare */
	struct dynmem_plan p;

	holds(&v, &long_ago, "within the hysteresis");
	uses(&v, 191); /* needs 246: 10 to spare */
	holds(&v, &long_ago, "within the hysteresis");
	uses(&v, 190); /* needs 244: 12 to spare, a whole hysteresis */
	cr_assert_eq(decide(&v, &long_ago).action, DYNMEM_SHRINK);
	uses(&v, 200); /* needs 256: exactly the size */
	holds(&v, &long_ago, "within the hysteresis");
	/* needs 258: 2 MiB short is enough to grow, and by half the
	 * hysteresis more (264, whole blocks). */
	uses(&v, 201);
	p = decide(&v, &long_ago);
	cr_assert_eq(p.action, DYNMEM_GROW);
	cr_assert_eq(p.want_mib, 258);
	cr_assert_eq(p.new_size_mib, 264);
	follow(&v, &p);
	holds(&v, &long_ago, "within the hysteresis");
	/* Back down by what it had grown: it holds (264 - 6 is in the
	 * band), no swinging back. */
	uses(&v, 196);
	holds(&v, &long_ago, "within the hysteresis");
}

Test(dynmem, a_size_outside_min_and_max_is_corrected_however_small)
{
	struct dynmem_config c = cfg;
	struct dynmem_view v = guest(20);
	struct dynmem_plan p;

	/* 60 MiB, 4 below min: within the hysteresis, yet grown to min. */
	v.balloon_mib = v.balloon_actual_mib = 196;
	uses(&v, 20);
	dynmem_decide(&c, &v, &long_ago, &p);
	cr_assert_eq(p.action, DYNMEM_GROW);
	cr_assert_eq(p.new_size_mib, 64);
	/* max lowered under the size (PATCH): straight down to it. */
	c.max_mib = 252;
	v = guest(240);
	dynmem_decide(&c, &v, &long_ago, &p);
	cr_assert_eq(p.action, DYNMEM_SHRINK);
	cr_assert_eq(p.new_size_mib, 252);
}

Test(dynmem, a_shrink_unplugs_before_it_inflates)
{
	struct dynmem_view v = guest(20);
	struct dynmem_plan p;

	v.hp_requested_mib = v.hp_plugged_mib = 100; /* 356 MiB */
	uses(&v, 20);
	p = decide(&v, &long_ago);
	cr_assert_eq(p.action, DYNMEM_SHRINK);
	cr_assert_eq(p.balloon_mib, 0);
	cr_assert_eq(p.requested_mib, 12, "267 asked, in whole blocks");
	follow(&v, &p);
	p = decide(&v, &long_ago);
	cr_assert_eq(p.requested_mib, 0);
	cr_assert_eq(p.balloon_mib, 55);
}

Test(dynmem, it_waits_for_the_guest_and_for_fresh_statistics)
{
	struct dynmem_view v = guest(300);
	struct dynmem_memory just = {
		.changed = true, .change_ms = v.now_ms - 500,
		.change_rounds = v.stats_rounds,
	};

	/* The guest has not reached the last asks yet. */
	v.balloon_mib = 50;
	v.balloon_actual_mib = 80;
	holds(&v, &just, "waiting for the guest to reach the sizes asked");
	/* ...for longer than it may take: the controller goes on. */
	just.change_ms = v.now_ms - DYNMEM_SETTLE_MS - 1;
	holds(&v, &just, "waiting for fresh statistics");
	v.balloon_actual_mib = 50;
	just.change_ms = v.now_ms - 500;
	/* Settled, but the statistics predate the change. */
	holds(&v, &just, "waiting for fresh statistics");
	v.stats_rounds += DYNMEM_FRESH_ROUNDS - 1;
	holds(&v, &just, "waiting for fresh statistics");
	v.stats_rounds++;
	cr_assert_eq(decide(&v, &just).action, DYNMEM_GROW);
	/* No statistics at all. */
	v.have_stats = false;
	holds(&v, &long_ago, "waiting for the guest's first statistics");
}

Test(dynmem, shrinks_wait_after_a_change_growths_do_not)
{
	struct dynmem_view v = guest(20);
	struct dynmem_memory just = {
		.changed = true,
		.change_ms = v.now_ms - DYNMEM_SHRINK_COOLDOWN_MS + 1,
		.change_rounds = 0,
	};

	holds(&v, &just, "a shrink waits after the last change");
	just.change_ms = v.now_ms - DYNMEM_SHRINK_COOLDOWN_MS;
	cr_assert_eq(decide(&v, &just).action, DYNMEM_SHRINK);
	v = guest(300);
	just.change_ms = v.now_ms - 1;
	cr_assert_eq(decide(&v, &just).action, DYNMEM_GROW);
}

Test(dynmem, what_was_just_given_is_not_taken_back)
{
	struct dynmem_view v = guest(20);
	struct dynmem_memory grown = {
		.changed = true, .change_ms = 1, .change_rounds = 1,
		.grew = true,
		.grow_ms = v.now_ms - DYNMEM_SHRINK_AFTER_GROW_MS + 1,
	};

	/* Long past the change's cooldown, not past the growth's. */
	holds(&v, &grown, "a shrink waits after the last growth");
	grown.grow_ms = v.now_ms - DYNMEM_SHRINK_AFTER_GROW_MS;
	cr_assert_eq(decide(&v, &grown).action, DYNMEM_SHRINK);
	/* A growth goes on meanwhile. */
	grown.grow_ms = v.now_ms - 1;
	v = guest(300);
	cr_assert_eq(decide(&v, &grown).action, DYNMEM_GROW);
}

Test(dynmem, a_balloon_linux_counts_as_used_is_taken_out)
{
	struct dynmem_view v = guest(150);
	struct dynmem_plan p;

	/* deflate_on_oom: MemTotal keeps the 100 MiB the balloon holds
	 * (so the 16 kept are still all RAM less that total). */
	v.balloon_mib = v.balloon_actual_mib = 100;
	v.balloon_counted_used = true;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.used_mib, 50);
	cr_assert_eq(p.kept_mib, 16);
	cr_assert_eq(p.want_mib, 76);
	/* Available above total (a hostile guest): nothing is used. */
	v.balloon_counted_used = false;
	v.stats_avail = v.stats_total + MIB;
	cr_assert_eq(decide(&v, &long_ago).used_mib, 0);
}

static struct policy_facts running_nested(void)
{
	struct policy_facts f;

	memset(&f, 0, sizeof(f));
	f.vm_running = true;
	f.nested_exposed = true;
	f.dynamic_memory_enabled = true;
	return f;
}

Test(dynmem, frozen_exactly_while_the_guest_hosts_guests)
{
	struct policy_facts f = running_nested();
	char reason[256];

	cr_assert_not(dynmem_frozen(&f, reason, sizeof(reason)),
		      "nesting alone froze it: %s", reason);
	cr_assert_str_empty(reason);
	f.l1_hypervisor_active = true;
	cr_assert(dynmem_frozen(&f, reason, sizeof(reason)));
	cr_assert(strstr(reason, "dynamic_memory refused by rule "
			 "nested_guest_hypervisor_active: the guest is hosting "
			 "virtual machines of its own"), "%s", reason);
	f.l1_hypervisor_active = false;
	f.l2_running = true;
	cr_assert(dynmem_frozen(&f, reason, sizeof(reason)));
	f.l2_running = false;
	cr_assert_not(dynmem_frozen(&f, reason, sizeof(reason)));
	/* A short buffer still ends in a NUL. */
	f.l2_running = true;
	cr_assert(dynmem_frozen(&f, reason, 8));
	cr_assert_eq(strlen(reason), 7);
}

Test(dynmem, a_frozen_controller_changes_nothing_and_resumes_after)
{
	struct policy_facts f = running_nested();
	struct dynmem_view v = guest(300);
	struct dynmem_plan p;
	char reason[256];

	f.l1_hypervisor_active = true;
	f.l2_running = true;
	cr_assert(dynmem_tick(&cfg, &f, &v, &long_ago, &p, reason,
			      sizeof(reason)));
	cr_assert_eq(p.action, DYNMEM_HOLD, "changed memory under L1");
	cr_assert_str_eq(p.why, "frozen");
	cr_assert_eq(p.size_mib, 256);
	cr_assert(strstr(reason, "nested_guest_hypervisor_active"));
	/* An idle guest is not shrunk either. */
	v = guest(20);
	cr_assert(dynmem_tick(&cfg, &f, &v, &long_ago, &p, reason,
			      sizeof(reason)));
	cr_assert_eq(p.action, DYNMEM_HOLD);
	/* L2 gone, L1's hypervisor off: the next tick acts by itself. */
	f.l1_hypervisor_active = f.l2_running = false;
	cr_assert_not(dynmem_tick(&cfg, &f, &v, &long_ago, &p, reason,
				  sizeof(reason)));
	cr_assert_eq(p.action, DYNMEM_SHRINK);
	cr_assert_str_empty(reason);
	v = guest(300);
	dynmem_tick(&cfg, &f, &v, &long_ago, &p, reason, sizeof(reason));
	cr_assert_eq(p.action, DYNMEM_GROW);
}

Test(dynmem, current_size_is_what_the_devices_hold)
{
	struct dynmem_view v = guest(0);

	v.balloon_mib = 100;
	v.balloon_actual_mib = 40;
	cr_assert_eq(dynmem_current_mib(&v), 216);
	v.balloon_actual_mib = 0;
	v.hp_plugged_mib = 30;
	cr_assert_eq(dynmem_current_mib(&v), 286);
}

static void bad(const struct dynmem_config *d, uint64_t mem,
		const struct balloon_config *b,
		const struct mem_hotplug_config *h, enum vm_dynmem_field want,
		const char *text)
{
	enum vm_dynmem_field f;
	char buf[256];
	const char *why = vm_dynmem_problem(d, mem, b, h, &f, buf,
					    sizeof(buf));

	cr_assert_not_null(why, "accepted; want '%s'", text);
	cr_assert_eq(f, want, "%s: field %s", why, vm_dynmem_field_name(f));
	cr_assert(strstr(why, text), "'%s' lacks '%s'", why, text);
}

Test(dynmem, rules_name_the_field)
{
	struct dynmem_config d = cfg;
	struct balloon_config b = { .enabled = true, .stats_interval_s = 1 };
	struct mem_hotplug_config h = { .total_mib = 256, .slot_mib = 128,
					.block_mib = 2 };
	enum vm_dynmem_field f;
	char buf[256];

	cr_assert_null(vm_dynmem_problem(&d, 256, &b, &h, &f, buf,
					 sizeof(buf)));
	cr_assert_null(vm_dynmem_problem(&d, 0, NULL, NULL, &f, buf,
					 sizeof(buf)));
	d.buffer_percent = 4;
	bad(&d, 0, NULL, NULL, VM_DYNMEM_BUFFER, "4 is not from 5 to 2000");
	d.buffer_percent = 2001;
	bad(&d, 0, NULL, NULL, VM_DYNMEM_BUFFER, "2001");
	d = cfg;
	d.min_mib = 31;
	bad(&d, 0, NULL, NULL, VM_DYNMEM_MIN, "31 MiB is less than 32 MiB");
	d.min_mib = 600;
	bad(&d, 0, NULL, NULL, VM_DYNMEM_MIN, "more than max_mib (512 MiB)");
	d = cfg;
	bad(&d, 63, NULL, NULL, VM_DYNMEM_MIN, "more than the boot memory");
	bad(&d, 513, NULL, NULL, VM_DYNMEM_MAX, "less than the boot memory");
	b.stats_interval_s = 0;
	bad(&d, 256, &b, &h, VM_DYNMEM_BALLOON, "stats_polling_interval_s is "
	    "0");
	b.enabled = false;
	bad(&d, 256, &b, &h, VM_DYNMEM_BALLOON, "needs a balloon");
	b = (struct balloon_config){ .enabled = true, .stats_interval_s = 5 };
	h.total_mib = 128;
	bad(&d, 256, &b, &h, VM_DYNMEM_MAX, "512 MiB is beyond the boot "
	    "memory (256 MiB) and memory-hotplug's total_size_mib (128 MiB)");
	/* max at the boot memory needs no hotplug at all. */
	d.max_mib = 256;
	h.total_mib = 0;
	cr_assert_null(vm_dynmem_problem(&d, 256, &b, &h, &f, buf,
					 sizeof(buf)));
	cr_assert_str_eq(vm_dynmem_field_name(VM_DYNMEM_BALLOON), "balloon");
	cr_assert_str_eq(vm_dynmem_field_name((enum vm_dynmem_field)9), "?");
}
