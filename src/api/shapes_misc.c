/* Shapes of the logger, the metrics, the entropy device and the serial. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mvm/api.h"
#include "mvm/err.h"

#include "json_in.h"
#include "shapes.h"

static int dup_field(const char *src, char **dst, struct mvm_err *err)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : mvm_fail(err, -ENOMEM, "out of memory");
}

static void replace(char **slot, char *v)
{
	free(*slot);
	*slot = v;
}

int shape_logger(struct vm_spec *s, struct json_object *o, const char *path,
		 struct mvm_err *err)
{
	static const char *const known[] = { "log_path", "level", "show_level",
					     "show_log_origin", "module",
					     NULL };
	/* Index = enum api_log_level. */
	static const char *const levels[] = { "Off", "Error", "Warning",
					      "Info", "Debug", "Trace", NULL };
	const char *file = NULL, *level = NULL, *module = NULL;
	bool show_level = false, show_origin = false;
	char *f2 = NULL, *m2 = NULL;
	int lvl = API_LOG_INFO;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "log_path", false, &file);
	if (ret >= 0)
		ret = jr_str(&r, "level", false, &level);
	if (ret >= 0)
		ret = jr_bool(&r, "show_level", false, &show_level);
	if (ret >= 0)
		ret = jr_bool(&r, "show_log_origin", false, &show_origin);
	if (ret >= 0)
		ret = jr_str(&r, "module", false, &module);
	if (ret < 0)
		return ret;
	if (file && !*file)
		return jr_fail(&r, "log_path", -EINVAL, "must not be empty");
	if (level) {
		/* Firecracker takes the level in any case. */
		for (lvl = 0; levels[lvl]; lvl++)
			if (!strcasecmp(levels[lvl], level))
				break;
		if (!levels[lvl])
			return jr_fail(&r, "level", -EINVAL, "\"%.32s\" is not "
				       "one of Error, Warning, Info, Debug, "
				       "Trace, Off", level);
	}
	if (dup_field(file, &f2, err) || dup_field(module, &m2, err)) {
		free(f2);
		return -ENOMEM;
	}
	replace(&s->log_path, f2);
	replace(&s->log_module, m2);
	s->log_level = (enum api_log_level)lvl;
	s->log_show_level = show_level;
	s->log_show_origin = show_origin;
	s->logger_set = true;
	return 0;
}

int shape_metrics(struct vm_spec *s, struct json_object *o, const char *path,
		  struct mvm_err *err)
{
	static const char *const known[] = { "metrics_path", NULL };
	const char *file = NULL;
	char *f2;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "metrics_path", true, &file);
	if (ret < 0)
		return ret;
	if (!*file)
		return jr_fail(&r, "metrics_path", -EINVAL, "must not be "
			       "empty");
	if (dup_field(file, &f2, err))
		return -ENOMEM;
	replace(&s->metrics_path, f2);
	s->metrics_set = true;
	return 0;
}

int shape_entropy(struct vm_spec *s, struct json_object *o, const char *path,
		  struct mvm_err *err)
{
	static const char *const known[] = { "rate_limiter", NULL };
	struct spec_limiter l = { 0 };
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = shape_limiter(&r, "rate_limiter", &l);
	if (ret < 0)
		return ret;
	s->entropy_set = true;
	s->entropy_rate_limiter = l;
	return 0;
}

int shape_serial(struct vm_spec *s, struct json_object *o, const char *path,
		 struct mvm_err *err)
{
	static const char *const known[] = { "serial_out_path", "rate_limiter",
					     NULL };
	struct json_object *rl;
	const char *file = NULL;
	char *f2;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "serial_out_path", false, &file);
	if (ret < 0)
		return ret;
	if (json_object_object_get_ex(o, "rate_limiter", &rl) &&
	    !json_object_is_type(rl, json_type_null))
		return jr_fail(&r, "rate_limiter", -ENOTSUP, "serial output "
			       "rate limiting is not supported by mvm yet");
	if (file && !*file)
		return jr_fail(&r, "serial_out_path", -EINVAL, "must not be "
			       "empty");
	if (dup_field(file, &f2, err))
		return -ENOMEM;
	replace(&s->serial_out_path, f2);
	s->serial_set = true;
	return 0;
}
