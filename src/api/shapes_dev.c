/*
 * Shapes of drives and network interfaces (PUT before boot, PATCH after)
 * and of their rate limiters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/rate_limiter.h"

#include "json_in.h"
#include "shapes.h"


static int bucket(struct jr *r, const char *key, struct token_bucket *b,
		  bool *set)
{
	static const char *const known[] = { "size", "refill_time",
					     "one_time_burst", NULL };
	struct jr sub;
	int ret = jr_obj(r, key, false, known, &sub);

	if (ret <= 0)
		return ret;
	memset(b, 0, sizeof(*b));
	/* Bounded so that the buckets' arithmetic cannot overflow. */
	ret = jr_u64(&sub, "size", true, 0, RL_BUCKET_MAX, &b->size);
	if (ret >= 0)
		ret = jr_u64(&sub, "refill_time", true, 0, RL_REFILL_MS_MAX,
			     &b->refill_time_ms);
	if (ret >= 0)
		ret = jr_u64(&sub, "one_time_burst", false, 0, RL_BUCKET_MAX,
			     &b->one_time_burst);
	if (ret < 0)
		return ret;
	*set = true;
	return 1;
}

int shape_limiter(struct jr *r, const char *key, struct spec_limiter *l)
{
	static const char *const known[] = { "bandwidth", "ops", NULL };
	struct spec_limiter n = { .set = true };
	struct jr sub;
	int ret = jr_obj(r, key, false, known, &sub);

	if (ret <= 0)
		return ret;
	ret = bucket(&sub, "bandwidth", &n.rl.bandwidth, &n.bandwidth_set);
	if (ret >= 0)
		ret = bucket(&sub, "ops", &n.rl.ops, &n.ops_set);
	if (ret < 0)
		return ret;
	*l = n;
	return 1;
}

