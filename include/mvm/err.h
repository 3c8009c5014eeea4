/* Errors travel as a negative errno plus a human message. Only main prints. */
#ifndef MVM_ERR_H
#define MVM_ERR_H

#include <errno.h>

struct mvm_err {
	char msg[512];
};

/*
 * Record a one-line message in err (if non-NULL) and return code, which must
 * be a negative errno. Typical use: return mvm_fail(err, -EINVAL, "...", ...);
 */
int mvm_fail(struct mvm_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("disk vda: " + msg). */
int mvm_wrap(struct mvm_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
