/*
 * HTTP/1.1 for the API, by GNU libmicrohttpd in its "external" mode: it
 * owns no thread. We accept connections on the loop and hand them over
 * with MHD_add_connection(); MHD keeps them in an epoll set whose one fd
 * the loop watches, and a timerfd wakes it for MHD's own deadlines. So
 * every request runs on the loop thread, like everything else that touches
 * the VM, and no request ever needs handing between threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/loop.h"
#include "mvm/vmm.h"

#include "conn_guard.h"
#include "mhd.h"
#include "socket.h"

/* A client silent this long (mid-request or idle) is disconnected. */
#define API_IDLE_TIMEOUT_S 120
/* Headers and MHD's per-connection buffers. */
#define API_CONN_MEMORY (32 * 1024)

struct api_server {
	struct mhd_lib lib;
	struct vmm *vmm;
	struct loop *loop;
	char *path;
	struct api_socket sock;
	struct loop_watch accept_watch;
	bool accept_watched;
	int spare_fd; /* given up to accept-and-drop when out of fds */

	struct MHD_Daemon *mhd;
	int mhd_fd;   /* MHD's epoll set */
	struct loop_watch mhd_watch;
	bool mhd_watched;
	int timer_fd;
	struct loop_watch timer_watch;
	bool timer_watched;
	struct conn_guard guard;
	struct loop_watch guard_watch;
	bool guard_watched;

	unsigned conns;
	/*
	 * Bodies above max_body are refused: with 413 under mvm's limit,
	 * with 400 and Firecracker's words under --http-api-max-payload-size
	 * (fc_limit).
	 */
	size_t max_body;
	bool fc_limit;
	bool trim_due;   /* connections came and went since the last trim */
	bool trim_again; /* trimmed once; once more after TRIM_AGAIN_MS */
};

/* One request being received. */
struct api_call {
	char *body;
	size_t len;
	size_t cap;
	size_t seen;         /* body bytes received, kept or not */
	bool too_big;
	bool started;        /* the handler has seen the head */
	const char *uri_end; /* just past the request-target's first NUL */
	bool encoded_nul;    /* it holds a %00 */
	char uri_head[48];   /* its start, to name it */
	struct timespec start;
};

static uint64_t elapsed_us(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000000u +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000);
}

