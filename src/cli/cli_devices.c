/*
 * --disk, --net and --balloon values: comma-separated key=value lists.
 * Every key is checked against the option's own set, so a typo is an
 * error naming it rather than a silently ignored setting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/balloon.h"
#include "mvm/cli.h"
#include "mvm/cli_devices.h"
#include "mvm/err.h"
#include "mvm/net.h"
#include "mvm/slirp_net.h"

#define KV_MAX 24 /* --net user: a few keys and up to 16 hostfwd */

struct kv {
	char key[32];
	const char *val; /* into the option's copy */
};

/*
 * Split "a=1,b=2" (copied into buf) into pairs. Keys must be known and
 * unique; values non-empty.
 */
/* A key written "name+" in a table may be given several times. */
static bool repeatable(const char *key)
{
	size_t l = strlen(key);

	return l && key[l - 1] == '+';
}

static bool key_is(const char *key, const char *tok)
{
	size_t l = strlen(tok);

	return !strncmp(key, tok, l) && (!key[l] || !strcmp(key + l, "+"));
}

static int split(const char *opt, const char *arg, char *buf, size_t size,
		 const char *const *keys, struct kv *kv, int *n,
		 struct mvm_err *err)
{
	char *save = NULL, *tok;

	if (strlen(arg) >= size)
		return mvm_fail(err, -E2BIG, "%s: value too long", opt);
	strcpy(buf, arg);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *const *k;

		if (!eq || eq == tok)
			return mvm_fail(err, -EINVAL, "%s: '%s' is not "
					"key=value", opt, tok);
		*eq = '\0';
		for (k = keys; *k && !key_is(*k, tok); k++)
			;
		if (!*k)
			return mvm_fail(err, -EINVAL, "%s: unknown key '%s'",
					opt, tok);
		for (int i = 0; i < *n && !repeatable(*k); i++)
			if (!strcmp(kv[i].key, tok))
				return mvm_fail(err, -EINVAL, "%s: key '%s' "
						"given twice", opt, tok);
		if (!eq[1])
			return mvm_fail(err, -EINVAL, "%s: key '%s' has no "
					"value", opt, tok);
		if (*n == KV_MAX)
			return mvm_fail(err, -E2BIG, "%s: too many keys", opt);
		snprintf(kv[*n].key, sizeof(kv[*n].key), "%s", tok);
		kv[*n].val = eq + 1;
		(*n)++;
	}
	if (!*n)
		return mvm_fail(err, -EINVAL, "%s: empty value", opt);
	return 0;
}

static int on_off(const char *opt, const char *key, const char *v, bool *out,
		  struct mvm_err *err)
{
	if (!strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "off"))
		*out = false;
	else
		return mvm_fail(err, -EINVAL, "%s: %s: '%s' is not on or off",
				opt, key, v);
	return 0;
}

static int check_id(const char *opt, const char *id, struct mvm_err *err)
{
	if (strlen(id) >= VM_ID_MAX)
		return mvm_fail(err, -EINVAL, "%s: id: '%s' is longer than "
				"%d characters", opt, id, VM_ID_MAX - 1);
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return mvm_fail(err, -EINVAL, "%s: id: '%s' may only "
					"hold letters, digits, '_' and '-'",
					opt, id);
	return 0;
}

/*
 * bw=BYTES, ops=N and their rx_/tx_ forms: a token bucket of that many
 * refilled over a second, so a burst of up to one second's worth. 0 is
 * no limit, as the API's size 0 is. Returns 1 if key is not one.
 */
static int per_second(const char *opt, const struct kv *kv,
		      struct rate_limiter *rl, const char *prefix,
		      struct mvm_err *err)
{
	size_t n = strlen(prefix);
	struct token_bucket *b;
	unsigned long long v;
	char what[64];
	int ret;

