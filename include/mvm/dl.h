/*
 * Libraries mvm loads when it first needs them (libmicrohttpd for the API,
 * libslirp for user-mode networking), so that a VM without them neither
 * starts slower nor carries them in its RSS. Each user keeps a table of
 * the calls it makes, typed from the library's header; this finds them.
 */
#ifndef MVM_DL_H
#define MVM_DL_H

#include <stddef.h>

struct mvm_err;

/* Which library, for messages: "<who>: cannot load <lib> (Debian:
 * apt-get install <package>)", "<who>: <lib> lacks <symbol>". */
struct dl_lib_name {
	const char *who;
	const char *lib;
	const char *package;
};

/* dlopen the first of sonames that loads, or NULL with err set. */
void *dl_open_first(const char *const *sonames, size_t n,
		    const struct dl_lib_name *name, struct mvm_err *err);
/* *slot = the symbol sym of handle, or -ENOSYS naming it. */
int dl_need(void *handle, void **slot, const char *sym,
	    const struct dl_lib_name *name, struct mvm_err *err);

#endif
