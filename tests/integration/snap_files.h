/*
 * What the snapshot tests share: a private temp directory for a test's
 * files (snap_dir_make/_drop, as a criterion .init/.fini), paths in it,
 * and an API call that must succeed.
 */
#ifndef MVM_TEST_SNAP_FILES_H
#define MVM_TEST_SNAP_FILES_H

struct api_proc;

void snap_dir_make(void);
void snap_dir_drop(void);
/* DIR/name, in one of four static buffers (so a call may take four). */
const char *path_in(const char *name);
/* method path body must answer 200 or 204 (else the test fails). */
void call_ok(struct api_proc *p, const char *method, const char *path,
	     const char *body);

/* PUT /boot-source: the tiny kernel KERNEL (under the guests' directory)
 * with the command line ARGS. */
void put_boot_source(struct api_proc *p, const char *kernel, const char *args);
/* PUT /drives/ID: FILE as a writable data drive, not the root. */
void put_data_drive(struct api_proc *p, const char *id, const char *file);

#endif