	if (strncmp(kv->key, prefix, n))
		return 1;
	if (!strcmp(kv->key + n, "bw"))
		b = &rl->bandwidth;
	else if (!strcmp(kv->key + n, "ops"))
		b = &rl->ops;
	else
		return 1;
	snprintf(what, sizeof(what), "%s: %s", opt, kv->key);
	ret = cli_parse_u64(what, kv->val, RL_BUCKET_MAX, &v, err);
	if (!ret)
		*b = (struct token_bucket){ .size = v,
					    .refill_time_ms = v ? 1000 : 0 };
	return ret;
}

static int disk_key(struct disk_config *d, const struct kv *kv,
		    struct mvm_err *err)
{
	const char *opt = "--disk";
	int ret = per_second(opt, kv, &d->rl, "", err);

	if (ret <= 0)
		return ret;

	if (!strcmp(kv->key, "path")) {
		d->path = strdup(kv->val);
		return d->path ? 0 : mvm_fail(err, -ENOMEM, "out of memory");
	}
	if (!strcmp(kv->key, "id")) {
		ret = check_id(opt, kv->val, err);
		if (!ret)
			snprintf(d->id, sizeof(d->id), "%s", kv->val);
		return ret;
	}
	if (!strcmp(kv->key, "readonly"))
		return on_off(opt, kv->key, kv->val, &d->readonly, err);
	/* cache */
	if (!strcmp(kv->val, "none"))
		d->cache = DISK_CACHE_NONE;
	else if (!strcmp(kv->val, "writeback"))
		d->cache = DISK_CACHE_WRITEBACK;
	else
		return mvm_fail(err, -EINVAL, "--disk: cache: '%s' is not "
				"none or writeback", kv->val);
	return 0;
}

int cli_add_disk(struct vm_config *cfg, const char *arg, struct mvm_err *err)
{
	static const char *const keys[] = { "path", "id", "readonly", "cache",
					    "bw", "ops", NULL };
	struct disk_config d = { .cache = DISK_CACHE_WRITEBACK };
	struct kv kv[KV_MAX];
	char buf[4096];
	int n, ret;

	if (cfg->nr_disks == VM_MAX_DISKS)
		return mvm_fail(err, -E2BIG, "--disk: at most %d disks",
				VM_MAX_DISKS);
	ret = split("--disk", arg, buf, sizeof(buf), keys, kv, &n, err);
	for (int i = 0; !ret && i < n; i++)
		ret = disk_key(&d, &kv[i], err);
	if (!ret && !d.path)
		ret = mvm_fail(err, -EINVAL, "--disk: path=FILE is required");
	if (!ret && !d.id[0])
		snprintf(d.id, sizeof(d.id), "disk%u", cfg->nr_disks);
	for (unsigned i = 0; !ret && i < cfg->nr_disks; i++)
		if (!strcmp(cfg->disks[i].id, d.id))
			ret = mvm_fail(err, -EINVAL, "--disk: id '%s' is "
				       "used twice", d.id);
	if (ret) {
		free(d.path);
		return ret;
	}
	cfg->disks[cfg->nr_disks++] = d;
	return 0;
}

static int pmem_key(struct pmem_config *p, const struct kv *kv,
		    struct mvm_err *err)
{
	const char *opt = "--pmem";

	if (!strcmp(kv->key, "path")) {
		p->path = strdup(kv->val);
		return p->path ? 0 : mvm_fail(err, -ENOMEM, "out of memory");
	}
	if (!strcmp(kv->key, "id")) {
		int ret = check_id(opt, kv->val, err);

		if (!ret)
			snprintf(p->id, sizeof(p->id), "%s", kv->val);
		return ret;
	}
	if (!strcmp(kv->key, "root"))
		return on_off(opt, kv->key, kv->val, &p->root, err);
	return on_off(opt, kv->key, kv->val, &p->readonly, err); /* ro */
}

