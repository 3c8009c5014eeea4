#include <criterion/criterion.h>
#include <unistd.h>

#include "api_assert.h"
#include "api_client.h"

void api_ok(const char *sock, const char *method, const char *path,
	    const char *body)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), 204,
		     "%s %s %s -> %d %s", method, path, body ? body : "",
		     r.status, r.body);
}

void api_fault(const char *sock, const char *method, const char *path,
	       const char *body, int status, const char *text)
{
	struct api_resp r;

	cr_assert_eq(api_call(sock, method, path, body, &r), status,
		     "%s %s %s -> %d %s", method, path, body ? body : "",
		     r.status, r.body);
	cr_assert(fault_has(&r, text), "%s %s %s: want '%s': %s", method,
		  path, body ? body : "", text, r.body);
}

int api_start_again(const char *sock, struct api_resp *r)
{
	for (int i = 0; i < 100; i++) {
		api_call(sock, "PUT", "/actions",
			 "{\"action_type\": \"InstanceStart\"}", r);
		if (r->status != 400 || !fault_has(r, "still being torn down"))
			break;
		usleep(20000);
	}
	return r->status;
}
