/*
 * Launch the built mvm as a child process, as a user would, and capture
 * what it printed and how it ended. Paths come from the environment that
 * meson sets: MVM_BIN and MVM_GUESTS (the directory of tiny kernels).
 */
#ifndef MVM_TEST_HARNESS_H
#define MVM_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mvm_result {
	int status;      /* exit status, or 128+signal if killed */
	bool timed_out;  /* the harness had to kill it */
	double seconds;  /* wall time */
	char *out;       /* stdout (the guest console), NUL-terminated */
	char *err;       /* stderr (mvm's messages) */
};

struct mvm_opts {
	const char *stdin_data; /* NULL: an empty stdin */
	const char *stdin_after; /* write stdin_data once stdout has this */
	double timeout;         /* seconds; 0 = 20 */
	int kill_after_match_signal; /* send this signal once... */
	const char *kill_after_match; /* ...stdout contains this text */
	int kill_after_count;   /* ...this many times (default 1) */
	void (*child_setup)(void); /* runs in the child before exec */
};

/* argv is NULL-terminated and excludes the binary. */
int mvm_launch(const char *const *argv, const struct mvm_opts *o,
	       struct mvm_result *r);
void mvm_result_free(struct mvm_result *r);

/* Path of a tiny kernel by name, in a static buffer. */
const char *guest_path(const char *name);
const char *mvm_bin(void);
/* Count occurrences of needle in hay. */
int count_str(const char *hay, const char *needle);
/*
 * Write len bytes of data to a fresh temp file; returns its path, which
 * the caller frees (malloc'd: tests hold several at once), or NULL.
 */
char *temp_file(const char *tag, const void *data, size_t len);

/*
 * mvm running while a test talks to it: pipes on its stdin, stdout and
 * stderr, what it printed so far in obuf/ebuf (NUL-terminated).
 */
struct mvm_child {
	pid_t pid;
	int in, out, err;
	char obuf[65536], ebuf[65536];
	size_t olen, elen;
};

/* Start mvm with argv (after the binary), env added ("K=V"), and setup
 * (NULL: none) run in the child before exec. 0, or -1 with errno. */
int mvm_child_spawn(struct mvm_child *c, const char *const *argv,
		    const char *env, void (*setup)(void));
/* Read both pipes until cond holds (true), or seconds pass or mvm closes
 * its output without it (false). */
bool mvm_child_wait(struct mvm_child *c, bool (*cond)(struct mvm_child *),
		    double seconds);
/* Wait for mvm to end: its exit status, or 128+signal; -1 on error. */
int mvm_child_end(struct mvm_child *c);

#endif