static int pmem_check(const struct vm_config *cfg,
		      const struct pmem_config *p, struct mvm_err *err)
{
	if (!p->path)
		return mvm_fail(err, -EINVAL, "--pmem: path=FILE is required");
	for (unsigned i = 0; i < cfg->nr_pmems; i++) {
		if (!strcmp(cfg->pmems[i].id, p->id))
			return mvm_fail(err, -EINVAL, "--pmem: id '%s' is "
					"used twice", p->id);
		if (p->root && cfg->pmems[i].root)
			return mvm_fail(err, -EINVAL, "--pmem: root=on is "
					"already given for '%s'",
					cfg->pmems[i].id);
	}
	return 0;
}

int cli_add_pmem(struct vm_config *cfg, const char *arg, struct mvm_err *err)
{
	static const char *const keys[] = { "path", "id", "root", "ro", NULL };
	struct pmem_config p = { 0 };
	struct kv kv[KV_MAX];
	char buf[4096];
	int n, ret;

	if (cfg->nr_pmems == VM_MAX_PMEMS)
		return mvm_fail(err, -E2BIG, "--pmem: at most %d pmem devices",
				VM_MAX_PMEMS);
	ret = split("--pmem", arg, buf, sizeof(buf), keys, kv, &n, err);
	for (int i = 0; !ret && i < n; i++)
		ret = pmem_key(&p, &kv[i], err);
	if (!ret && !p.id[0])
		snprintf(p.id, sizeof(p.id), "pmem%u", cfg->nr_pmems);
	if (!ret)
		ret = pmem_check(cfg, &p, err);
	if (ret) {
		free(p.path);
		return ret;
	}
	cfg->pmems[cfg->nr_pmems++] = p;
	return 0;
}

/* mtu=N: the user backend's IP MTU, which the guest's NIC is offered. */
static int net_mtu(struct net_config *c, const char *val, struct mvm_err *err)
{
	unsigned long long v;
	int ret;

	if (!c->user)
		return mvm_fail(err, -EINVAL, "--net: mtu: only with the user "
				"backend (--net user,...)");
	ret = cli_parse_u64("--net: mtu", val, SLIRP_NET_MTU_MAX, &v, err);
	if (ret)
		return ret;
	if (v < SLIRP_NET_MTU_MIN)
		return mvm_fail(err, -EINVAL, "--net: mtu: %llu is below %d",
				v, SLIRP_NET_MTU_MIN);
	c->mtu = (unsigned)v;
	return 0;
}

static int net_key(struct net_config *c, const struct kv *kv,
		   struct mvm_err *err)
{
	const char *opt = "--net";
	int ret = per_second(opt, kv, &c->rx_rl, "rx_", err);

	if (ret == 1)
		ret = per_second(opt, kv, &c->tx_rl, "tx_", err);
	if (ret <= 0)
		return ret;

	if (!strcmp(kv->key, "tap")) {
		if (strlen(kv->val) >= sizeof(c->tap))
			return mvm_fail(err, -EINVAL, "--net: tap: '%s' is "
					"longer than %zu characters", kv->val,
					sizeof(c->tap) - 1);
		snprintf(c->tap, sizeof(c->tap), "%s", kv->val);
		return 0;
	}
	if (!strcmp(kv->key, "id")) {
		ret = check_id(opt, kv->val, err);
		if (!ret)
			snprintf(c->id, sizeof(c->id), "%s", kv->val);
		return ret;
	}
	if (!strcmp(kv->key, "hostfwd")) {
		if (!c->user)
			return mvm_fail(err, -EINVAL, "--net: hostfwd: only "
					"with the user backend (--net user,...)");
		if (c->nr_hostfwd == SLIRP_NET_HOSTFWD_MAX)
			return mvm_fail(err, -E2BIG, "--net: hostfwd: at most "
					"%d rules", SLIRP_NET_HOSTFWD_MAX);
		ret = slirp_net_hostfwd_parse(kv->val,
					      &c->hostfwd[c->nr_hostfwd], err);
		if (ret)
			return mvm_wrap(err, ret, "--net: ");
		c->nr_hostfwd++;
		return 0;
	}
	if (!strcmp(kv->key, "mtu"))
		return net_mtu(c, kv->val, err);
	if (!strcmp(kv->key, "mac")) {
		if (!net_mac_parse(kv->val, c->mac))
			return mvm_fail(err, -EINVAL, "--net: mac: '%s' is "
					"not a unicast MAC like "
					"52:54:00:12:34:56", kv->val);
		c->mac_set = true;
		return 0;
	}
	return on_off(opt, kv->key, kv->val, &c->mac_spoofing, err);
}

