/*
 * libmicrohttpd, loaded with dlopen() when the API server starts. Linking
 * it would make every `mvm run` load it and GnuTLS behind it (about a
 * millisecond of start-up on an idle host, several under load) for an API
 * most runs never serve. The table lives in the server, not in a global.
 */
#ifndef MVM_API_MHD_H
#define MVM_API_MHD_H

#include <microhttpd.h>

struct mvm_err;

struct mhd_lib {
	void *handle;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_run) *run;
	__typeof__(MHD_get_timeout) *get_timeout;
	__typeof__(MHD_add_connection) *add_connection;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_set_connection_option) *set_connection_option;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
};

int mhd_lib_open(struct mhd_lib *l, struct mvm_err *err);
void mhd_lib_close(struct mhd_lib *l);

#endif
