#include <dlfcn.h>
#include <string.h>

#include "mvm/err.h"

#include "slirp_lib.h"

/* The SONAME of the ABI we compile against, then the -dev symlink. */
static const char *const names[] = { "libslirp.so.0", "libslirp.so" };

#define SYM(field, name)                                                    \
	do {                                                                \
		*(void **)&l->field = dlsym(l->handle, name);               \
		if (!l->field) {                                            \
			slirp_lib_close(l);                                 \
			return mvm_fail(err, -ENOSYS, "user net: libslirp " \
					"lacks %s", name);                  \
		}                                                           \
	} while (0)

int slirp_lib_open(struct slirp_lib *l, struct mvm_err *err)
{
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !l->handle;
	     i++)
		l->handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	if (!l->handle)
		return mvm_fail(err, -ENOENT, "user net: cannot load libslirp "
				"(Debian: apt-get install libslirp0): %s",
				dlerror());
	SYM(new_, "slirp_new");
	SYM(cleanup, "slirp_cleanup");
	SYM(input, "slirp_input");
	SYM(pollfds_fill, "slirp_pollfds_fill");
	SYM(pollfds_poll, "slirp_pollfds_poll");
	SYM(socket_can_recv, "slirp_socket_can_recv");
	SYM(socket_recv, "slirp_socket_recv");
	SYM(add_hostfwd, "slirp_add_hostfwd");
	SYM(add_guestfwd, "slirp_add_guestfwd");
	*(void **)&l->add_unix = dlsym(l->handle, "slirp_add_unix");
	return 0;
}

void slirp_lib_close(struct slirp_lib *l)
{
	if (l->handle)
		dlclose(l->handle);
	memset(l, 0, sizeof(*l));
}
