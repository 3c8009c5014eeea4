/*
 * Firecracker's Vsock (PUT /vsock before boot, the config file's
 * "vsock"): the guest's CID and the host's Unix socket. vsock_id is
 * deprecated in Firecracker and optional; it names the device.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "mvm/api.h"
#include "mvm/err.h"

#include "json_in.h"
#include "shapes.h"

/* CIDs 0-2 are the hypervisor's, the local one's and the host's;
 * 0xffffffff is VMADDR_CID_ANY. */
#define VSOCK_CID_MIN 3
#define VSOCK_CID_MAX 0xfffffffeu

/* Room for the path and a guest port's "_4294967295" in sun_path. */
#define UDS_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 12)

int shape_vsock(struct vm_spec *s, struct json_object *o, const char *path,
		struct mvm_err *err)
{
	static const char *const known[] = { "vsock_id", "guest_cid",
		"uds_path", NULL };
	const char *id = NULL, *uds = NULL;
	struct vsock_config c = { 0 };
	uint64_t cid = 0;
	struct jr r;
	int ret;

	ret = jr_open(&r, o, path, known, err);
	if (!ret)
		ret = jr_str(&r, "vsock_id", false, &id);
	if (ret > 0)
		ret = shape_check_id(&r, "vsock_id", id);
	if (ret >= 0)
		ret = jr_u64(&r, "guest_cid", true, VSOCK_CID_MIN,
			     VSOCK_CID_MAX, &cid);
	if (ret >= 0)
		ret = jr_str(&r, "uds_path", true, &uds);
	if (ret < 0)
		return ret;
	if (!uds[0] || strlen(uds) > UDS_PATH_MAX)
		return jr_fail(&r, "uds_path", -EINVAL, "'%.64s': empty or "
			       "longer than %zu bytes (a Unix socket's path, "
			       "with room for _<port>)", uds, UDS_PATH_MAX);
	snprintf(c.id, sizeof(c.id), "%s", id ? id : "vsock");
	c.guest_cid = (uint32_t)cid;
	c.uds_path = strdup(uds);
	if (!c.uds_path)
		return mvm_fail(err, -ENOMEM, "out of memory");
	free(s->vsock.uds_path);
	s->vsock = c;
	return 0;
}