static void arm_timer(struct api_server *s, uint64_t ms)
{
	struct itimerspec its = { 0 };

	if (ms != UINT64_MAX) {
		/* 0 ms means "at once": a tiny delay still lets the loop
		 * serve its other subscribers in between. */
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = ms ? (long)(ms % 1000) * 1000000L :
					    50000L;
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

/*
 * Each connection's memory pool comes from the heap, and glibc only gives
 * back the top of it. Once the last client of a burst has gone, hand the
 * freed pools back, so that mvm's footprint does not keep the high-water
 * mark of its busiest moment. MHD frees a closed connection's pool in a
 * later run than the one that closed it, so the trim follows one more run,
 * and once more a little later for pools freed after that.
 */
#define TRIM_AGAIN_MS 20

static uint64_t trim_after_burst(struct api_server *s, uint64_t next)
{
	if (s->conns) {
		s->trim_again = false;
		return next;
	}
	if (s->trim_due) {
		s->trim_due = false;
		s->lib.run(s->mhd);
		malloc_trim(0);
		s->trim_again = true;
		return next < TRIM_AGAIN_MS ? next : TRIM_AGAIN_MS;
	}
	if (s->trim_again) {
		s->trim_again = false;
		malloc_trim(0);
	}
	return next;
}

/* Let MHD do all it can now, then sleep until its next deadline. */
static void mhd_drive(struct api_server *s)
{
	MHD_UNSIGNED_LONG_LONG to;
	uint64_t next = 0, guard_next;

	for (int i = 0; i < 4; i++) {
		guard_poll(&s->guard);
		/*
		 * A handler may run the loop itself (a device stopping on a
		 * failed start waits for its I/O): the API's watches must
		 * wait, or MHD, which is not re-entrant, would serve the
		 * same request again inside it.
		 */
		loop_hold(s->loop);
		s->lib.run(s->mhd);
		loop_release(s->loop);
		if (s->lib.get_timeout(s->mhd, &to) != MHD_YES) {
			next = UINT64_MAX;
			break;
		}
		if (to > 0) {
			next = to;
			break;
		}
	}
	next = trim_after_burst(s, next);
	guard_next = guard_sweep(&s->guard);
	arm_timer(s, guard_next < next ? guard_next : next);
}

static void on_mhd_ready(void *ctx)
{
	mhd_drive(ctx);
}

static void on_timer(void *ctx)
{
	struct api_server *s = ctx;
	uint64_t n;

	if (read(s->timer_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	mhd_drive(s);
}

int api_server_add_fd(struct api_server *s, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ret = 0;

	guard_make_room(&s->guard);
	/* MHD wants a peer address; a UNIX peer has no useful one. */
	if (s->lib.add_connection(s->mhd, fd, (struct sockaddr *)&sa,
			       sizeof(sa)) != MHD_YES)
		ret = -errno ? -errno : -ENOMEM; /* MHD closed fd */
	mhd_drive(s);
	return ret;
}

/*
 * Out of fds: accept one connection with the spare and drop it, or the
 * listener would stay readable and spin the loop. True if one was dropped.
 * accept() fails with EMFILE before it looks at the backlog, so only the
 * spare's accept tells an empty backlog (EAGAIN) from a waiting client.
 */
static bool shed_one(struct api_server *s)
{
	int fd, e;

	close(s->spare_fd);
	fd = accept4(s->sock.fd, NULL, NULL, SOCK_CLOEXEC);
	e = errno;
	if (fd >= 0)
		close(fd);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0 || e == ECONNABORTED;
}

/*
 * Accept until the backlog is empty: the loop's poll reports new arrivals,
 * not a backlog left standing, so connections left behind would wait for
 * the next client to come along.
 */
static void on_accept(void *ctx)
{
	struct api_server *s = ctx;

	for (;;) {
		int fd = accept4(s->sock.fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* No spare (ENFILE took it): the next arrival retries. */
			if (s->spare_fd < 0) {
				s->spare_fd = open("/dev/null",
						   O_RDONLY | O_CLOEXEC);
				return;
			}
			if (!shed_one(s))
				return;
			vmm_log(s->vmm, API_LOG_ERROR, "api", "out of file "
				"descriptors: dropped a connection");
			continue;
		}
		if (fd < 0)
			return;
		api_server_add_fd(s, fd);
	}
}

static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct api_server *s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		s->conns++;
		s->trim_due = true;
		guard_opened(&s->guard, c, socket_context);
	} else {
		if (s->conns)
			s->conns--;
		guard_closed(&s->guard, socket_context);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api_server *s = cls;
	struct api_call *call = *con_cls;

	(void)toe; /* a client that left mid-request just loses its call */
	guard_request_done(&s->guard, c);
	if (!call)
		return;
	free(call->body);
	free(call);
	*con_cls = NULL;
}

static enum MHD_Result send_json(const struct mhd_lib *lib,
				 struct MHD_Connection *c, int status,
				 struct json_object *body, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *text = NULL;

	if (body)
		text = json_object_to_json_string_ext(body,
						      API_JSON_FLAGS);
	resp = lib->create_response_from_buffer(text ? strlen(text) : 0,
					       (void *)(text ? text : ""),
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (text)
		lib->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					 "application/json");
	if (allow)
		lib->add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = lib->queue_response(c, (unsigned)status, resp);
	lib->destroy_response(resp);
	return ret;
}

static enum MHD_Result send_fault(const struct mhd_lib *lib,
				  struct MHD_Connection *c, int status,
				  const char *msg)
{
	struct json_object *o = json_object_new_object();
	enum MHD_Result ret;

	json_object_object_add(o, "fault_message", json_object_new_string(msg));
	ret = send_json(lib, c, status, o, NULL);
	json_object_put(o);
	return ret;
}

static bool declared_too_big(const struct mhd_lib *lib,
			     struct MHD_Connection *c, size_t max,
			     size_t *declared)
{
	const char *cl = lib->lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	/* MHD itself rejects a malformed Content-Length. */
	if (errno || *end != '\0' || n <= max)
		return false;
	*declared = n > SIZE_MAX ? SIZE_MAX : (size_t)n;
	return true;
}

static int append(struct api_call *call, const char *data, size_t n,
		  size_t max)
{
	/* Counted on past the limit, for the message that names the size. */
	call->seen = call->seen + n < call->seen ? SIZE_MAX : call->seen + n;
	if (call->too_big)
		return 0;
	if (call->len + n > max) {
		call->too_big = true;
		return 0;
	}
	if (call->len + n + 1 > call->cap) {
		size_t cap = call->cap ? call->cap * 2 : 1024;
		char *p;

		while (cap < call->len + n + 1)
			cap *= 2;
		p = realloc(call->body, cap);
		if (!p)
			return -ENOMEM;
		call->body = p;
		call->cap = cap;
	}
	memcpy(call->body + call->len, data, n);
	call->len += n;
	call->body[call->len] = '\0';
	return 0;
}

static const char body_too_big[] =
	"request body: larger than the 65536-byte limit";

/*
 * The request-target as it came, before libmicrohttpd splits off the query
 * and decodes it in place: the handler sees a C string only, so a NUL in
 * the target, raw or as %00, would cut the path short ("GET /\0x" is not
 * "GET /"). MHD ends the target with a NUL where the space before the
 * version was, so the version string starts right after the target's
 * first NUL unless the target held one of its own (checked in
 * first_call()). Also the sign that a request's line has come.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct api_server *s = cls;
	struct api_call *call;

	guard_line_seen(&s->guard, c);
	call = calloc(1, sizeof(*call));
	if (!call || !uri)
		return call;
	call->uri_end = uri + strlen(uri) + 1;
	/* Only printable ASCII goes into the message about it. */
	for (size_t i = 0; uri[i] && i + 1 < sizeof(call->uri_head); i++)
		call->uri_head[i] = uri[i] > 0x20 && uri[i] < 0x7f ? uri[i] :
				    '?';
	call->encoded_nul = strstr(uri, "%00") != NULL;
	return call;
}

static enum MHD_Result refuse(struct api_server *s, struct MHD_Connection *c,
			      struct api_call *call, int status,
			      const char *msg)
{
	vmm_api_account(s->vmm, -1, status, elapsed_us(&call->start));
	vmm_log(s->vmm, API_LOG_WARNING, "api", "%s", msg);
	guard_replying(&s->guard, c);
	return send_fault(&s->lib, c, status, msg);
}

static enum MHD_Result refuse_too_big(struct api_server *s,
				      struct MHD_Connection *c,
				      struct api_call *call, size_t size)
{
	char msg[160];

	if (!s->fc_limit)
		return refuse(s, c, call, 413, body_too_big);
	snprintf(msg, sizeof(msg), "Request payload with size %zu is larger "
		 "than the limit of %zu allowed by server.", size,
		 s->max_body);
	return refuse(s, c, call, 400, msg);
}

/* The head is complete: refuse what needs no body to refuse. */
static enum MHD_Result first_call(struct api_server *s,
				  struct MHD_Connection *c,
				  const char *version, struct api_call *call)
{
	char msg[128];
	size_t declared;

	call->started = true;
	clock_gettime(CLOCK_MONOTONIC, &call->start);
	guard_head_done(&s->guard, c);
	if (guard_doomed(&s->guard, c))
		return MHD_NO;
	if (call->uri_end && call->uri_end != version) {
		snprintf(msg, sizeof(msg), "request target: contains a NUL "
			 "byte after \"%s\"", call->uri_head);
		return refuse(s, c, call, 400, msg);
	}
	if (call->encoded_nul) {
		snprintf(msg, sizeof(msg), "request target \"%s\": contains "
			 "an encoded NUL byte (%%00)", call->uri_head);
		return refuse(s, c, call, 400, msg);
	}
	/* Refuse before reading (and before 100-continue). */
	if (declared_too_big(&s->lib, c, s->max_body, &declared))
		return refuse_too_big(s, c, call, declared);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct api_call *call = *con_cls;
	struct api_response r;
	enum MHD_Result ret;

	if (!call) {
		call = calloc(1, sizeof(*call));
		if (!call)
			return MHD_NO;
		*con_cls = call;
	}
	if (!call->started)
		return first_call(s, c, version, call);
	if (*upload_size) {
		if (append(call, upload, *upload_size, s->max_body))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (call->too_big)
		return refuse_too_big(s, c, call, call->seen);
	guard_replying(&s->guard, c);
	api_dispatch(s->vmm, method, url, call->body ? call->body : "",
		     call->len, &r);
	vmm_api_account(s->vmm, r.route, r.status, elapsed_us(&call->start));
	vmm_log(s->vmm, r.status >= 400 ? API_LOG_WARNING : API_LOG_DEBUG,
		"api", "%s %s: %d", method, url, r.status);
	ret = send_json(&s->lib, c, r.status, r.body, r.allow);
	api_response_clear(&r);
	return ret;
}

static void close_watch(struct loop_watch *w, bool *watched)
{
	if (*watched)
		loop_watch_cancel(w);
	*watched = false;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	close_watch(&s->accept_watch, &s->accept_watched);
	close_watch(&s->mhd_watch, &s->mhd_watched);
	close_watch(&s->timer_watch, &s->timer_watched);
	close_watch(&s->guard_watch, &s->guard_watched);
	api_socket_close(&s->sock, s->path);
	if (s->mhd)
		s->lib.stop_daemon(s->mhd); /* closes every connection */
	guard_fini(&s->guard);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	mhd_lib_close(&s->lib);
	free(s->path);
	free(s);
}

unsigned api_server_connections(const struct api_server *s)
{
	return s ? s->conns : 0;
}

static int start_mhd(struct api_server *s, struct mvm_err *err)
{
	const union MHD_DaemonInfo *info;

	if (guard_init(&s->guard, &s->lib, s->vmm))
		return mvm_fail(err, -errno, "epoll: %s", strerror(errno));
	s->mhd = s->lib.start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL,
		on_request, s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(API_MAX_CONNECTIONS + API_CONN_SLACK),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONN_MEMORY,
		MHD_OPTION_END);
	if (!s->mhd)
		return mvm_fail(err, -ENOMEM, "api: cannot start the HTTP "
				"server (libmicrohttpd without epoll?)");
	info = s->lib.get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info)
		return mvm_fail(err, -ENOTSUP, "api: libmicrohttpd gives no "
				"epoll fd");
	s->mhd_fd = info->epoll_fd;
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timer_fd < 0)
		return mvm_fail(err, -errno, "timerfd: %s", strerror(errno));
	if (loop_watch_add(s->loop, &s->mhd_watch, s->mhd_fd, on_mhd_ready,
			   s))
		return mvm_fail(err, -EBUSY, "api: cannot watch the server");
	s->mhd_watched = true;
	if (loop_watch_add(s->loop, &s->timer_watch, s->timer_fd, on_timer,
			   s))
		return mvm_fail(err, -EBUSY, "api: cannot watch the timer");
	s->timer_watched = true;
	if (loop_watch_add(s->loop, &s->guard_watch, s->guard.epoll_fd,
			   on_mhd_ready, s))
		return mvm_fail(err, -EBUSY, "api: cannot watch the clients");
	s->guard_watched = true;
	return 0;
}

