/*
 * /mmds and /mmds/config (Firecracker's): the store's contents, PUT,
 * PATCH (a JSON merge patch) and GET, before and after boot; the
 * configuration before boot only (the router's rule). The VMM owns the
 * store; these parse and ask.
 */
#include <json-c/json.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vmm.h"
#include "mvm/vmm_mmds.h"

#include "handlers.h"
#include "shapes.h"

/* 413 when the store would pass its limit, as Firecracker answers. */
static int status_of(int ret, const struct mvm_err *err)
{
	return ret == -EFBIG ? 413 : api_status_of(ret, err);
}

int h_put_mmds(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return status_of(vmm_mmds_put(v, q->body, err), err);
}

int h_patch_mmds(struct vmm *v, const struct api_request *q,
		 struct api_response *r, struct mvm_err *err)
{
	(void)r;
	return status_of(vmm_mmds_patch(v, q->body, err), err);
}

int h_get_mmds(struct vmm *v, const struct api_request *q,
	       struct api_response *r, struct mvm_err *err)
{
	int ret = vmm_mmds_get(v, &r->body, err);

	(void)q;
	return ret ? status_of(ret, err) : 200;
}

int h_put_mmds_config(struct vmm *v, const struct api_request *q,
		      struct api_response *r, struct mvm_err *err)
{
	struct spec_mmds c;
	int ret;

	(void)r;
	ret = shape_mmds_config(&v->spec, q->body, "", &c, err);
	if (!ret)
		ret = vmm_mmds_config(v, &c, err);
	return status_of(ret, err);
}