int shape_check_id(struct jr *r, const char *key, const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= VM_ID_MAX)
		return jr_fail(r, key, -EINVAL, "must be 1 to %d characters",
			       VM_ID_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return jr_fail(r, key, -EINVAL, "may contain only "
				       "letters, digits, '_' and '-'");
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool shape_parse_mac(const char *s, unsigned char mac[6])
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return false;
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* The id in the body must be the one in the URL (Firecracker's rule). */
static int id_matches(struct jr *r, const char *key, const char *id,
		      const char *id_from_path)
{
	int ret = shape_check_id(r, key, id);

	if (ret)
		return ret;
	if (id_from_path && strcmp(id, id_from_path))
		return jr_fail(r, key, -EINVAL, "'%s' does not match the id "
			       "in the path ('%.64s')", id, id_from_path);
	return 0;
}

static struct spec_drive *find_drive(struct vm_spec *s, const char *id)
{
	for (unsigned i = 0; i < s->nr_drives; i++)
		if (!strcmp(s->drives[i].id, id))
			return &s->drives[i];
	return NULL;
}

int shape_drive(struct vm_spec *s, struct json_object *o, const char *path,
		const char *id_from_path, const struct shape_opts *opt,
		struct mvm_err *err)
{
	static const char *const known[] = {
		"drive_id", "path_on_host", "is_root_device", "is_read_only",
		"partuuid", "cache_type", "rate_limiter", "io_engine",
		"socket", NULL };
	static const char *const caches[] = { "Unsafe", "Writeback", NULL };
	static const char *const engines[] = { "Sync", "Async", NULL };
	const char *id = NULL, *file = NULL, *partuuid = NULL, *sock = NULL;
	struct spec_drive n = { 0 }, *d;
	int cache = 0, engine = 0;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "drive_id", true, &id);
	if (ret >= 0)
		ret = id_matches(&r, "drive_id", id, id_from_path);
	if (ret >= 0)
		ret = jr_str(&r, "socket", false, &sock);
	if (ret > 0)
		return jr_fail(&r, "socket", -ENOTSUP, "vhost-user drives are "
			       "not supported by mvm");
	if (ret >= 0)
		ret = jr_str(&r, "path_on_host", true, &file);
	if (ret >= 0)
		ret = jr_bool(&r, "is_root_device", true, &n.is_root_device);
	if (ret >= 0)
		ret = jr_bool(&r, "is_read_only", false, &n.is_read_only);
	if (ret >= 0)
		ret = jr_str(&r, "partuuid", false, &partuuid);
	if (ret >= 0)
		ret = jr_enum(&r, "cache_type", false, caches, &cache);
	if (ret >= 0)
		ret = jr_enum(&r, "io_engine", false, engines, &engine);
	if (ret >= 0)
		ret = shape_limiter(&r, "rate_limiter", &n.rate_limiter);
	if (ret < 0)
		return ret;
	ret = shape_check_file(&r, "path_on_host", file, !n.is_read_only, true,
			       opt);
	if (ret)
		return ret;
	if (partuuid && (!*partuuid || strlen(partuuid) > 64 ||
			 strpbrk(partuuid, " \t\n")))
		return jr_fail(&r, "partuuid", -EINVAL, "must be 1 to 64 "
			       "characters without spaces");
	d = find_drive(s, id);
	for (unsigned i = 0; n.is_root_device && i < s->nr_drives; i++)
		if (s->drives[i].is_root_device && &s->drives[i] != d)
			return jr_fail(&r, "is_root_device", -EEXIST, "drive "
				       "'%s' is already the root device",
				       s->drives[i].id);
	for (unsigned i = 0; n.is_root_device && i < s->nr_pmems; i++)
		if (s->pmems[i].root_device)
			return jr_fail(&r, "is_root_device", -EEXIST, "pmem "
				       "'%s' is already the root device",
				       s->pmems[i].id);
	if (!d && s->nr_drives >= VM_MAX_DISKS)
		return jr_fail(&r, NULL, -ENOSPC, "mvm supports at most %d "
			       "drives", VM_MAX_DISKS);

	snprintf(n.id, sizeof(n.id), "%s", id);
	n.cache_writeback = cache == 1;
	n.io_engine_async = engine == 1;
	n.path_on_host = strdup(file);
	n.partuuid = partuuid ? strdup(partuuid) : NULL;
	if (!n.path_on_host || (partuuid && !n.partuuid)) {
		free(n.path_on_host);
		free(n.partuuid);
		return mvm_fail(err, -ENOMEM, "out of memory");
	}
	if (d) {
		free(d->path_on_host);
		free(d->partuuid);
	} else {
		d = &s->drives[s->nr_drives++];
	}
	*d = n;
	return 0;
}

int shape_drive_patch(const struct vm_spec *s, struct json_object *o,
		      const char *id_from_path, const struct shape_opts *opt,
		      char **path_on_host, struct spec_limiter *rl,
		      struct mvm_err *err)
{
	static const char *const known[] = { "drive_id", "path_on_host",
					     "rate_limiter", NULL };
	const struct spec_drive *d = NULL;
	const char *id = NULL, *file = NULL;
	struct jr r;
	int ret;

	*path_on_host = NULL;
	memset(rl, 0, sizeof(*rl));
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_str(&r, "drive_id", true, &id);
	if (ret >= 0)
		ret = id_matches(&r, "drive_id", id, id_from_path);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < s->nr_drives; i++)
		if (!strcmp(s->drives[i].id, id))
			d = &s->drives[i];
	if (!d)
		return jr_fail(&r, "drive_id", -ENOENT, "no drive '%s' is "
			       "configured", id);
	ret = jr_str(&r, "path_on_host", false, &file);
	if (ret > 0)
		ret = shape_check_file(&r, "path_on_host", file,
				       !d->is_read_only, true, opt);
	if (ret >= 0)
		ret = shape_limiter(&r, "rate_limiter", rl);
	if (ret < 0)
		return ret;
	if (file) {
		*path_on_host = strdup(file);
		if (!*path_on_host)
			return mvm_fail(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static struct spec_net *find_net(struct vm_spec *s, const char *id)
{
	for (unsigned i = 0; i < s->nr_nets; i++)
		if (!strcmp(s->nets[i].id, id))
			return &s->nets[i];
	return NULL;
}

/* "hostfwd": ["tcp:127.0.0.1:8080-:80", ...], each rule checked. */
static int shape_hostfwd(struct jr *r, struct spec_net *n)
{
	struct json_object *a;
	size_t len;

	if (!json_object_object_get_ex(r->o, "hostfwd", &a) ||
	    json_object_is_type(a, json_type_null))
		return 0;
	if (!n->user)
		return jr_fail(r, "hostfwd", -EINVAL, "only with \"backend\": "
			       "\"user\"");
	if (!json_object_is_type(a, json_type_array))
		return jr_fail(r, "hostfwd", -EINVAL, "must be an array of "
			       "strings like \"tcp:127.0.0.1:8080-:80\"");
	len = json_object_array_length(a);
	if (len > SLIRP_NET_HOSTFWD_MAX)
		return jr_fail(r, "hostfwd", -EINVAL, "at most %d rules",
			       SLIRP_NET_HOSTFWD_MAX);
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct mvm_err perr = { 0 };

		if (!json_object_is_type(e, json_type_string))
			return jr_fail(r, "hostfwd", -EINVAL, "[%zu] is not a "
				       "string", i);
		if (slirp_net_hostfwd_parse(json_object_get_string(e),
					    &n->hostfwd[i], &perr))
			return jr_fail(r, "hostfwd", -EINVAL, "[%zu]: %s", i,
				       perr.msg);
	}
	n->nr_hostfwd = (unsigned)len;
	return 0;
}

/* "backend": "tap" (host_dev_name names it) or "user" (NAT, no tap). */
static int shape_backend(struct jr *r, struct spec_net *n, const char **tap)
{
	static const char *const names[] = { "tap", "user", NULL };
	int which = 0, ret = jr_enum(r, "backend", false, names, &which);

	if (ret < 0)
		return ret;
	n->user = which == 1;
	ret = jr_str(r, "host_dev_name", !n->user, tap);
	if (ret > 0 && n->user)
		return jr_fail(r, "host_dev_name", -EINVAL, "not with "
			       "\"backend\": \"user\" (NAT needs no tap)");
	if (ret < 0)
		return ret;
	return shape_hostfwd(r, n);
}

int shape_net(struct vm_spec *s, struct json_object *o, const char *path,
	      const char *id_from_path, struct mvm_err *err)
{
	static const char *const known[] = {
		"iface_id", "host_dev_name", "guest_mac", "mtu",
		"rx_rate_limiter", "tx_rate_limiter", "mac_spoofing",
		"backend", "hostfwd", NULL };
	const char *id = NULL, *tap = "", *mac = NULL;
	struct spec_net n = { 0 }, *cur;
	uint64_t mtu;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "iface_id", true, &id);
	if (ret >= 0)
		ret = id_matches(&r, "iface_id", id, id_from_path);
	if (ret >= 0)
		ret = shape_backend(&r, &n, &tap);
	if (ret >= 0)
		ret = jr_str(&r, "guest_mac", false, &mac);
	if (ret >= 0)
		ret = jr_u64(&r, "mtu", false, SLIRP_NET_MTU_MIN,
			     SLIRP_NET_MTU_MAX, &mtu);
	if (ret > 0 && !n.user)
		return jr_fail(&r, "mtu", -ENOTSUP, "only with \"backend\": "
			       "\"user\" (a tap's MTU is the host's to set)");
	if (ret > 0)
		n.mtu = (unsigned)mtu;
	if (ret >= 0)
		ret = shape_limiter(&r, "rx_rate_limiter", &n.rx_rate_limiter);
	if (ret >= 0)
		ret = shape_limiter(&r, "tx_rate_limiter", &n.tx_rate_limiter);
	if (ret >= 0)
		ret = jr_bool(&r, "mac_spoofing", false, &n.mac_spoofing);
	if (ret < 0)
		return ret;
	if (!n.user && (!*tap || strlen(tap) >= sizeof(n.host_dev_name) ||
			strpbrk(tap, "/: \t\n")))
		return jr_fail(&r, "host_dev_name", -EINVAL, "must be a network "
			       "interface name of 1 to %zu characters",
			       sizeof(n.host_dev_name) - 1);
	if (mac) {
		if (!shape_parse_mac(mac, n.guest_mac))
			return jr_fail(&r, "guest_mac", -EINVAL, "'%.32s' is "
				       "not a MAC address like "
				       "06:00:AC:10:00:02", mac);
		/* Taken as Firecracker takes it; the start warns (vmm.c). */
		n.guest_mac_set = true;
	}
	cur = find_net(s, id);
	for (unsigned i = 0; i < s->nr_nets; i++) {
		const struct spec_net *o2 = &s->nets[i];

		if (o2 == cur)
			continue;
		if (*tap && !strcmp(o2->host_dev_name, tap))
			return jr_fail(&r, "host_dev_name", -EEXIST, "'%s' is "
				       "already used by interface '%s'", tap,
				       o2->id);
		if (n.guest_mac_set && o2->guest_mac_set &&
		    !memcmp(o2->guest_mac, n.guest_mac, 6))
			return jr_fail(&r, "guest_mac", -EEXIST, "%s is "
				       "already used by interface '%s'", mac,
				       o2->id);
	}
	if (!cur && s->nr_nets >= VM_MAX_NETS)
		return jr_fail(&r, NULL, -ENOSPC, "mvm supports at most %d "
			       "network interfaces", VM_MAX_NETS);
	snprintf(n.id, sizeof(n.id), "%s", id);
	snprintf(n.host_dev_name, sizeof(n.host_dev_name), "%s", tap);
	if (!cur)
		cur = &s->nets[s->nr_nets++];
	*cur = n;
	return 0;
}

int shape_net_patch(const struct vm_spec *s, struct json_object *o,
		    const char *id_from_path, struct spec_limiter *rx,
		    struct spec_limiter *tx, struct mvm_err *err)
{
	static const char *const known[] = { "iface_id", "rx_rate_limiter",
					     "tx_rate_limiter", NULL };
	const char *id = NULL;
	bool found = false;
	struct jr r;
	int ret;

	memset(rx, 0, sizeof(*rx));
	memset(tx, 0, sizeof(*tx));
	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_str(&r, "iface_id", true, &id);
	if (ret >= 0)
		ret = id_matches(&r, "iface_id", id, id_from_path);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < s->nr_nets; i++)
		found |= !strcmp(s->nets[i].id, id);
	if (!found)
		return jr_fail(&r, "iface_id", -ENOENT, "no network interface "
			       "'%s' is configured", id);
	ret = shape_limiter(&r, "rx_rate_limiter", rx);
	if (ret >= 0)
		ret = shape_limiter(&r, "tx_rate_limiter", tx);
	return ret < 0 ? ret : 0;
}
