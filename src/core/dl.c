#include <dlfcn.h>
#include <errno.h>

#include "mvm/dl.h"
#include "mvm/err.h"

void *dl_open_first(const char *const *sonames, size_t n,
		    const struct dl_lib_name *name, struct mvm_err *err)
{
	void *handle = NULL;

	for (size_t i = 0; i < n && !handle; i++)
		handle = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
	if (!handle)
		mvm_fail(err, -ENOENT, "%s: cannot load %s (Debian: apt-get "
			 "install %s): %s", name->who, name->lib,
			 name->package, dlerror());
	return handle;
}

int dl_need(void *handle, void **slot, const char *sym,
	    const struct dl_lib_name *name, struct mvm_err *err)
{
	*slot = dlsym(handle, sym);
	if (!*slot)
		return mvm_fail(err, -ENOSYS, "%s: %s lacks %s", name->who,
				name->lib, sym);
	return 0;
}
