#include <dlfcn.h>
#include <string.h>

#include "mvm/dl.h"
#include "mvm/err.h"

#include "mhd.h"

/* The SONAME of the ABI we compile against, then the -dev symlink. */
static const char *const names[] = { "libmicrohttpd.so.12",
				     "libmicrohttpd.so" };

static const struct dl_lib_name mhd_name = { "api", "libmicrohttpd",
					      "libmicrohttpd12" };

#define SYM(field, name)                                                    \
	do {                                                                \
		int r_ = dl_need(l->handle, (void **)&l->field, name,       \
				 &mhd_name, err);                           \
		if (r_) {                                                   \
			mhd_lib_close(l);                                   \
			return r_;                                          \
		}                                                           \
	} while (0)

int mhd_lib_open(struct mhd_lib *l, struct mvm_err *err)
{
	memset(l, 0, sizeof(*l));
	l->handle = dl_open_first(names, sizeof(names) / sizeof(names[0]),
				  &mhd_name, err);
	if (!l->handle)
		return -ENOENT;
	SYM(start_daemon, "MHD_start_daemon");
	SYM(stop_daemon, "MHD_stop_daemon");
	SYM(get_daemon_info, "MHD_get_daemon_info");
	SYM(run, "MHD_run");
	SYM(get_timeout, "MHD_get_timeout");
	SYM(add_connection, "MHD_add_connection");
	SYM(get_connection_info, "MHD_get_connection_info");
	SYM(set_connection_option, "MHD_set_connection_option");
	SYM(lookup_connection_value, "MHD_lookup_connection_value");
	SYM(create_response_from_buffer, "MHD_create_response_from_buffer");
	SYM(add_response_header, "MHD_add_response_header");
	SYM(queue_response, "MHD_queue_response");
	SYM(destroy_response, "MHD_destroy_response");
	return 0;
}

void mhd_lib_close(struct mhd_lib *l)
{
	if (l->handle)
		dlclose(l->handle);
	memset(l, 0, sizeof(*l));
}
