/*
 * libFuzzer target: MMDS's guest-facing HTTP server (mmds_conn), the
 * bytes a guest sends on one connection. The first byte picks the
 * store's version and imds_compat, the second how the rest is split into
 * receives; the store holds a small document. Every answer must be one
 * whole HTTP response whose Content-Length is its body's length.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/err.h"
#include "mvm/mmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_answer(void *opaque, const void *buf, size_t len)
{
	const char *p = buf, *end;
	unsigned long clen;
	char head[MMDS_REQUEST_MAX + 512];
	size_t hl;

	(void)opaque;
	if (len < 9 || memcmp(p, "HTTP/1.", 7))
		abort();
	end = memmem(p, len, "\r\n\r\n", 4);
	if (!end)
		abort();
	hl = (size_t)(end - p) + 4;
	if (hl >= sizeof(head))
		abort();
	memcpy(head, p, hl);
	head[hl] = '\0';
	p = strstr(head, "Content-Length: ");
	if (!p)
		abort();
	clen = strtoul(p + 16, NULL, 10);
	if (clen != len - hl)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char doc[] = "{\"latest\": {\"meta-data\": {\"a\": \"b\","
		" \"n\": 1, \"l\": [\"x\", {\"y\": \"z\"}]}}, \"s\": \"t\"}";
	struct mvm_err err;
	struct json_object *o;
	struct mmds *m;
	struct mmds_conn *c;
	size_t step, off;

	if (size < 2 || mmds_new(&m, 4096, &err))
		return 0;
	o = json_tokener_parse(doc);
	if (!o || mmds_put(m, o, &err))
		abort();
	json_object_put(o);
	mmds_set_version(m, data[0] & 1 ? MMDS_V2 : MMDS_V1);
	mmds_set_imds_compat(m, data[0] & 2);
	step = (size_t)data[1] + 1;
	c = mmds_conn_new(m, check_answer, NULL);
	if (!c)
		abort();
	for (off = 2; off < size; off += step)
		if (mmds_conn_recv(c, data + off, size - off < step ?
				   size - off : step))
			break;
	mmds_conn_free(c);
	mmds_free(m);
	return 0;
}
