/*
 * What the API tests need: an mvm process serving --api-sock that the test
 * talks to while it runs (its console readable as it goes), and a small
 * HTTP/1.1 client over the UNIX socket, with keep-alive connections.
 * Every response the client reads is checked against api/openapi.yaml.
 */
#ifndef MVM_TEST_API_CLIENT_H
#define MVM_TEST_API_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct api_proc {
	pid_t pid;
	int in_fd;      /* the guest console's input */
	int out_fd;     /* its output, read into out */
	int err_fd;
	char sock[108];
	char dir[64];   /* a private temp dir holding the socket */
	char *out;      /* console output so far, NUL-terminated */
	size_t out_len;
	char *err;
	size_t err_len;
	int status;     /* exit status once reaped, else -1 */
};

/*
 * Start `mvm --api-sock DIR/api.sock` plus extra (NULL-terminated, may be
 * NULL; extra[0] == "run" gives `mvm run ... --api-sock`), and wait until
 * the socket accepts. Returns 0 or -1 (with a message on stderr).
 */
int api_spawn(struct api_proc *p, const char *const *extra);
/*
 * The same with mvm's whole argv (after the binary, NULL-terminated), in
 * which API_SOCK_HERE stands for the socket's path: flags in any order.
 */
#define API_SOCK_HERE "@api.sock"
int api_spawn_argv(struct api_proc *p, const char *const *argv);
/* Read console output (and stderr) until needle appears; false on timeout. */
bool api_wait_out(struct api_proc *p, const char *needle, double seconds);
/* Read whatever output is there for up to seconds. */
void api_drain(struct api_proc *p, double seconds);
/* Wait for the process to end (SIGKILL after seconds); returns status. */
int api_wait_exit(struct api_proc *p, double seconds);
/* SIGTERM, then wait; frees the process's buffers but keeps status. */
int api_stop(struct api_proc *p);
void api_proc_free(struct api_proc *p);

struct api_resp {
	int status;
	char body[70000];
	size_t body_len;
	char allow[64];
	bool closed;    /* the server closed the connection after it */
};

/* A connection (keep-alive). -1 on failure. */
int api_connect(const char *sock);
/*
 * One request on fd: body may be NULL. Fills *r and checks the answer
 * against the OpenAPI description (a mismatch fails the current test).
 * Returns 0, or -1 if the connection broke.
 */
int api_do(int fd, const char *method, const char *path, const char *body,
	   struct api_resp *r);
/* The same without the OpenAPI check (load tests, raw requests). */
int api_do_raw(int fd, const char *method, const char *path,
	       const char *body, struct api_resp *r);
/* Connect, one request, close. Returns the status, -1 on failure. */
int api_call(const char *sock, const char *method, const char *path,
	     const char *body, struct api_resp *r);
/* Send raw bytes and read one response (raw HTTP tests). */
int api_raw(const char *sock, const char *bytes, size_t len,
	    struct api_resp *r);
/* Read one response from fd. */
int api_read_resp(int fd, struct api_resp *r);

/* Number of open fds and RSS (KiB) of a process, from /proc. */
int proc_fd_count(pid_t pid);
long proc_rss_kib(pid_t pid);

/* GET path must answer 200 with a JSON object holding key: its value. */
uint64_t api_get_u64(struct api_proc *p, const char *path, const char *key);

/* The body's fault_message contains text. */
bool fault_has(const struct api_resp *r, const char *text);

#endif
