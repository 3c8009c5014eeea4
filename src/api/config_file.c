/*
 * --config-file: one JSON document with the API's shapes under the keys
 * GET /vm/config uses ("boot-source", "machine-config", "drives", ...).
 * Each section goes through the same shape parser as its API call, so the
 * two cannot drift; messages start with the file name and the JSON path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/file.h"
#include "mvm/vmm_mmds.h"

#include "json_in.h"
#include "shapes.h"

/* A config file is small; anything bigger is a mistake. */
#define CONFIG_MAX (1024 * 1024)

/* Element i's id (drive_id, iface_id, id), or NULL if it has none yet. */
static const char *element_id(struct json_object *arr, size_t i,
			      const char *id_key)
{
	struct json_object *e = json_object_array_get_idx(arr, i), *id;

	if (!json_object_object_get_ex(e, id_key, &id) ||
	    !json_object_is_type(id, json_type_string))
		return NULL;
	return json_object_get_string(id);
}

/*
 * An API PUT with a known id replaces that device, but two entries of one
 * file with the same id are a mistake: the first would silently vanish.
 */
static int unique_id(struct json_object *arr, size_t i, const char *key,
		     struct mvm_err *err)
{
	const char *id_key = !strcmp(key, "drives") ? "drive_id" :
			     !strcmp(key, "pmem") ? "id" : "iface_id";
	const char *id = element_id(arr, i, id_key), *other;

	for (size_t j = 0; id && j < i; j++) {
		other = element_id(arr, j, id_key);
		if (other && !strcmp(id, other))
			return mvm_fail(err, -EEXIST, "%s[%zu].%s: '%.64s' is "
					"already the id of %s[%zu]", key, i,
					id_key, id, key, j);
	}
	return 0;
}

static int array_section(struct vm_spec *s, struct json_object *root,
			 const char *key, const struct shape_opts *opt,
			 struct mvm_err *err)
{
	struct json_object *arr;
	char path[64];
	size_t n;
	int ret;