int cli_add_net(struct vm_config *cfg, const char *arg, struct mvm_err *err)
{
	static const char *const keys[] = { "tap", "id", "mac", "mac_spoofing",
					    "rx_bw", "rx_ops", "tx_bw", "tx_ops",
					    "hostfwd+", "mtu", NULL };
	struct net_config c = { .mac_spoofing = false };
	struct kv kv[KV_MAX];
	char buf[1024];
	int n = 0, ret;

	if (cfg->nr_nets == VM_MAX_NETS)
		return mvm_fail(err, -E2BIG, "--net: at most %d NICs",
				VM_MAX_NETS);
	/* "user" first: the NAT backend (libslirp), no tap. */
	if (!strcmp(arg, "user") || !strncmp(arg, "user,", 5)) {
		c.user = true;
		arg += 4 + (arg[4] == ',');
	}
	ret = *arg ? split("--net", arg, buf, sizeof(buf), keys, kv, &n, err)
		   : 0;
	for (int i = 0; !ret && i < n; i++)
		ret = net_key(&c, &kv[i], err);
	if (ret)
		return ret;
	if (c.user && c.tap[0])
		return mvm_fail(err, -EINVAL, "--net: tap: not with the user "
				"backend (NAT needs no tap)");
	if (!c.user && !c.tap[0])
		return mvm_fail(err, -EINVAL, "--net: tap=NAME or user is "
				"required");
	if (!c.id[0])
		snprintf(c.id, sizeof(c.id), "net%u", cfg->nr_nets);
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		if (!strcmp(cfg->nets[i].id, c.id))
			return mvm_fail(err, -EINVAL, "--net: id '%s' is used "
					"twice", c.id);
		if (c.tap[0] && !strcmp(cfg->nets[i].tap, c.tap))
			return mvm_fail(err, -EINVAL, "--net: tap '%s' is "
					"used twice", c.tap);
	}
	cfg->nets[cfg->nr_nets++] = c;
	return 0;
}

static int balloon_key(struct balloon_config *b, const struct kv *kv,
		       struct mvm_err *err)
{
	const char *opt = "--balloon";
	unsigned long long v;
	int ret;

	if (!strcmp(kv->key, "amount_mib")) {
		ret = cli_parse_u64("--balloon: amount_mib", kv->val,
				    BALLOON_MAX_MIB, &v, err);
		b->amount_mib = (uint32_t)v;
		return ret;
	}
	if (!strcmp(kv->key, "stats")) {
		ret = cli_parse_u64("--balloon: stats", kv->val, UINT16_MAX,
				    &v, err);
		b->stats_interval_s = (uint16_t)v;
		return ret;
	}
	if (!strcmp(kv->key, "deflate_on_oom"))
		return on_off(opt, kv->key, kv->val, &b->deflate_on_oom, err);
	if (!strcmp(kv->key, "hinting"))
		return on_off(opt, kv->key, kv->val, &b->free_page_hinting,
			      err);
	return on_off(opt, kv->key, kv->val, &b->free_page_reporting, err);
}

int cli_add_balloon(struct vm_config *cfg, const char *arg,
		    struct mvm_err *err)
{
	static const char *const keys[] = { "amount_mib", "deflate_on_oom",
					    "stats", "hinting", "reporting",
					    NULL };
	struct balloon_config b = { .enabled = true };
	struct kv kv[KV_MAX];
	bool amount = false;
	char buf[256];
	int n, ret;

