#include <dlfcn.h>
#include <string.h>

#include "mvm/dl.h"
#include "mvm/err.h"

#include "slirp_lib.h"

/* The SONAME of the ABI we compile against, then the -dev symlink. */
static const char *const names[] = { "libslirp.so.0", "libslirp.so" };

static const struct dl_lib_name slirp_name = { "user net", "libslirp",
						"libslirp0" };

#define SYM(field, name)                                                    \
	do {                                                                \
		int r_ = dl_need(l->handle, (void **)&l->field, name,       \
				 &slirp_name, err);                         \
		if (r_) {                                                   \
			slirp_lib_close(l);                                 \
			return r_;                                          \
		}                                                           \
	} while (0)

int slirp_lib_open(struct slirp_lib *l, struct mvm_err *err)
{
	memset(l, 0, sizeof(*l));
	l->handle = dl_open_first(names, sizeof(names) / sizeof(names[0]),
				  &slirp_name, err);
	if (!l->handle)
		return -ENOENT;
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
	*(void **)&l->connection_info = dlsym(l->handle,
					      "slirp_connection_info");
	/* Found through libslirp's own dependencies. */
	*(void **)&l->g_free = dlsym(l->handle, "g_free");
	return 0;
}

void slirp_lib_close(struct slirp_lib *l)
{
	if (l->handle)
		dlclose(l->handle);
	memset(l, 0, sizeof(*l));
}
