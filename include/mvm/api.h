/*
 * The control API: Firecracker's JSON REST API (plus mvm's extensions) over
 * HTTP/1.1 on a UNIX stream socket, and the config file that takes the same
 * shapes in one document.
 *
 * Layers, each in its own file under src/api (struct vm_spec, what they
 * fill in, is the VMM's: include/mvm/spec.h):
 *   shapes    JSON body -> typed shape -> vm_spec, shared by the API and
 *             the config file so the two cannot drift
 *   router    one table: method + path -> handler + pre/post-boot rule
 *   http      libmicrohttpd in external mode on the VMM's event loop; no
 *             thread of its own, so handlers run on the loop thread
 */
#ifndef MVM_API_H
#define MVM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/spec.h"
#include "mvm/vm.h"

struct mvm_err;
struct vmm;
struct loop;
struct json_object;

/* How the API writes JSON: compact, and paths without escaped slashes. */
#define API_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Request bodies above this get 413. */
#define API_MAX_BODY (64 * 1024)
/*
 * The Firecracker API version whose paths and bodies mvm follows (its
 * swagger's), answered as GET /version's firecracker_version.
 */
#define API_FIRECRACKER_VERSION "1.17.0-dev"

/* ---- the shapes: parse one JSON value into the spec ---------------------
 *
 * path is where o sits, for messages ("machine-config", "drives[1]", or ""
 * for a request body). Errors name the field by its JSON path and say why:
 * "drives[1].is_read_only: expected a boolean, got a string". Unknown
 * fields are errors. On failure s is unchanged.
 */
struct shape_opts {
	bool dry_run; /* do not open files to check them */
};

int shape_boot_source(struct vm_spec *s, struct json_object *o,
		      const char *path, const struct shape_opts *opt,
		      struct mvm_err *err);
/* PUT resets unnamed optional fields to their defaults; PATCH keeps them. */
int shape_machine_config(struct vm_spec *s, struct json_object *o,
			 const char *path, bool patch, struct mvm_err *err);
/* id_from_path: the {drive_id} of the URL, or NULL (config file). */
int shape_drive(struct vm_spec *s, struct json_object *o, const char *path,
		const char *id_from_path, const struct shape_opts *opt,
		struct mvm_err *err);
/* PATCH /drives/{id}: validated, then *path_on_host and *rl are filled. */
int shape_drive_patch(const struct vm_spec *s, struct json_object *o,
		      const char *id_from_path, const struct shape_opts *opt,
		      char **path_on_host, struct spec_limiter *rl,
		      struct mvm_err *err);
int shape_net(struct vm_spec *s, struct json_object *o, const char *path,
	      const char *id_from_path, struct mvm_err *err);
int shape_net_patch(const struct vm_spec *s, struct json_object *o,
		    const char *id_from_path, struct spec_limiter *rx,
		    struct spec_limiter *tx, struct mvm_err *err);
/*
 * PUT /pmem/{id} (and the config file's "pmem" list, id_from_path NULL):
 * the backing file is checked (it opens as asked, is a regular file and
 * not empty); a rate_limiter that would limit is refused.
 */
int shape_pmem(struct vm_spec *s, struct json_object *o, const char *path,
	       const char *id_from_path, const struct shape_opts *opt,
	       struct mvm_err *err);
/*
 * PATCH /pmem/{id}: the device must exist; only a rate_limiter may be
 * given, and one that would limit is refused (no limiter to change).
 */
int shape_pmem_patch(const struct vm_spec *s, struct json_object *o,
		     const char *id_from_path, struct mvm_err *err);
int shape_logger(struct vm_spec *s, struct json_object *o, const char *path,
		 struct mvm_err *err);
int shape_metrics(struct vm_spec *s, struct json_object *o, const char *path,
		  struct mvm_err *err);
int shape_entropy(struct vm_spec *s, struct json_object *o, const char *path,
		  struct mvm_err *err);
int shape_serial(struct vm_spec *s, struct json_object *o, const char *path,
		 struct mvm_err *err);
/* PUT /vsock and the config file's "vsock" (Firecracker's Vsock). */
int shape_vsock(struct vm_spec *s, struct json_object *o, const char *path,
		struct mvm_err *err);
/* PUT /balloon and the config file's "balloon": at most the spec's RAM. */
int shape_balloon(struct vm_spec *s, struct json_object *o, const char *path,
		  struct mvm_err *err);
/* PATCH /balloon and /balloon/statistics: the one field each. */
int shape_balloon_update(struct json_object *o, uint32_t *amount_mib,
			 struct mvm_err *err);
int shape_balloon_stats_update(struct json_object *o, uint16_t *interval_s,
			       struct mvm_err *err);
/*
 * PATCH /balloon/hinting/start and /stop, whose bodies are optional (o
 * NULL): acknowledge_on_stop (default true), and nothing.
 */
