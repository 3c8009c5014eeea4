/* Errors travel as a negative errno plus a human message. Only main prints. */
#ifndef MVM_ERR_H
#define MVM_ERR_H

#include <errno.h>
#include <stdbool.h>

struct mvm_err {
	char msg[512];
	/* The host failed (KVM, the kernel's resources), not the input: the
	 * API answers 500 rather than 400. Set by mvm_fail_host(). */
	bool host;
};

/*
 * Record a one-line message in err (if non-NULL) and return code, which must
 * be a negative errno. Typical use: return mvm_fail(err, -EINVAL, "...", ...);
 */
int mvm_fail(struct mvm_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The same for a failure of the host, not of what the user asked. */
int mvm_fail_host(struct mvm_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("disk vda: " + msg). */
int mvm_wrap(struct mvm_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
