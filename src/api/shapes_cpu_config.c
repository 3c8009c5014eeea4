/*
 * PUT /cpu-config (and the config file's "cpu-config"): Firecracker's
 * custom CPU template. Its formats are Firecracker's: leaf, subleaf and
 * addr are strings, hex (0x), binary (0b) or decimal, as its API
 * description says (its parser wants a prefix; mvm takes all three); a
 * bitmap is "0b" then up to 32
 * (CPUID) or 64 (MSR) characters of 0, 1 or x (x: left as mvm built it;
 * '_' separates for reading), the last character bit 0; flags a number;
 * kvm_capabilities strings "N" (needed) or "!N" (not needed). Firecracker's
 * x86 template has no vcpu_features (aarch64's), so it is refused by name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/api.h"
#include "mvm/cpu_template.h"
#include "mvm/err.h"

#include "json_in.h"

/* "0x1f", "0b101" or "31" into *out, no wider than bits; false if not. */
static bool parse_prefixed(const char *s, unsigned bits, uint64_t *out)
{
	int base = 10;
	uint64_t v = 0;

	if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
		base = 16;
	else if (!strncmp(s, "0b", 2) || !strncmp(s, "0B", 2))
		base = 2;
	if (base != 10)
		s += 2;
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		if (d >= (unsigned)base || v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (bits < 64 && v >> bits)
		return false;
	*out = v;
	return true;
}

int cpu_bitmap_parse(const char *s, unsigned bits, uint64_t *filter,
		     uint64_t *value, char *why, size_t why_len)
{
	size_t len = strlen(s);
	unsigned bit = 0;

	*filter = *value = 0;
	if (!strncmp(s, "0b", 2)) {
		s += 2;
		len -= 2;
	}
	for (size_t i = len; i-- > 0;) {
		char c = s[i];

		if (c == '_')
			continue;
		if (bit == bits) {
			snprintf(why, why_len, "longer than %u bits", bits);
			return -EINVAL;
		}
		if (c == '0' || c == '1') {
			*filter |= 1ULL << bit;
			*value |= (uint64_t)(c == '1') << bit;
		} else if (c != 'x') {
			snprintf(why, why_len, "'%c' is not 0, 1 or x", c);
			return -EINVAL;
		}
		bit++;
	}
	return 0;
}

/* Field key of r: a 0x/0b string of at most bits bits. */
static int prefixed_field(struct jr *r, const char *key, unsigned bits,
			  uint64_t *out)
{
	const char *s;
	int ret = jr_str(r, key, true, &s);

	if (ret < 0)
		return ret;
	if (!parse_prefixed(s, bits, out))
		return jr_fail(r, key, -EINVAL, "\"%.64s\" is not a %u-bit "
			       "number (hex with 0x, binary with 0b, or "
			       "decimal)", s, bits);
	return 0;
}

static int bitmap_field(struct jr *r, unsigned bits, uint64_t *filter,
			uint64_t *value)
{
	char why[64];
	const char *s;
	int ret = jr_str(r, "bitmap", true, &s);

	if (ret < 0)
		return ret;
	if (cpu_bitmap_parse(s, bits, filter, value, why, sizeof(why)))
		return jr_fail(r, "bitmap", -EINVAL, "\"%.80s\": %s", s, why);
	return 0;
}

/* The array under key (absent or null: none); *n its length. */
static int array_field(struct jr *r, const char *key, size_t max,
		       struct json_object **arr, size_t *n)
{
	if (!json_object_object_get_ex(r->o, key, arr) ||
	    json_object_is_type(*arr, json_type_null)) {
		*n = 0;
		return 0;
	}
	if (!json_object_is_type(*arr, json_type_array))
		return jr_fail(r, key, -EINVAL, "expected an array, got %s",
			       jr_type_name(*arr));
	*n = json_object_array_length(*arr);
	if (*n > max)
		return jr_fail(r, key, -E2BIG, "%zu entries; mvm takes up to "
			       "%zu", *n, max);
	return 0;
}

static int reg_modifier(struct json_object *o, const char *path,
			struct cpuid_modifier *m, struct mvm_err *err)
{
	static const char *const known[] = { "register", "bitmap", NULL };
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx", NULL };
	uint64_t filter, value;
	struct jr r;
	int reg = 0, ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_enum(&r, "register", true, regs, &reg);
	if (ret >= 0)
		ret = bitmap_field(&r, 32, &filter, &value);
	if (ret < 0)
		return ret;
	m->reg = (uint32_t)reg;
	m->filter = (uint32_t)filter;
	m->value = (uint32_t)value;
	return 0;
}

static int cpuid_leaf(struct cpu_template *t, struct json_object *o,
		      const char *path, struct mvm_err *err)
{
	static const char *const known[] = { "leaf", "subleaf", "flags",
					     "modifiers", NULL };
	struct json_object *mods;
	uint64_t leaf, subleaf, flags;
	char sub[256];
	struct jr r;
	size_t n;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = prefixed_field(&r, "leaf", 32, &leaf);
	if (!ret)
		ret = prefixed_field(&r, "subleaf", 32, &subleaf);
	if (!ret)
		ret = jr_u64(&r, "flags", true, 0, UINT32_MAX, &flags);
	if (ret >= 0)
		ret = array_field(&r, "modifiers", 4 * CPU_TMPL_MAX_CPUID,
				  &mods, &n);
	if (ret < 0)
		return ret;
	if (t->nr_cpuid + n > CPU_TMPL_MAX_CPUID)
		return jr_fail(&r, "modifiers", -E2BIG, "more than %u register "
			       "modifiers in the template", CPU_TMPL_MAX_CPUID);
	for (size_t i = 0; i < n; i++) {
		struct cpuid_modifier *m = &t->cpuid[t->nr_cpuid];

		snprintf(sub, sizeof(sub), "%s.modifiers[%zu]", r.path, i);
		m->leaf = (uint32_t)leaf;
		m->subleaf = (uint32_t)subleaf;
		m->flags = (uint32_t)flags;
		ret = reg_modifier(json_object_array_get_idx(mods, i), sub, m,
				   err);
		if (ret)
			return ret;
		t->nr_cpuid++;
	}
	return 0;
}

static int msr_modifier(struct cpu_template *t, struct json_object *o,
			const char *path, struct mvm_err *err)
{
	static const char *const known[] = { "addr", "bitmap", NULL };
	struct msr_modifier *m = &t->msrs[t->nr_msrs];
	uint64_t addr;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = prefixed_field(&r, "addr", 32, &addr);
	if (!ret)
		ret = bitmap_field(&r, 64, &m->filter, &m->value);
	if (ret)
		return ret;
	m->addr = (uint32_t)addr;
	t->nr_msrs++;
	return 0;
}

static int kvm_cap(struct cpu_template *t, struct json_object *o,
		   const char *path, struct mvm_err *err)
{
	struct kvm_cap_modifier *c = &t->caps[t->nr_caps];
	const char *s, *digits;
	char *end;
	unsigned long v;

	if (!json_object_is_type(o, json_type_string))
		return mvm_fail(err, -EINVAL, "%s: expected a string, got %s",
				path, jr_type_name(o));
	s = json_object_get_string(o);
	digits = s + (*s == '!');
	errno = 0;
	v = strtoul(digits, &end, 10);
	if (*digits < '0' || *digits > '9' || *end || errno ||
	    v > UINT32_MAX)
		return mvm_fail(err, -EINVAL, "%s: \"%.64s\" is not a KVM "
				"capability number (\"N\" or \"!N\")", path, s);
	c->cap = (uint32_t)v;
	c->remove = *s == '!';
	t->nr_caps++;
	return 0;
}

typedef int (*item_fn)(struct cpu_template *t, struct json_object *o,
		       const char *path, struct mvm_err *err);

static int each(struct jr *r, const char *key, size_t max,
		struct cpu_template *t, item_fn fn, struct mvm_err *err)
{
	struct json_object *arr;
	char path[256];
	size_t n;
	int ret = array_field(r, key, max, &arr, &n);

	for (size_t i = 0; !ret && i < n; i++) {
		snprintf(path, sizeof(path), "%s%s%s[%zu]", r->path,
			 *r->path ? "." : "", key, i);
		ret = fn(t, json_object_array_get_idx(arr, i), path, err);
	}
	return ret;
}

int shape_cpu_config(struct cpu_template *t, struct json_object *o,
		     const char *path, struct mvm_err *err)
{
	static const char *const known[] = { "kvm_capabilities",
					     "cpuid_modifiers", "msr_modifiers",
					     "vcpu_features", "reg_modifiers",
					     NULL };
	struct jr r;
	int ret;

	memset(t, 0, sizeof(*t));
	ret = jr_open(&r, o, path, known, err);
	if (ret)
		return ret;
	/* Firecracker's aarch64 fields: its x86 build refuses them too. */
	if (json_object_object_get_ex(o, "vcpu_features", NULL))
		return jr_fail(&r, "vcpu_features", -EINVAL, "an aarch64 "
			       "field; x86 templates have none");
	if (json_object_object_get_ex(o, "reg_modifiers", NULL))
		return jr_fail(&r, "reg_modifiers", -EINVAL, "an aarch64 "
			       "field; x86 templates have msr_modifiers");
	ret = each(&r, "kvm_capabilities", CPU_TMPL_MAX_CAPS, t, kvm_cap,
		   err);
	if (!ret)
		ret = each(&r, "cpuid_modifiers", CPU_TMPL_MAX_CPUID, t,
			   cpuid_leaf, err);
	if (!ret)
		ret = each(&r, "msr_modifiers", CPU_TMPL_MAX_MSRS, t,
			   msr_modifier, err);
	return ret;
}
