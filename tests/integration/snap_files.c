/* The snapshot tests' temp directory and calls (snap_files.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "api_client.h"
#include "harness.h"
#include "snap_files.h"

static char dir[64];

void snap_dir_make(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvm-snap-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

void snap_dir_drop(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (dir[0] && system(cmd)) {
		/* a leftover temp dir fails no test */
	}
}

const char *path_in(const char *name)
{
	static char p[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

void call_ok(struct api_proc *p, const char *method, const char *path,
	     const char *body)
{
	struct api_resp r;
	int st = api_call(p->sock, method, path, body, &r);

	cr_assert(st == 204 || st == 200, "%s %s -> %d %s\n%s", method, path,
		  st, r.body, p->err ? p->err : "");
}

void put_boot_source(struct api_proc *p, const char *kernel, const char *args)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", "
		 "\"boot_args\": \"%s\"}", guest_path(kernel), args);
	call_ok(p, "PUT", "/boot-source", body);
}

void put_data_drive(struct api_proc *p, const char *id, const char *file)
{
	char body[512], path[64];

	snprintf(body, sizeof(body), "{\"drive_id\": \"%s\", "
		 "\"path_on_host\": \"%s\", \"is_root_device\": false, "
		 "\"is_read_only\": false}", id, file);
	snprintf(path, sizeof(path), "/drives/%s", id);
	call_ok(p, "PUT", path, body);
}
