/*
 * Dynamic memory's rules (include/mvm/vm.h, vm_dynmem_problem): what the
 * API, the command line, a boot and a snapshot's decoder all hold a
 * dynamic memory configuration to. The controller sizes the guest from
 * the balloon's statistics, below the boot memory with the balloon and
 * above it with virtio-mem, so both must be there, able to do it.
 */
#include <stdio.h>

#include "mvm/vm.h"

static const char *own_problem(const struct dynmem_config *d,
			       enum vm_dynmem_field *field, char *buf,
			       size_t cap)
{
	*field = VM_DYNMEM_BUFFER;
	if (d->buffer_percent < DYNMEM_BUFFER_MIN ||
	    d->buffer_percent > DYNMEM_BUFFER_MAX) {
		snprintf(buf, cap, "%u is not from %u to %u percent",
			 d->buffer_percent, DYNMEM_BUFFER_MIN,
			 DYNMEM_BUFFER_MAX);
		return buf;
	}
	*field = VM_DYNMEM_MIN;
	if (d->min_mib < DYNMEM_MIN_FLOOR_MIB) {
		snprintf(buf, cap, "%llu MiB is less than %u MiB",
			 (unsigned long long)d->min_mib, DYNMEM_MIN_FLOOR_MIB);
		return buf;
	}
	if (d->min_mib > d->max_mib) {
		snprintf(buf, cap, "%llu MiB is more than max_mib (%llu MiB)",
			 (unsigned long long)d->min_mib,
			 (unsigned long long)d->max_mib);
		return buf;
	}
	return NULL;
}

/* Hyper-V's: minimum <= startup memory <= maximum. */
static const char *ram_problem(const struct dynmem_config *d,
			       uint64_t mem_mib, enum vm_dynmem_field *field,
			       char *buf, size_t cap)
{
	*field = VM_DYNMEM_MIN;
	if (d->min_mib > mem_mib) {
		snprintf(buf, cap, "%llu MiB is more than the boot memory "
			 "(mem_size_mib %llu)", (unsigned long long)d->min_mib,
			 (unsigned long long)mem_mib);
		return buf;
	}
	*field = VM_DYNMEM_MAX;
	if (d->max_mib < mem_mib) {
		snprintf(buf, cap, "%llu MiB is less than the boot memory "
			 "(mem_size_mib %llu)", (unsigned long long)d->max_mib,
			 (unsigned long long)mem_mib);
		return buf;
	}
	return NULL;
}

static const char *device_problem(const struct dynmem_config *d,
				  uint64_t mem_mib,
				  const struct balloon_config *b,
				  const struct mem_hotplug_config *h,
				  enum vm_dynmem_field *field, char *buf,
				  size_t cap)
{
	*field = VM_DYNMEM_BALLOON;
	if (!b->enabled)
		return "dynamic memory needs a balloon (for the guest's "
		       "statistics and to shrink it)";
	if (!b->stats_interval_s)
		return "stats_polling_interval_s is 0: dynamic memory reads "
		       "the guest's statistics (give a period, or leave the "
		       "balloon out and mvm adds one)";
	*field = VM_DYNMEM_MAX;
	if (d->max_mib > mem_mib && mem_mib + h->total_mib < d->max_mib) {
		snprintf(buf, cap, "%llu MiB is beyond the boot memory (%llu "
			 "MiB) and memory-hotplug's total_size_mib (%llu MiB) "
			 "above it (without memory-hotplug, InstanceStart "
			 "adds one that reaches it)",
			 (unsigned long long)d->max_mib,
			 (unsigned long long)mem_mib,
			 (unsigned long long)h->total_mib);
		return buf;
	}
	return NULL;
}

const char *vm_dynmem_problem(const struct dynmem_config *d,
			      uint64_t mem_mib, const struct balloon_config *b,
			      const struct mem_hotplug_config *h,
			      enum vm_dynmem_field *field, char *buf,
			      size_t cap)
{
	const char *why = own_problem(d, field, buf, cap);

	if (!why && mem_mib)
		why = ram_problem(d, mem_mib, field, buf, cap);
	if (!why && mem_mib && b && h)
		why = device_problem(d, mem_mib, b, h, field, buf, cap);
	return why;
}

const char *vm_dynmem_field_name(enum vm_dynmem_field f)
{
	static const char *const names[] = {
		[VM_DYNMEM_MIN] = "min_mib",
		[VM_DYNMEM_MAX] = "max_mib",
		[VM_DYNMEM_BUFFER] = "buffer_percent",
		[VM_DYNMEM_BALLOON] = "balloon",
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}
