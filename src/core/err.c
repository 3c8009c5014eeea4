#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mvm/err.h"

int mvm_fail(struct mvm_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->host = false;
	}
	return code;
}

int mvm_fail_host(struct mvm_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->host = true;
	}
	return code;
}

int mvm_wrap(struct mvm_err *err, int code, const char *fmt, ...)
{
	char prefix[sizeof(err->msg)];
	char old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return code;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is fine: messages are one line for a person. */
	snprintf(err->msg, sizeof(err->msg), "%.255s%.255s", prefix, old);
	return code;
}
