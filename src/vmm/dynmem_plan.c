/*
 * Dynamic memory's decisions (include/mvm/vmm_dynmem.h), pure: from what
 * the guest uses and what the devices were asked, the next asks. The
 * guest's size is RAM - the balloon's target + virtio-mem's request. Its
 * kernel keeps part of that for itself (Linux's MemTotal is some 40 MiB
 * under a 1 GiB RAM: its image, the boot memory's struct pages), so what
 * it needs is what it uses plus buffer_percent plus that part, within
 * min_mib and max_mib: the buffer is then what the guest sees available.
 *
 * It grows as soon as the guest has less than it needs, at once, to the
 * need plus half the hysteresis: a guest short of its buffer suffers, and
 * the headroom keeps a steady climb from costing a decision a tick. It
 * shrinks only once the size is a whole hysteresis above the need, to the
 * same point, a step at a time, DYNMEM_SHRINK_COOLDOWN_MS after the last
 * change and DYNMEM_SHRINK_AFTER_GROW_MS after the last growth, as
 * Hyper-V takes memory back slowly. Between the two edges it
 * holds. It does not act on statistics older than its last change, nor
 * before the guest has reached the last sizes it asked for (unless the
 * guest takes longer than DYNMEM_SETTLE_MS).
 */
#include <string.h>

#include "mvm/policy.h"
#include "mvm/vmm_dynmem.h"

#define MIB (UINT64_C(1) << 20)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t asked_mib(const struct dynmem_view *v)
{
	uint64_t b = min_u64(v->balloon_mib, v->ram_mib);

	return v->ram_mib - b + v->hp_requested_mib;
}

uint64_t dynmem_current_mib(const struct dynmem_view *v)
{
	uint64_t b = min_u64(v->balloon_actual_mib, v->ram_mib);

	return v->ram_mib - b + v->hp_plugged_mib;
}

static bool settled(const struct dynmem_view *v)
{
	return v->balloon_actual_mib == v->balloon_mib &&
	       v->hp_plugged_mib == v->hp_requested_mib;
}

/* Why the statistics cannot be acted on yet, or NULL. */
static const char *not_ready(const struct dynmem_view *v,
			     const struct dynmem_memory *m)
{
	if (m->changed && !settled(v) &&
	    v->now_ms - m->change_ms < DYNMEM_SETTLE_MS)
		return "waiting for the guest to reach the sizes asked";
	if (!v->have_stats)
		return "waiting for the guest's first statistics";
	if (m->changed &&
	    v->stats_rounds < m->change_rounds + DYNMEM_FRESH_ROUNDS)
		return "waiting for fresh statistics";
	return NULL;
}

/* Total less available, in MiB rounded up; the balloon's part taken out. */
static uint64_t used_mib(const struct dynmem_view *v)
{
	uint64_t bytes = v->stats_total > v->stats_avail ?
				 v->stats_total - v->stats_avail : 0;
	uint64_t mib = (bytes + MIB - 1) / MIB;

	if (v->balloon_counted_used)
		mib -= min_u64(mib, v->balloon_actual_mib);
	return mib;
}

/*
 * What the guest's kernel keeps for itself: what it was given less the
 * total it reports. With deflate_on_oom the balloon's pages stay in its
 * total, so they count as given. Never negative: a guest that claims more
 * than it has keeps nothing.
 */
static uint64_t kept_mib(const struct dynmem_view *v)
{
	uint64_t b = v->balloon_counted_used ? 0 :
		     min_u64(v->balloon_actual_mib, v->ram_mib);
	uint64_t given = v->ram_mib - b + v->hp_plugged_mib;
	uint64_t total = v->stats_total / MIB;

	return given > total ? given - total : 0;
}

/* Used + buffer + what the kernel keeps, in MiB (not yet within min/max). */
static uint64_t need_raw(const struct dynmem_config *c,
			 const struct dynmem_plan *p)
{
	return (p->used_mib * (100 + c->buffer_percent) + 99) / 100 +
	       p->kept_mib;
}

static uint64_t within(const struct dynmem_config *c, uint64_t mib)
{
	return min_u64(max_u64(mib, c->min_mib), c->max_mib);
}

/* The most virtio-mem may hold: whole blocks up to max_mib. */
static uint64_t plug_cap(const struct dynmem_config *c,
			 const struct dynmem_view *v)
{
	uint64_t room;

	if (!v->hp_total_mib || !v->hp_block_mib || c->max_mib <= v->ram_mib)
		return 0;
	room = (c->max_mib - v->ram_mib) / v->hp_block_mib * v->hp_block_mib;
	return min_u64(room, v->hp_total_mib);
}

