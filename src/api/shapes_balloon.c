/*
 * Shapes of the balloon's bodies, Firecracker's: Balloon (PUT /balloon
 * and the config file's "balloon"), BalloonUpdate (PATCH /balloon),
 * BalloonStatsUpdate (PATCH /balloon/statistics), BalloonStartCmd (PATCH
 * /balloon/hinting/start) and the empty body hinting/stop may have.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/balloon.h"
#include "mvm/err.h"

#include "json_in.h"

/* Firecracker's stats_polling_interval_s is a u16. */
#define STATS_INTERVAL_MAX UINT16_MAX

int shape_balloon(struct vm_spec *s, struct json_object *o, const char *path,
		  struct mvm_err *err)
{
	static const char *const known[] = { "amount_mib", "deflate_on_oom",
		"stats_polling_interval_s", "free_page_hinting",
		"free_page_reporting", NULL };
	struct balloon_config c = { .enabled = true };
	uint64_t mib = 0, period = 0;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_u64(&r, "amount_mib", true, 0, BALLOON_MAX_MIB, &mib);
	if (ret >= 0)
		ret = jr_bool(&r, "deflate_on_oom", true, &c.deflate_on_oom);
	if (ret >= 0)
		ret = jr_u64(&r, "stats_polling_interval_s", false, 0,
			     STATS_INTERVAL_MAX, &period);
	if (ret >= 0)
		ret = jr_bool(&r, "free_page_hinting", false,
			      &c.free_page_hinting);
	if (ret >= 0)
		ret = jr_bool(&r, "free_page_reporting", false,
			      &c.free_page_reporting);
	if (ret < 0)
		return ret;
	/* Firecracker's rule: the target is at most all of the RAM. */
	if (mib > s->mem_size_mib)
		return jr_fail(&r, "amount_mib", -EINVAL, "%llu is more than "
			       "the VM's memory (%llu MiB)",
			       (unsigned long long)mib,
			       (unsigned long long)s->mem_size_mib);
	c.amount_mib = (uint32_t)mib;
	c.stats_interval_s = (uint16_t)period;
	s->balloon = c;
	return 0;
}

int shape_balloon_update(struct json_object *o, uint32_t *amount_mib,
			 struct mvm_err *err)
{
	static const char *const known[] = { "amount_mib", NULL };
	uint64_t mib;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_u64(&r, "amount_mib", true, 0, BALLOON_MAX_MIB, &mib);
	if (ret < 0)
		return ret;
	*amount_mib = (uint32_t)mib;
	return 0;
}

int shape_balloon_stats_update(struct json_object *o, uint16_t *interval_s,
			       struct mvm_err *err)
{
	static const char *const known[] = { "stats_polling_interval_s",
					     NULL };
	uint64_t period;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_u64(&r, "stats_polling_interval_s", true, 0,
			     STATS_INTERVAL_MAX, &period);
	if (ret < 0)
		return ret;
	*interval_s = (uint16_t)period;
	return 0;
}

int shape_balloon_hint_start(struct json_object *o, bool *ack_on_stop,
			     struct mvm_err *err)
{
	static const char *const known[] = { "acknowledge_on_stop", NULL };
	struct jr r;
	int ret;

	*ack_on_stop = true; /* Firecracker's default */
	if (!o)
		return 0;
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_bool(&r, "acknowledge_on_stop", false, ack_on_stop);
	return ret < 0 ? ret : 0;
}

int shape_balloon_hint_stop(struct json_object *o, struct mvm_err *err)
{
	static const char *const known[] = { NULL };
	struct jr r;

	return o ? jr_open(&r, o, "", known, err) : 0;
}
