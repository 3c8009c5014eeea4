/*
 * One HTTP/1.1 request to mvm's API over its UNIX socket, for the
 * commands that talk to a running mvm (mvm checkpoint). Not a general
 * client: Connection: close, the answer read to its end.
 */
#ifndef MVM_CLI_UDS_HTTP_H
#define MVM_CLI_UDS_HTTP_H

#include <stddef.h>

struct mvm_err;

struct uds_resp {
	int status;
	char *body; /* NUL-terminated (malloc'd; uds_resp_free) */
	size_t len;
};

/*
 * method path (body: a JSON text, or NULL) to the API at sock. 0 with *r
 * filled, whatever the status; -errno with a message naming sock when no
 * HTTP answer came.
 */
int uds_http(const char *sock, const char *method, const char *path,
	     const char *body, struct uds_resp *r, struct mvm_err *err);
void uds_resp_free(struct uds_resp *r);

#endif
