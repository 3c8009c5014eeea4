/* PUT /snapshot/create and PUT /snapshot/load. */
#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_snapshot.h"

#include "handlers.h"
#include "shapes.h"

int h_put_snapshot_create(struct vmm *v, const struct api_request *q,
			  struct api_response *r, struct mvm_err *err)
{
	struct vmm_snapshot_create rq;
	int ret = shape_snapshot_create(q->body, &rq, err);

	(void)r;
	if (ret)
		return api_status_of(ret, err);
	return api_status_of(vmm_snapshot_create(v, &rq, err), err);
}

int h_put_snapshot_load(struct vmm *v, const struct api_request *q,
			struct api_response *r, struct mvm_err *err)
{
	struct vmm_snapshot_load rq;
	int ret = shape_snapshot_load(q->body, &rq, err);

	(void)r;
	if (ret)
		return api_status_of(ret, err);
	return api_status_of(vmm_snapshot_load(v, &rq, err), err);
}