int shape_balloon_hint_start(struct json_object *o, bool *ack_on_stop,
			     struct mvm_err *err);
int shape_balloon_hint_stop(struct json_object *o, struct mvm_err *err);

/*
 * PUT /dynamic-memory and the config file's "dynamic-memory": enabled
 * (required), min_mib and max_mib (required when enabled), buffer_percent
 * (20); checked against the spec's boot memory now, and against the
 * whole machine at InstanceStart. Not enabled: none.
 */
int shape_dynmem(struct vm_spec *s, struct json_object *o, const char *path,
		 struct mvm_err *err);
/*
 * PATCH /dynamic-memory: any of the same fields over *c (the
 * configuration now), checked on their own; the VMM checks the machine.
 */
int shape_dynmem_patch(struct json_object *o, struct dynmem_config *c,
		       struct mvm_err *err);

/*
 * PUT /cpu-config, the config file's "cpu-config": Firecracker's custom
 * CPU template into *t (shapes_cpu_config.c). cpu_bitmap_parse reads one
 * of its bitmaps ("0b" and up to bits characters of 0, 1, x): -EINVAL with
 * why filled in if malformed.
 */
struct cpu_template;
int shape_cpu_config(struct cpu_template *t, struct json_object *o,
		     const char *path, struct mvm_err *err);
int cpu_bitmap_parse(const char *s, unsigned bits, uint64_t *filter,
		     uint64_t *value, char *why, size_t why_len);
/* A template as Firecracker writes one (export_cpu_config.c). */
struct json_object *cpu_config_export(const struct cpu_template *t);

/* The spec as GET /vm/config and GET /machine-config show it. */
struct json_object *spec_export(const struct vm_spec *s);
struct json_object *spec_export_machine(const struct vm_spec *s);

/*
 * Parse a whole config file (the same document GET /vm/config returns)
 * into s. Messages start with the file name and name the JSON path.
 */
int config_file_load(struct vm_spec *s, const char *file,
		     const struct shape_opts *opt, struct mvm_err *err);
/*
 * --metadata FILE: the JSON document in file as the MMDS store's
 * contents, as PUT /mmds would put it (within the store's limit).
 */
int api_metadata_load(struct vmm *v, const char *file, struct mvm_err *err);
/* The same on a buffer; name is used in messages. */
int config_parse(struct vm_spec *s, const char *text, size_t len,
		 const char *name, const struct shape_opts *opt,
		 struct mvm_err *err);

/*
 * Why the text s cannot be a value of mvm's configuration: "is not valid
 * UTF-8" or "contains a control character (0x0a)" (in buf), or NULL. No
 * string mvm takes (paths, names, ids, a kernel command line) has a use
 * for either, and either would be echoed back into JSON by GET /vm/config.
 */
const char *api_text_problem(const char *s, char *buf, size_t cap);
/* The n bytes at s are UTF-8 (no overlong forms, no surrogates). */
bool api_utf8_valid(const char *s, size_t n);

/* Parse a JSON text strictly: one value, nothing after it. */
int api_json_parse(const char *text, size_t len, struct json_object **out,
		   struct mvm_err *err);

/* ---- the router ---------------------------------------------------------- */

/* The answer to one request. body is NULL for 204. */
struct api_response {
	int status;
	struct json_object *body; /* owned; put by api_response_clear */
	const char *allow;        /* Allow header for 405, static */
	int route;                /* index into the route table, or -1 */
};

void api_response_clear(struct api_response *r);

/*
 * Execute one request against v, on the loop thread. url has no query
 * string. Always fills *r (errors too: 4xx with {"fault_message": ...}).
 */
void api_dispatch(struct vmm *v, const char *method, const char *url,
		  const char *body, size_t len, struct api_response *r);

/* Tell the VMM each route's method and stable name, for the metrics. */
void api_name_routes(struct vmm *v);

/* ---- the HTTP server on the loop ----------------------------------------- */

struct api_server;

/*
 * Listen on path (mode 0600) and serve requests for v from loop l. Refused
 * if a live process answers on path; a stale socket file is replaced.
 */
int api_server_start(struct api_server **out, struct vmm *v, struct loop *l,
		     const char *path, struct mvm_err *err);
/*
 * --http-api-max-payload-size: refuse bodies above max bytes with 400 and
 * Firecracker's message (mvm's own limit, API_MAX_BODY, answers 413).
 */
void api_server_set_max_body(struct api_server *s, size_t max);
/* Close every connection, remove the socket file, free. NULL is fine. */
void api_server_stop(struct api_server *s);
/*
 * Serve one already connected stream fd (taken over: closed by the server).
 * Used by the listener and by the fuzzer.
 */
int api_server_add_fd(struct api_server *s, int fd);
/* Open connections right now. */
unsigned api_server_connections(const struct api_server *s);

#endif
