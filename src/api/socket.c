/*
 * The API's listening UNIX socket. Two mvm processes must never share a
 * path: a live one answers connect(), so it is refused; a file left by a
 * process that died (nobody answers) is replaced. The socket is created
 * with mode 0600, since whoever can connect controls the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/err.h"

#include "socket.h"

static int fill_addr(const char *path, struct sockaddr_un *sa,
		     struct mvm_err *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(sa->sun_path))
		return mvm_fail(err, -ENAMETOOLONG, "api socket %s: the path "
				"must be 1 to %zu bytes", path,
				sizeof(sa->sun_path) - 1);
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* 0: nothing there or a stale socket (removed); <0: refused. */
static int clear_path(const char *path, const struct sockaddr_un *sa,
		      struct mvm_err *err)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 :
		       mvm_fail(err, -errno, "api socket %s: %s", path,
				strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return mvm_fail(err, -EEXIST, "api socket %s: exists and is "
				"not a socket", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mvm_fail(err, -errno, "socket: %s", strerror(errno));
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	/* A full backlog (EAGAIN) still means somebody is listening. */
	if (ret == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		return mvm_fail(err, -EADDRINUSE, "api socket %s: in use by a "
				"running process", path);
	}
	close(fd);
	if (unlink(path) < 0 && errno != ENOENT)
		return mvm_fail(err, -errno, "api socket %s: cannot remove the "
				"stale socket: %s", path, strerror(errno));
	return 0;
}

int api_socket_listen(const char *path, struct api_socket *out,
		      struct mvm_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, ret;

	out->fd = -1;
	ret = fill_addr(path, &sa, err);
	if (!ret)
		ret = clear_path(path, &sa, err);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mvm_fail(err, -errno, "socket: %s", strerror(errno));
	/* bind() creates the file with the umask: 0600 from the start. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0) {
		ret = mvm_fail(err, -errno, "api socket %s: bind: %s", path,
			       strerror(errno));
		close(fd);
		return ret;
	}
	if (listen(fd, 1024) < 0 || lstat(path, &st) < 0) {
		ret = mvm_fail(err, -errno, "api socket %s: %s", path,
			       strerror(errno));
		unlink(path);
		close(fd);
		return ret;
	}
	out->fd = fd;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	return 0;
}

void api_socket_close(struct api_socket *s, const char *path)
{
	struct stat st;

	if (s->fd < 0)
		return;
	/* Remove the file only if it is still ours, not a successor's. */
	if (path && lstat(path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(path);
	close(s->fd);
	s->fd = -1;
}
