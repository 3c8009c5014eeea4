/* The API's listening UNIX socket (src/api/socket.c). */
#ifndef MVM_API_SOCKET_H
#define MVM_API_SOCKET_H

#include <sys/types.h>

struct mvm_err;

struct api_socket {
	int fd;
	dev_t dev; /* identity of the socket file, to remove only ours */
	ino_t ino;
};

/*
 * Create, bind (mode 0600) and listen on path; non-blocking. Refused with
 * -EADDRINUSE if a process answers there; a stale socket file is replaced.
 */
int api_socket_listen(const char *path, struct api_socket *out,
		      struct mvm_err *err);
/* Close it and remove the file if it is still the one we created. */
void api_socket_close(struct api_socket *s, const char *path);

#endif
