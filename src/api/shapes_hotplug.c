/*
 * Shapes of /hotplug/memory, as Firecracker's swagger gives them:
 * MemoryHotplugConfig (PUT, and the config file's "memory-hotplug") and
 * MemoryHotplugSizeUpdate (PATCH). The sizes' rules are the VM's
 * (vm_hotplug_problem); a message names the field that breaks one.
 */
#include <string.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vm.h"

#include "json_in.h"
#include "shapes.h"

/* Firecracker's bounds: 32-bit sizes in MiB. */
#define SIZE_MAX_MIB 4294967295ULL

int shape_hotplug(struct json_object *o, const char *path,
		  struct mem_hotplug_config *c, struct mvm_err *err)
{
	static const char *const known[] = { "total_size_mib", "slot_size_mib",
					     "block_size_mib", NULL };
	struct mem_hotplug_config h = {
		.slot_mib = MEM_HOTPLUG_DEFAULT_SLOT_MIB,
		.block_mib = MEM_HOTPLUG_DEFAULT_BLOCK_MIB,
	};
	enum vm_hotplug_field f;
	const char *why;
	char buf[192];
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_u64(&r, "total_size_mib", true, 0, SIZE_MAX_MIB,
			     &h.total_mib);
	if (ret >= 0)
		ret = jr_u64(&r, "slot_size_mib", false, 128, SIZE_MAX_MIB,
			     &h.slot_mib);
	if (ret >= 0)
		ret = jr_u64(&r, "block_size_mib", false, 2, SIZE_MAX_MIB,
			     &h.block_mib);
	if (ret < 0)
		return ret;
	why = vm_hotplug_problem(&h, 0, &f, buf, sizeof(buf));
	if (why)
		return jr_fail(&r, vm_hotplug_field_name(f), -EINVAL, "%s",
			       why);
	*c = h;
	return 0;
}

int shape_hotplug_patch(struct json_object *o, uint64_t *requested_mib,
			struct mvm_err *err)
{
	static const char *const known[] = { "requested_size_mib", NULL };
	struct jr r;
	int ret;

	ret = jr_open(&r, o, "", known, err);
	if (!ret)
		ret = jr_u64(&r, "requested_size_mib", true, 0, SIZE_MAX_MIB,
			     requested_mib);
	return ret < 0 ? ret : 0;
}
