/*
 * The balloon's endpoints, Firecracker's: PUT /balloon before boot (into
 * the spec, as the other devices), then GET and PATCH /balloon, GET and
 * PATCH /balloon/statistics and the hinting runs, through the VMM.
 */
#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_balloon.h"

#include "handlers.h"

/* The statistics' JSON names, by tag (virtio 1.2, 5.5.6.3; Linux 6.12). */
static const char *const stat_names[BALLOON_STAT_TAGS] = {
	"swap_in", "swap_out", "major_faults", "minor_faults",
	"free_memory", "total_memory", "available_memory", "disk_caches",
	"hugetlb_allocations", "hugetlb_failures", "oom_kill", "alloc_stall",
	"async_scan", "direct_scan", "async_reclaim", "direct_reclaim",
};

static void put_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void put_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

int h_put_balloon(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return api_status_of(shape_balloon(&v->spec, q->body, "", err), err);
}

int h_get_balloon(struct vmm *v, const struct api_request *q,
		  struct api_response *r, struct mvm_err *err)
{
	struct balloon_info b;
	int ret = vmm_balloon_get(v, &b, err);

	(void)q;
	if (ret)
		return api_status_of(ret, err);
	r->body = json_object_new_object();
	put_u64(r->body, "amount_mib", b.target_pages / BALLOON_PAGES_PER_MIB);
	put_bool(r->body, "deflate_on_oom", b.cfg.deflate_on_oom);
	put_u64(r->body, "stats_polling_interval_s", b.cfg.stats_interval_s);
	put_bool(r->body, "free_page_hinting", b.cfg.free_page_hinting);
	put_bool(r->body, "free_page_reporting", b.cfg.free_page_reporting);
	return 200;
}

int h_patch_balloon(struct vmm *v, const struct api_request *q,
		    struct api_response *r, struct mvm_err *err)
{
	uint32_t mib;
	int ret = shape_balloon_update(q->body, &mib, err);

	(void)r;
	if (!ret)
		ret = vmm_balloon_patch(v, mib, err);
	return api_status_of(ret, err);
}

int h_get_balloon_stats(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err)
{
	struct balloon_info b;
	int ret = vmm_balloon_get(v, &b, err);

	(void)q;
	if (!ret && !b.cfg.stats_interval_s)
		ret = mvm_fail(err, -EINVAL, "balloon: statistics are not "
			       "enabled (stats_polling_interval_s was 0 when "
			       "the balloon was configured)");
	if (ret)
		return api_status_of(ret, err);
	r->body = json_object_new_object();
	put_u64(r->body, "target_pages", b.target_pages);
	put_u64(r->body, "actual_pages", b.actual_pages);
	put_u64(r->body, "target_mib", b.target_pages / BALLOON_PAGES_PER_MIB);
	put_u64(r->body, "actual_mib", b.actual_pages / BALLOON_PAGES_PER_MIB);
	for (int i = 0; i < BALLOON_STAT_TAGS; i++)
		if (b.stats_seen & (1u << i))
			put_u64(r->body, stat_names[i], b.stats[i]);
	return 200;
}

int h_patch_balloon_stats(struct vmm *v, const struct api_request *q,
			  struct api_response *r, struct mvm_err *err)
{
	uint16_t period;
	int ret = shape_balloon_stats_update(q->body, &period, err);

	(void)r;
	if (!ret)
		ret = vmm_balloon_stats_patch(v, period, err);
	return api_status_of(ret, err);
}

int h_patch_balloon_hint_start(struct vmm *v, const struct api_request *q,
			       struct api_response *r, struct mvm_err *err)
{
	bool ack;
	int ret = shape_balloon_hint_start(q->body, &ack, err);

	(void)r;
	if (!ret)
		ret = vmm_balloon_hint_start(v, ack, err);
	return api_status_of(ret, err);
}

int h_get_balloon_hint_status(struct vmm *v, const struct api_request *q,
			      struct api_response *r, struct mvm_err *err)
{
	struct balloon_info b;
	int ret = vmm_balloon_get(v, &b, err);

	(void)q;
	if (!ret && !b.cfg.free_page_hinting)
		ret = mvm_fail(err, -EINVAL, "balloon: free page hinting was "
			       "not enabled when the balloon was configured "
			       "(free_page_hinting)");
	if (ret)
		return api_status_of(ret, err);
	r->body = json_object_new_object();
	put_u64(r->body, "host_cmd", b.hint_host_cmd);
	if (b.hint_guest_seen)
		put_u64(r->body, "guest_cmd", b.hint_guest_cmd);
	return 200;
}

int h_patch_balloon_hint_stop(struct vmm *v, const struct api_request *q,
			      struct api_response *r, struct mvm_err *err)
{
	int ret = shape_balloon_hint_stop(q->body, err);

	(void)r;
	if (!ret)
		ret = vmm_balloon_hint_stop(v, err);
	return api_status_of(ret, err);
}
