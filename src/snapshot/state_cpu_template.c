/*
 * A VM's CPU template in its snapshot: the static template's name
 * ("cpu-template") and a custom template's modifiers (node "cpu-config":
 * "cpuid", "msrs" and "caps", arrays of big-endian 32-bit words). The
 * guest's CPUID travels in the vCPUs' state already; this keeps the
 * configuration, so that GET /vm/config after a load says what it was.
 */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/snapshot.h"
#include "mvm/vm.h"

#include "state_fdt.h"

#define CPUID_WORDS 6 /* leaf, subleaf, flags, reg, filter, value */
#define MSR_WORDS 5   /* addr, filter (hi, lo), value (hi, lo) */
#define CAP_WORDS 2   /* cap, remove */

_Static_assert(CPU_TMPL_MAX_MSRS * MSR_WORDS <= CPU_TMPL_MAX_CPUID * CPUID_WORDS &&
	       CPU_TMPL_MAX_CAPS * CAP_WORDS <= CPU_TMPL_MAX_CPUID * CPUID_WORDS,
	       "one buffer holds each array");

static void put(uint32_t *w, unsigned i, uint32_t v)
{
	w[i] = cpu_to_fdt32(v);
}

int snap_encode_cpu_template(void *fdt, const struct vm_config *m)
{
	const struct cpu_template *t = &m->cpu_custom;
	uint32_t *w;
	unsigned n = 0;
	int ret;

	if (m->cpu_template != CPU_STATIC_NONE) {
		ret = fdt_property_string(fdt, "cpu-template",
					  cpu_static_names[m->cpu_template]);
		if (ret)
			return ret;
	}
	if (!m->cpu_custom_set)
		return 0;
	/* The largest of the three arrays. */
	w = malloc(CPU_TMPL_MAX_CPUID * CPUID_WORDS * sizeof(*w));
	if (!w)
		return -FDT_ERR_NOSPACE;
	ret = fdt_begin_node(fdt, "cpu-config");
	for (unsigned i = 0; i < t->nr_cpuid; i++) {
		const struct cpuid_modifier *c = &t->cpuid[i];

		put(w, n++, c->leaf);
		put(w, n++, c->subleaf);
		put(w, n++, c->flags);
		put(w, n++, c->reg);
		put(w, n++, c->filter);
		put(w, n++, c->value);
	}
	if (!ret)
		ret = fdt_property(fdt, "cpuid", w, (int)(n * 4));
	n = 0;
	for (unsigned i = 0; i < t->nr_msrs; i++) {
		const struct msr_modifier *c = &t->msrs[i];

		put(w, n++, c->addr);
		put(w, n++, (uint32_t)(c->filter >> 32));
		put(w, n++, (uint32_t)c->filter);
		put(w, n++, (uint32_t)(c->value >> 32));
		put(w, n++, (uint32_t)c->value);
	}
	if (!ret)
		ret = fdt_property(fdt, "msrs", w, (int)(n * 4));
	n = 0;
	for (unsigned i = 0; i < t->nr_caps; i++) {
		put(w, n++, t->caps[i].cap);
		put(w, n++, t->caps[i].remove);
	}
	if (!ret)
		ret = fdt_property(fdt, "caps", w, (int)(n * 4));
	free(w);
	return ret ? ret : fdt_end_node(fdt);
}

/* A property of whole entries of words words each, at most max of them. */
static int entries(const void *fdt, int node, const char *name,
		   unsigned words, unsigned max, const fdt32_t **out,
		   unsigned *nr, struct mvm_err *err)
{
	const void *p;
	size_t len;
	int ret = snap_rd_bytes(fdt, node, "machine/cpu-config", name,
				(size_t)max * words * 4, &p, &len, err);

	if (ret)
		return ret;
	if (len % (words * 4))
		return mvm_fail(err, -EINVAL, "machine/cpu-config: %s is %zu "
				"bytes, not whole entries of %u", name, len,
				words * 4);
	*out = p;
	*nr = (unsigned)(len / (words * 4));
	return 0;
}

static int custom(const void *fdt, int node, struct cpu_template *t,
		  struct mvm_err *err)
{
	const fdt32_t *w;
	unsigned nr;
	int ret;

	ret = entries(fdt, node, "cpuid", CPUID_WORDS, CPU_TMPL_MAX_CPUID, &w,
		      &nr, err);
	for (unsigned i = 0; !ret && i < nr; i++, w += CPUID_WORDS) {
		struct cpuid_modifier *c = &t->cpuid[i];

		c->leaf = fdt32_ld(w);
		c->subleaf = fdt32_ld(w + 1);
		c->flags = fdt32_ld(w + 2);
		c->reg = fdt32_ld(w + 3);
		c->filter = fdt32_ld(w + 4);
		c->value = fdt32_ld(w + 5);
		if (c->reg > CPU_REG_EDX)
			return mvm_fail(err, -EINVAL, "machine/cpu-config: "
					"cpuid[%u] names register %u", i,
					c->reg);
		t->nr_cpuid++;
	}
	if (!ret)
		ret = entries(fdt, node, "msrs", MSR_WORDS, CPU_TMPL_MAX_MSRS,
			      &w, &nr, err);
	for (unsigned i = 0; !ret && i < nr; i++, w += MSR_WORDS) {
		struct msr_modifier *c = &t->msrs[i];

		c->addr = fdt32_ld(w);
		c->filter = (uint64_t)fdt32_ld(w + 1) << 32 | fdt32_ld(w + 2);
		c->value = (uint64_t)fdt32_ld(w + 3) << 32 | fdt32_ld(w + 4);
		t->nr_msrs++;
	}
	if (!ret)
		ret = entries(fdt, node, "caps", CAP_WORDS, CPU_TMPL_MAX_CAPS,
			      &w, &nr, err);
	for (unsigned i = 0; !ret && i < nr; i++, w += CAP_WORDS) {
		t->caps[i].cap = fdt32_ld(w);
		if (fdt32_ld(w + 1) > 1)
			return mvm_fail(err, -EINVAL, "machine/cpu-config: "
					"caps[%u]: remove is %u, not 0 or 1",
					i, fdt32_ld(w + 1));
		t->caps[i].remove = fdt32_ld(w + 1);
		t->nr_caps++;
	}
	return ret;
}

int snap_decode_cpu_template(const void *fdt, int node, struct vm_config *m,
			     struct mvm_err *err)
{
	unsigned tmpl = CPU_STATIC_NONE;
	int sub, ret = 0;

	/* Older snapshots, and VMs without a template, have neither. */
	if (fdt_getprop(fdt, node, "cpu-template", NULL))
		ret = snap_rd_choice(fdt, node, "machine", "cpu-template",
				     cpu_static_names, &tmpl, err);
	if (ret)
		return ret;
	m->cpu_template = (enum cpu_static_template)tmpl;
	memset(&m->cpu_custom, 0, sizeof(m->cpu_custom));
	m->cpu_custom_set = false;
	sub = fdt_subnode_offset(fdt, node, "cpu-config");
	if (sub == -FDT_ERR_NOTFOUND)
		return 0;
	if (sub < 0)
		return mvm_fail(err, -EINVAL, "machine/cpu-config: %s",
				fdt_strerror(sub));
	ret = custom(fdt, sub, &m->cpu_custom, err);
	if (!ret)
		m->cpu_custom_set = true;
	return ret;
}
