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

/* A settled guest using used MiB, its statistics fresh, long after any
 * change. */
static struct dynmem_view guest(uint64_t used)
{
	uint64_t total = used > 240 ? used : 240;

	return (struct dynmem_view){
		.ram_mib = 256,
		.hp_total_mib = 256,
		.hp_block_mib = 2,
		.have_stats = true,
		.stats_total = total * MIB,
		.stats_avail = (total - used) * MIB,
		.stats_rounds = 100,
		.now_ms = 1000000,
	};
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

/* The guest takes the plan's asks as they are. */
static void follow(struct dynmem_view *v, const struct dynmem_plan *p)
{
	v->balloon_mib = v->balloon_actual_mib = p->balloon_mib;
	v->hp_requested_mib = v->hp_plugged_mib = p->requested_mib;
}

Test(dynmem, an_idle_guest_shrinks_by_the_balloon_a_step_at_a_time)
{
	struct dynmem_view v = guest(20);
	struct dynmem_plan p = decide(&v, &long_ago);

	/* 20 MiB + 20% is below min: aim at 64, a quarter of 256 first. */
	cr_assert_eq(p.action, DYNMEM_SHRINK);
	cr_assert_eq(p.used_mib, 20);
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

Test(dynmem, pressure_grows_at_once_deflating_then_plugging)
{
	struct dynmem_view v = guest(130);
	struct dynmem_plan p;

	/* Ballooned down to 156: 130 + 20% = 156 holds. */
	v.balloon_mib = v.balloon_actual_mib = 100;
	holds(&v, &long_ago, "within the hysteresis");
	/* 170 used: 204 wanted, the balloon alone gives it back. */
	v.stats_avail = (240 - 170) * MIB;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.action, DYNMEM_GROW);
	cr_assert_eq(p.want_mib, 204);
	cr_assert_eq(p.balloon_mib, 52);
	cr_assert_eq(p.requested_mib, 0);
	/* 300 used: 360 wanted, the balloon empties and blocks plug. */
	v.stats_avail = 0;
	v.stats_total = 300 * MIB;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.action, DYNMEM_GROW);
	cr_assert_eq(p.want_mib, 360);
	cr_assert_eq(p.balloon_mib, 0);
	cr_assert_eq(p.requested_mib, 104);
	cr_assert_eq(p.new_size_mib, 360);
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

Test(dynmem, hysteresis_leaves_small_gaps)
{
	struct dynmem_view v = guest(205); /* wants 246: 10 MiB off 256 */

	holds(&v, &long_ago, "within the hysteresis");
	v.stats_avail = (240 - 200) * MIB; /* wants 240: 16 off */
	cr_assert_eq(decide(&v, &long_ago).action, DYNMEM_SHRINK);
	v.stats_avail = (240 - 218) * MIB; /* wants 262: 6 off */
	holds(&v, &long_ago, "within the hysteresis");
	v.stats_avail = (240 - 222) * MIB; /* wants 267: 11 off, 5% is 12 */
	holds(&v, &long_ago, "within the hysteresis");
	v.stats_avail = (240 - 224) * MIB; /* wants 269: 13 off */
	cr_assert_eq(decide(&v, &long_ago).action, DYNMEM_GROW);
}

Test(dynmem, a_size_outside_min_and_max_is_corrected_however_small)
{
	struct dynmem_config c = cfg;
	struct dynmem_view v = guest(20);
	struct dynmem_plan p;

	/* 60 MiB, 4 below min: within the hysteresis, yet grown to min. */
	v.balloon_mib = v.balloon_actual_mib = 196;
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

Test(dynmem, a_balloon_linux_counts_as_used_is_taken_out)
{
	struct dynmem_view v = guest(150);
	struct dynmem_plan p;

	/* deflate_on_oom: MemTotal keeps the 100 MiB the balloon holds. */
	v.balloon_mib = v.balloon_actual_mib = 100;
	v.balloon_counted_used = true;
	p = decide(&v, &long_ago);
	cr_assert_eq(p.used_mib, 50);
	cr_assert_eq(p.want_mib, 64);
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