void api_server_set_max_body(struct api_server *s, size_t max)
{
	s->max_body = max;
	s->fc_limit = true;
}

int api_server_start(struct api_server **out, struct vmm *v, struct loop *l,
		     const char *path, struct mvm_err *err)
{
	struct api_server *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return mvm_fail(err, -ENOMEM, "out of memory");
	s->vmm = v;
	s->loop = l;
	s->max_body = API_MAX_BODY;
	s->sock.fd = s->timer_fd = s->mhd_fd = s->guard.epoll_fd = -1;
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ret = 0;
	/*
	 * Listen first: a client may connect from here on, and its requests
	 * wait in the socket's backlog, in order, until the loop runs. Loading
	 * libmicrohttpd (it brings GnuTLS and its libraries, the most of a
	 * start's time) then no longer delays the socket.
	 */
	if (path) {
		s->path = strdup(path);
		ret = s->path ? api_socket_listen(path, &s->sock, err) :
				mvm_fail(err, -ENOMEM, "out of memory");
	}
	if (!ret)
		ret = mhd_lib_open(&s->lib, err);
	if (!ret)
		ret = start_mhd(s, err);
	if (!ret && path) {
		ret = loop_watch_add(l, &s->accept_watch, s->sock.fd,
				     on_accept, s);
		if (ret)
			mvm_fail(err, ret, "api: cannot watch the socket");
		s->accept_watched = !ret;
	}
	if (ret) {
		api_server_stop(s);
		return ret;
	}
	/* Requests wait while a VM is half torn down (loop_hold). */
	s->accept_watch.holdable = s->mhd_watch.holdable = true;
	s->timer_watch.holdable = s->guard_watch.holdable = true;
	*out = s;
	return 0;
}
