/*
 * sock.c: binding AF_UNIX sockets safely. See sock.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sock.h"

int
vigil_sock_addr(const char *path, struct sockaddr_un *sun, socklen_t *len, char *err,
		size_t errlen)
{
	size_t n = strlen(path);

	if (n == 0) {
		snprintf(err, errlen, "socket path is empty");
		return -1;
	}
	if (n >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "socket path %s is too long (%zu bytes, at most %zu)", path, n,
			 sizeof(sun->sun_path) - 1);
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
vigil_mkdir_parent(const char *path, mode_t mode, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	size_t n = strlen(path);

	if (n >= sizeof(dir)) {
		snprintf(err, errlen, "path %s is too long", path);
		return -1;
	}
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, mode) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
			return -1;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	struct stat st;
	if (stat(dir, &st) == -1) {
		snprintf(err, errlen, "cannot use directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot use directory %s: Not a directory", dir);
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/*
 * An existing file at path: remove it if it is a socket that refuses
 * connections (its owner is gone); refuse anything else.
 */
static int
sock_clear_stale(const char *path, const struct sockaddr_un *sun, socklen_t len, int type,
		 char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "cannot bind %s: the path exists and is not a socket", path);
		errno = EEXIST;
		return -1;
	}
	/* Non-blocking: a live owner with a full backlog answers EAGAIN, never hangs us. */
	int probe = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe == -1) {
		snprintf(err, errlen, "cannot bind %s: socket: %s", path, strerror(errno));
		return -1;
	}
	int r = connect(probe, (const struct sockaddr *)sun, len);
	int saved = errno;
	close(probe);
	if (r == 0) {
		snprintf(err, errlen,
			 "cannot bind %s: another process is listening on it (is another instance running?)",
			 path);
		errno = EADDRINUSE;
		return -1;
	}
	if (saved != ECONNREFUSED) {
		snprintf(err, errlen, "cannot bind %s: probing the existing socket: %s", path,
			 strerror(saved));
		errno = saved;
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
vigil_sock_bind(struct vigil_sock *s, const char *path, int type, mode_t mode, char *err,
		size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct stat st;

	s->fd = -1;
	s->path[0] = '\0';
	if (vigil_sock_addr(path, &sun, &len, err, errlen) == -1)
		return -1;
	if (vigil_mkdir_parent(path, 0755, err, errlen) == -1)
		return -1;
	if (sock_clear_stale(path, &sun, len, type, err, errlen) == -1)
		return -1;

	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "cannot create socket for %s: %s", path, strerror(errno));
		return -1;
	}
	/*
	 * Create the file owner-only, then open up to the requested mode. Linux
	 * gives a socket file the mode of the socket's inode (less the umask):
	 * fchmod before bind does what a tight umask would, without touching
	 * the process-wide umask (libvigil binds from programs with threads).
	 */
	if (fchmod(fd, 0600) == -1 || bind(fd, (struct sockaddr *)&sun, len) == -1) {
		snprintf(err, errlen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/*
	 * Listen at once: between bind and listen a client that saw the file
	 * is refused (ECONNREFUSED), so keep that window to nothing.
	 */
	if (type == SOCK_STREAM && listen(fd, 16) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	if (chmod(path, mode) == -1 || stat(path, &st) == -1) {
		snprintf(err, errlen, "cannot set mode of %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	s->fd = fd;
	memcpy(s->path, sun.sun_path, sizeof(s->path));
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

void
vigil_sock_name(int fd, char *buf, size_t cap)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 || sun.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || sun.sun_path[0] == '\0') {
		snprintf(buf, cap, "(unnamed)");
		return;
	}
	snprintf(buf, cap, "%.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)),
		 sun.sun_path);
}

int
vigil_sock_adopt(struct vigil_sock *s, int fd, int type, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	int got = 0;
	socklen_t glen = sizeof(got);

	s->fd = -1;
	s->path[0] = '\0';
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &got, &glen) == -1) {
		snprintf(err, errlen, "inherited fd %d is not a socket: %s", fd, strerror(errno));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == -1 || sun.sun_family != AF_UNIX ||
	    got != type) {
		snprintf(err, errlen, "inherited fd %d is not an AF_UNIX %s socket", fd,
			 type == SOCK_DGRAM ? "datagram" : "stream");
		return -1;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot set flags on inherited fd %d: %s", fd, strerror(errno));
		return -1;
	}
	s->fd = fd;
	return 0;
}

void
vigil_sock_close(struct vigil_sock *s)
{
	struct stat st;

	if (s->fd == -1)
		return;
	close(s->fd);
	s->fd = -1;
	/* Another instance may have replaced the file since: leave its socket alone. */
	if (s->path[0] != '\0' && lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	s->path[0] = '\0';
}