	if (cfg->balloon.enabled)
		return mvm_fail(err, -EINVAL, "--balloon: given twice (a VM "
				"has one balloon)");
	ret = split("--balloon", arg, buf, sizeof(buf), keys, kv, &n, err);
	for (int i = 0; !ret && i < n; i++) {
		ret = balloon_key(&b, &kv[i], err);
		amount |= !strcmp(kv[i].key, "amount_mib");
	}
	if (!ret && !amount)
		ret = mvm_fail(err, -EINVAL, "--balloon: amount_mib=N is "
			       "required");
	if (!ret)
		cfg->balloon = b;
	return ret;
}

/* The option's key for a field of the sizes' rules. */
static const char *hotplug_key(enum vm_hotplug_field f)
{
	static const char *const keys[] = {
		[VM_HOTPLUG_TOTAL] = "total", [VM_HOTPLUG_SLOT] = "slot",
		[VM_HOTPLUG_BLOCK] = "block", [VM_HOTPLUG_REQUESTED] = "total",
	};

	return (unsigned)f < sizeof(keys) / sizeof(keys[0]) ? keys[f] : "?";
}

static int hotplug_key_set(struct mem_hotplug_config *h, const struct kv *kv,
			   struct mvm_err *err)
{
	unsigned long long v = 0;
	char opt[64];
	int ret;

	snprintf(opt, sizeof(opt), "--memory-hotplug: %.31s", kv->key);
	ret = cli_parse_u64(opt, kv->val, 0xffffffffULL, &v, err);
	if (ret)
		return ret;
	if (!strcmp(kv->key, "total"))
		h->total_mib = v;
	else if (!strcmp(kv->key, "slot"))
		h->slot_mib = v;
	else
		h->block_mib = v;
	return 0;
}

int cli_set_hotplug(struct vm_config *cfg, const char *arg,
		    struct mvm_err *err)
{
	static const char *const keys[] = { "total", "slot", "block", NULL };
	struct mem_hotplug_config h = {
		.slot_mib = MEM_HOTPLUG_DEFAULT_SLOT_MIB,
		.block_mib = MEM_HOTPLUG_DEFAULT_BLOCK_MIB,
	};
	enum vm_hotplug_field f;
	struct kv kv[KV_MAX];
	const char *why;
	char buf[192];
	int n, ret;

	ret = split("--memory-hotplug", arg, buf, sizeof(buf), keys, kv, &n,
		    err);
	for (int i = 0; !ret && i < n; i++)
		ret = hotplug_key_set(&h, &kv[i], err);
	if (ret)
		return ret;
	if (!h.total_mib)
		return mvm_fail(err, -EINVAL, "--memory-hotplug: total=MiB is "
				"required");
	/* RAM is checked with it when the VM is built (--memory may come
	 * later on the command line). */
	why = vm_hotplug_problem(&h, 0, &f, buf, sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "--memory-hotplug: %s: %s",
				hotplug_key(f), why);
	cfg->mem_hotplug = h;
	return 0;
}

/* The option's key for a field of dynamic memory's rules. */
static const char *dynmem_key(enum vm_dynmem_field f)
{
	static const char *const keys[] = {
		[VM_DYNMEM_MIN] = "min", [VM_DYNMEM_MAX] = "max",
		[VM_DYNMEM_BUFFER] = "buffer", [VM_DYNMEM_BALLOON] = "balloon",
	};

	return (unsigned)f < sizeof(keys) / sizeof(keys[0]) ? keys[f] : "?";
}

static int dynmem_key_set(struct dynmem_config *d, const struct kv *kv,
			  struct mvm_err *err)
{
	unsigned long long v = 0;
	char opt[64];
	int ret;

	snprintf(opt, sizeof(opt), "--dynamic-memory: %.31s", kv->key);
	ret = cli_parse_u64(opt, kv->val, 0xffffffffULL, &v, err);
	if (ret)
		return ret;
	if (!strcmp(kv->key, "min"))
		d->min_mib = v;
	else if (!strcmp(kv->key, "max"))
		d->max_mib = v;
	else
		d->buffer_percent = (uint32_t)v;
	return 0;
}

