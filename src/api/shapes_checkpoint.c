/*
 * The shape of PUT /checkpoints/config (mvm's extension): {"dir": PATH}.
 * The request borrows its string from the JSON body.
 */
#include "mvm/api.h"
#include "mvm/err.h"

#include "json_in.h"
#include "shapes.h"

int shape_checkpoint_config(struct json_object *o, const char **dir,
			    struct mvm_err *err)
{
	static const char *const known[] = { "dir", NULL };
	struct jr r;
	int ret;

	*dir = NULL;
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_str(&r, "dir", true, dir);
	if (ret < 0)
		return ret;
	if (!**dir)
		return jr_fail(&r, "dir", -EINVAL, "must not be empty");
	return 0;
}
