/*
 * Shapes of mvm's live migration requests, in Firecracker's style:
 *   PUT /migration {"uri", "max_downtime_ms", "max_bandwidth_mbps",
 *                   "allow_nested_state"}
 *   PUT /migration/incoming {"uri", "network_overrides"}
 * The URI is checked here in full, so that a bad one is a 400 at once.
 */
#include <stdio.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm_migration.h"

#include "handlers.h"
#include "json_in.h"
#include "shapes.h"

/* Downtime is asked in ms: a day is far past any sense. */
#define MAX_DOWNTIME_MS (24ull * 3600 * 1000)
#define MAX_BANDWIDTH_MBPS 10000000ull /* 10 Tbit/s */

static int shape_uri(struct jr *r, char *out, size_t cap)
{
	struct mvm_err why = { .msg = "" };
	struct mig_uri u;
	const char *uri = NULL;
	int ret = jr_str(r, "uri", true, &uri);

	if (ret < 0)
		return ret;
	if (strlen(uri) >= cap)
		return jr_fail(r, "uri", -EINVAL, "is longer than %zu bytes",
			       cap - 1);
	if (mig_uri_parse(uri, &u, &why))
		return jr_fail(r, "uri", -EINVAL, "%s", why.msg);
	snprintf(out, cap, "%s", uri);
	return 0;
}

int shape_migrate_out(struct json_object *o, struct vmm_migrate_out *rq,
		      struct mvm_err *err)
{
	static const char *const known[] = { "uri", "max_downtime_ms",
					     "max_bandwidth_mbps",
					     "allow_nested_state", NULL };
	struct jr r;
	int ret;

	memset(rq, 0, sizeof(*rq));
	rq->max_downtime_ms = MIG_DEFAULT_DOWNTIME_MS;
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = shape_uri(&r, rq->uri, sizeof(rq->uri));
	if (ret >= 0)
		ret = jr_u64(&r, "max_downtime_ms", false, 1, MAX_DOWNTIME_MS,
			     &rq->max_downtime_ms);
	if (ret >= 0)
		ret = jr_u64(&r, "max_bandwidth_mbps", false, 1,
			     MAX_BANDWIDTH_MBPS, &rq->max_bandwidth_mbps);
	if (ret >= 0)
		ret = jr_bool(&r, "allow_nested_state", false,
			      &rq->allow_nested_state);
	return ret < 0 ? ret : 0;
}

int shape_migrate_in(struct json_object *o, struct vmm_migrate_in *rq,
		     struct mvm_err *err)
{
	static const char *const known[] = { "uri", "network_overrides",
					     NULL };
	struct jr r;
	int ret;

	memset(rq, 0, sizeof(*rq));
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = shape_uri(&r, rq->uri, sizeof(rq->uri));
	if (ret >= 0)
		ret = shape_net_overrides(&r, rq->overrides,
					  &rq->nr_overrides);
	return ret < 0 ? ret : 0;
}