/* d's rules, against mem_mib when known (0: not yet). */
static int dynmem_check(const struct dynmem_config *d, uint64_t mem_mib,
			struct mvm_err *err)
{
	enum vm_dynmem_field f;
	const char *why;
	char buf[256];

	why = vm_dynmem_problem(d, mem_mib, NULL, NULL, &f, buf, sizeof(buf));
	if (why)
		return mvm_fail(err, -EINVAL, "--dynamic-memory: %s: %s",
				dynmem_key(f), why);
	return 0;
}

int cli_dynmem_check(const struct vm_config *cfg, struct mvm_err *err)
{
	return cfg->dynmem.enabled ?
		       dynmem_check(&cfg->dynmem, cfg->mem_mib, err) : 0;
}

int cli_set_dynmem(struct vm_config *cfg, const char *arg,
		   struct mvm_err *err)
{
	static const char *const keys[] = { "min", "max", "buffer", NULL };
	struct dynmem_config d = {
		.enabled = true,
		.buffer_percent = DYNMEM_BUFFER_DEFAULT,
	};
	struct kv kv[KV_MAX];
	char buf[128];
	int n, ret;

	ret = split("--dynamic-memory", arg, buf, sizeof(buf), keys, kv, &n,
		    err);
	for (int i = 0; !ret && i < n; i++)
		ret = dynmem_key_set(&d, &kv[i], err);
	if (ret)
		return ret;
	if (!d.min_mib || !d.max_mib)
		return mvm_fail(err, -EINVAL, "--dynamic-memory: min=MiB and "
				"max=MiB are required");
	/* --memory may come later: cli_parse_run checks it at the end. */
	ret = dynmem_check(&d, 0, err);
	if (!ret)
		cfg->dynmem = d;
	return ret;
}

int cli_set_vsock(struct vm_config *cfg, const char *arg,
		  struct mvm_err *err)
{
	static const char *const keys[] = { "cid", "uds", NULL };
	struct vsock_config c = { .id = "vsock" };
	unsigned long long cid = 0;
	struct kv kv[KV_MAX];
	char buf[4096];
	int n, ret;

	if (cfg->vsock.guest_cid)
		return mvm_fail(err, -EINVAL, "--vsock: given twice (a VM has "
				"one vsock device)");
	ret = split("--vsock", arg, buf, sizeof(buf), keys, kv, &n, err);
	for (int i = 0; !ret && i < n; i++) {
		if (!strcmp(kv[i].key, "cid"))
			ret = cli_parse_u64("--vsock: cid", kv[i].val,
					    0xfffffffeu, &cid, err);
		else if (!kv[i].val[0] || strlen(kv[i].val) > 96)
			ret = mvm_fail(err, -EINVAL, "--vsock: uds: '%s' is "
				       "empty or longer than 96 bytes (a "
				       "Unix socket's path, with room for "
				       "_<port>)", kv[i].val);
		else if (!(c.uds_path = strdup(kv[i].val)))
			ret = mvm_fail(err, -ENOMEM, "out of memory");
	}
	if (!ret && cid < 3)
		ret = mvm_fail(err, -EINVAL, "--vsock: cid=N is required, 3 or "
			       "more (0-2 are the hypervisor's and the "
			       "host's)");
	if (!ret && !c.uds_path)
		ret = mvm_fail(err, -EINVAL, "--vsock: uds=PATH is required");
	if (ret) {
		free(c.uds_path);
		return ret;
	}
	c.guest_cid = (uint32_t)cid;
	cfg->vsock = c;
	return 0;
}

void cli_free_devices(struct vm_config *cfg)
{
	free(cfg->vsock.uds_path);
	cfg->vsock.uds_path = NULL;
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].path);
		cfg->disks[i].path = NULL;
	}
	for (unsigned i = 0; i < cfg->nr_pmems; i++) {
		free(cfg->pmems[i].path);
		cfg->pmems[i].path = NULL;
	}
}
