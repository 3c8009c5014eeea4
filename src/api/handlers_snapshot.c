/* PUT /snapshot/create and PUT /snapshot/load. */
#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_snapshot.h"

#include "handlers.h"
#include "shapes.h"

int h_put_snapshot_create(struct vmm *v, const struct api_request *q,
			  struct api_response *r, struct mvm_err *err)
{
	uint64_t start = mvm_mono_ns();
	struct vmm_snapshot_create rq;
	int ret = shape_snapshot_create(q->body, &rq, err);

	(void)r;
	if (!ret)
		ret = vmm_snapshot_create(v, &rq, err);
	if (!ret)
		vmm_latency_api(v, rq.type == SNAP_DIFF ?
				VMM_LAT_DIFF_CREATE_SNAPSHOT :
				VMM_LAT_FULL_CREATE_SNAPSHOT, start);
	return api_status_of(ret, err);
}

int h_put_snapshot_load(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err)
{
	uint64_t start = mvm_mono_ns();
	struct vmm_snapshot_load rq;
	int ret = shape_snapshot_load(q->body, &rq, err);

	(void)r;
	if (!ret)
		ret = vmm_snapshot_load(v, &rq, err);
	if (!ret)
		vmm_latency_api(v, VMM_LAT_LOAD_SNAPSHOT, start);
	return api_status_of(ret, err);
}
