/*
 * Check an API response against api/openapi.yaml (path from MVM_OPENAPI):
 * the status must be documented for that path and method, and the body
 * must match the documented schema (required fields, types, enums,
 * integer bounds, no undocumented fields where additionalProperties is
 * false). Unknown paths must answer 404 and known paths with another
 * method 405, both with an Error body.
 */
#ifndef MVM_TEST_OPENAPI_CHECK_H
#define MVM_TEST_OPENAPI_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* true if it matches; otherwise why says what differs. */
bool openapi_check(const char *method, const char *path, int status,
		   const char *body, char *why, size_t len);

#endif
