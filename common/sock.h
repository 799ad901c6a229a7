/*
 * sock.h: AF_UNIX socket helpers. They never log and never exit: on failure
 * they return -1 with errno set and write a message naming the path and the
 * reason into the caller's buffer ("cannot bind /run/vigil/supervisor.sock: Permission
 * denied").
 */
#ifndef VIGIL_SOCK_H
#define VIGIL_SOCK_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#define VIGIL_ERRLEN 512

/* A socket we bound, so that we remove only our own file at exit. */
struct vigil_sock {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
};

/* Fill *sun from path; -1 (with err) if the path is empty or does not fit sun_path. */
int vigil_sock_addr(const char *path, struct sockaddr_un *sun, socklen_t *len, char *err,
		    size_t errlen);

/*
 * Create a non-blocking, close-on-exec AF_UNIX socket of type (SOCK_DGRAM or
 * SOCK_STREAM) bound to path with the given file mode. Creates the parent
 * directory (0755) if missing; removes a stale socket file nobody listens
 * on; refuses a path that is not a socket or one that is live. A SOCK_STREAM
 * socket is also listening.
 */
int vigil_sock_bind(struct vigil_sock *s, const char *path, int type, mode_t mode, char *err,
		    size_t errlen);

/*
 * Take over fd, a socket someone else bound (systemd, by socket activation):
 * check it is an AF_UNIX socket of type, make it non-blocking and
 * close-on-exec. Its path is never unlinked by vigil_sock_close: its owner
 * keeps it across our restarts. -1 with err if fd is not such a socket.
 */
int vigil_sock_adopt(struct vigil_sock *s, int fd, int type, char *err, size_t errlen);

/* The path fd is bound to, into buf ("(unnamed)" if none). */
void vigil_sock_name(int fd, char *buf, size_t cap);

/* Close the socket and unlink its path if the file there is still ours. */
void vigil_sock_close(struct vigil_sock *s);

/* Create the directories of path's parent, like mkdir -p; -1 with err naming the path. */
int vigil_mkdir_parent(const char *path, mode_t mode, char *err, size_t errlen);

#endif