	if (!json_object_object_get_ex(root, key, &arr) ||
	    json_object_is_type(arr, json_type_null))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return mvm_fail(err, -EINVAL, "%s: expected an array, got %s",
				key, jr_type_name(arr));
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		ret = unique_id(arr, i, key, err);
		if (ret)
			return ret;
		if (!strcmp(key, "drives"))
			ret = shape_drive(s, e, path, NULL, opt, err);
		else if (!strcmp(key, "pmem"))
			ret = shape_pmem(s, e, path, NULL, opt, err);
		else
			ret = shape_net(s, e, path, NULL, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int section(struct json_object *root, const char *key,
		   struct json_object **o)
{
	return json_object_object_get_ex(root, key, o) &&
	       !json_object_is_type(*o, json_type_null);
}

/* A section that asks for something: not null, not an empty list. */
static int cpu_config_file(const char *file, struct json_object **out,
			   struct mvm_err *err);

/*
 * Firecracker's "cpu-config": the template itself, or the path of a JSON
 * file holding one.
 */
static int cpu_config_section(struct vm_spec *s, struct json_object *o,
			      struct mvm_err *err)
{
	struct json_object *file = NULL;
	int ret;

	if (json_object_is_type(o, json_type_string)) {
		ret = cpu_config_file(json_object_get_string(o), &file, err);
		if (ret)
			return ret;
		o = file;
	}
	ret = shape_cpu_config(&s->cpu_custom, o, "cpu-config", err);
	if (file)
		json_object_put(file);
	if (ret)
		return ret;
	s->cpu_custom_set = true;
	s->cpu_template = CPU_STATIC_NONE;
	return 0;
}

static int apply(struct vm_spec *s, struct json_object *root,
		 const struct shape_opts *opt, struct mvm_err *err)
{
	static const char *const known[] = {
		"boot-source", "machine-config", "drives",
		"network-interfaces", "logger", "metrics", "entropy",
		"serial", "balloon", "vsock", "mmds-config", "cpu-config",
		"pmem", "memory-hotplug", "dynamic-memory", NULL };
	struct json_object *o;
	struct jr r;
	int ret;

	ret = jr_open(&r, root, "", known, err);
	if (ret)
		return ret;
	if (section(root, "machine-config", &o)) {
		ret = shape_machine_config(s, o, "machine-config", false, err);
		if (ret)
			return ret;
	}
	if (!section(root, "boot-source", &o))
		return mvm_fail(err, -EINVAL, "boot-source: missing required "
				"section");
	ret = shape_boot_source(s, o, "boot-source", opt, err);
	if (!ret)
		ret = array_section(s, root, "drives", opt, err);
	if (!ret)
		ret = array_section(s, root, "network-interfaces", opt, err);
	if (!ret)
		ret = array_section(s, root, "pmem", opt, err);
	/* After the NICs: the ones it names must exist. */
	if (!ret && section(root, "mmds-config", &o))
		ret = shape_mmds_config(s, o, "mmds-config", &s->mmds, err);
	if (!ret && section(root, "logger", &o))
		ret = shape_logger(s, o, "logger", err);
	if (!ret && section(root, "metrics", &o))
		ret = shape_metrics(s, o, "metrics", err);
	if (!ret && section(root, "cpu-config", &o))
		ret = cpu_config_section(s, o, err);
	if (!ret && section(root, "entropy", &o))
		ret = shape_entropy(s, o, "entropy", err);
	if (!ret && section(root, "serial", &o))
		ret = shape_serial(s, o, "serial", err);
	if (!ret && section(root, "balloon", &o))
		ret = shape_balloon(s, o, "balloon", err);
	if (!ret && section(root, "vsock", &o))
		ret = shape_vsock(s, o, "vsock", err);
	if (!ret && section(root, "memory-hotplug", &o))
		ret = shape_hotplug(o, "memory-hotplug", &s->mem_hotplug, err);
	if (!ret && section(root, "dynamic-memory", &o))
		ret = shape_dynmem(s, o, "dynamic-memory", err);
	return ret;
}

int config_parse(struct vm_spec *s, const char *text, size_t len,
		 const char *name, const struct shape_opts *opt,
		 struct mvm_err *err)
{
	struct json_object *root;
	int ret = api_json_parse(text, len, &root, err);

	if (!ret) {
		ret = apply(s, root, opt, err);
		json_object_put(root);
	}
	if (ret)
		mvm_wrap(err, ret, "%s: ", name);
	return ret;
}

/* A whole regular file of at most CONFIG_MAX bytes into *buf (malloc'd). */
static int read_text(const char *file, const char *what, char **buf,
		     size_t *len, struct mvm_err *err)
{
	struct stat st;
	ssize_t got;
	int fd, ret;

	/* O_NONBLOCK: a FIFO would wait for a writer, signals blocked. */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return mvm_fail(err, -errno, "%s %s: %s", what, file,
				strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = mvm_fail(err, -errno, "%s %s: %s", what, file,
			       strerror(errno));
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return mvm_fail(err, -EINVAL, "%s %s: not a regular file (%s)",
				what, file, file_kind(st.st_mode));
	}
	if (st.st_size > CONFIG_MAX) {
		close(fd);
		return mvm_fail(err, -EFBIG, "%s %s: over %d bytes", what,
				file, CONFIG_MAX);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	got = read(fd, *buf, (size_t)st.st_size);
	close(fd);
	if (got != st.st_size) {
		free(*buf);
		return mvm_fail(err, -EIO, "%s %s: short read", what, file);
	}
	*len = (size_t)got;
	return 0;
}

/* Firecracker's "cpu-config" may name a file holding the template. */
static int cpu_config_file(const char *file, struct json_object **out,
			   struct mvm_err *err)
{
	size_t len;
	char *buf;
	int ret = read_text(file, "cpu-config: template file", &buf, &len,
			    err);

	if (ret)
		return ret;
	ret = api_json_parse(buf, len, out, err);
	free(buf);
	if (ret)
		mvm_wrap(err, ret, "cpu-config: %s: ", file);
	return ret;
}

int config_file_load(struct vm_spec *s, const char *file,
		     const struct shape_opts *opt, struct mvm_err *err)
{
	size_t len;
	char *buf;
	int ret = read_text(file, "config file", &buf, &len, err);

	if (ret)
		return ret;
	ret = config_parse(s, buf, len, file, opt, err);
	free(buf);
	return ret;
}

int api_metadata_load(struct vmm *v, const char *file, struct mvm_err *err)
{
	struct json_object *root;
	size_t len;
	char *buf;
	int ret = read_text(file, "--metadata", &buf, &len, err);

	if (ret)
		return ret;
	ret = api_json_parse(buf, len, &root, err);
	free(buf);
	if (!ret) {
		ret = vmm_mmds_put(v, root, err);
		json_object_put(root);
	}
	/* The read's messages name the file already; these do not. */
	return ret ? mvm_wrap(err, ret, "--metadata %s: ", file) : 0;
}