static uint64_t hysteresis(uint64_t size)
{
	return max_u64(DYNMEM_HYST_MIN_MIB, size * DYNMEM_HYST_PERCENT / 100);
}

static uint64_t gap(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/*
 * The size to go to, or 0 to hold (p->why says why): below the need, up
 * to the aim at once; a hysteresis or more above it, down towards the aim
 * a step at a time; in between, or outside min/max by however little,
 * corrected.
 */
static uint64_t next_size(const struct dynmem_config *c,
			  const struct dynmem_view *v,
			  const struct dynmem_memory *m, struct dynmem_plan *p)
{
	uint64_t size = p->size_mib, need = p->want_mib, step, next;
	uint64_t raw = need_raw(c, p);
	uint64_t aim = within(c, raw + hysteresis(raw) / 2);

	if (size < need)
		return aim;
	if (size <= c->max_mib && gap(need, size) < hysteresis(size)) {
		p->why = "within the hysteresis";
		return 0;
	}
	if (size > c->max_mib)
		return c->max_mib;
	if (m->changed &&
	    v->now_ms - m->change_ms < DYNMEM_SHRINK_COOLDOWN_MS) {
		p->why = "a shrink waits after the last change";
		return 0;
	}
	if (m->grew && v->now_ms - m->grow_ms < DYNMEM_SHRINK_AFTER_GROW_MS) {
		p->why = "a shrink waits after the last growth";
		return 0;
	}
	step = max_u64(hysteresis(size),
		       size * DYNMEM_SHRINK_STEP_PERCENT / 100);
	next = size > step ? size - step : 0;
	/* A step that would stop within the hysteresis of the need goes all
	 * the way: from there the controller would never move again (in
	 * the lab, 696 - 174 stopped at 522 for a need of 512). */
	if (next <= aim || next - need < hysteresis(next))
		return aim;
	return next;
}

/* size as asks: the balloon below RAM, whole blocks of virtio-mem above. */
static void compose(const struct dynmem_config *c,
		    const struct dynmem_view *v, uint64_t size,
		    struct dynmem_plan *p)
{
	uint64_t cap = plug_cap(c, v), extra, blk = v->hp_block_mib;

	size = min_u64(size, v->ram_mib + cap);
	if (size <= v->ram_mib) {
		p->balloon_mib = v->ram_mib - size;
		p->requested_mib = 0;
		return;
	}
	extra = (size - v->ram_mib + blk - 1) / blk * blk;
	p->balloon_mib = 0;
	p->requested_mib = min_u64(extra, cap);
}

void dynmem_decide(const struct dynmem_config *c, const struct dynmem_view *v,
		   const struct dynmem_memory *m, struct dynmem_plan *p)
{
	uint64_t size;

	memset(p, 0, sizeof(*p));
	p->action = DYNMEM_HOLD;
	p->size_mib = asked_mib(v);
	p->why = not_ready(v, m);
	if (p->why)
		return;
	p->used_mib = used_mib(v);
	p->kept_mib = kept_mib(v);
	p->want_mib = within(c, need_raw(c, p));
	size = next_size(c, v, m, p);
	if (!size)
		return;
	compose(c, v, size, p);
	p->new_size_mib = v->ram_mib - p->balloon_mib + p->requested_mib;
	if (p->new_size_mib == p->size_mib) {
		p->why = "already as near as the devices go";
		return;
	}
	p->action = p->new_size_mib > p->size_mib ? DYNMEM_GROW :
						    DYNMEM_SHRINK;
}

bool dynmem_tick(const struct dynmem_config *c, const struct policy_facts *f,
		 const struct dynmem_view *v, const struct dynmem_memory *m,
		 struct dynmem_plan *p, char *reason, size_t cap)
{
	if (!dynmem_frozen(f, reason, cap)) {
		dynmem_decide(c, v, m, p);
		return false;
	}
	memset(p, 0, sizeof(*p));
	p->action = DYNMEM_HOLD;
	p->why = "frozen";
	p->size_mib = asked_mib(v);
	return true;
}

bool dynmem_frozen(const struct policy_facts *f, char *reason, size_t cap)
{
	struct policy_verdict v;

	if (cap)
		reason[0] = '\0';
	if (policy_check(POLICY_OP_DYNAMIC_MEMORY, f, &v) || v.allowed)
		return false;
	if (cap) {
		strncpy(reason, v.reason, cap - 1);
		reason[cap - 1] = '\0';
	}
	return true;
}
