/*
 * sdnotify.c: sd_notify and socket activation without libsystemd. See
 * sdnotify.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

int
vigil_sd_notify(const char *text, char *err, size_t errlen)
{
	return vigil_sd_notify_fd(text, -1, err, errlen);
}

int
vigil_sd_notify_fd(const char *text, int pass, char *err, size_t errlen)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unusable NOTIFY_SOCKET '%s'", path);
		return -1;
	}
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* an abstract socket */
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "cannot notify %s: socket: %s", path, strerror(errno));
		return -1;
	}
	struct iovec iov = {.iov_base = (void *)(uintptr_t)text, .iov_len = strlen(text)};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = {0};
	struct msghdr mh = {.msg_name = &sun, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
	if (pass >= 0) {
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass, sizeof(int));
	}
	ssize_t r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	int saved = errno;
	close(fd);
	if (r == -1) {
		snprintf(err, errlen, "cannot notify %s: %s", path, strerror(saved));
		return -1;
	}
	return 1;
}

/* Parse a positive decimal number that fits in a long; -1 otherwise. */
static long
parse_positive(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return -1;
	return v;
}

int
vigil_sd_listen_fds(char *err, size_t errlen)
{
	return vigil_sd_listen_fds_named(NULL, 0, err, errlen);
}

/* The i-th colon-separated name of list into out (cap bytes); "" if there is none. */
static void
fdname(const char *list, int i, char *out, size_t cap)
{
	out[0] = '\0';
	for (; list != NULL && i > 0; i--)
		if ((list = strchr(list, ':')) != NULL)
			list++;
	if (list == NULL)
		return;
	size_t n = strcspn(list, ":");
	if (n < cap) {
		memcpy(out, list, n);
		out[n] = '\0';
	}
}

int
vigil_sd_listen_fds_named(char (*names)[VIGIL_SD_FDNAME_MAX], int max, char *err, size_t errlen)
{
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	int n = 0;

	for (int i = 0; i < max; i++)
		fdname(getenv("LISTEN_FDNAMES"), i, names[i], VIGIL_SD_FDNAME_MAX);

	if (spid == NULL || sfds == NULL)
		goto out;
	long pid = parse_positive(spid), fds = parse_positive(sfds);
	if (pid == -1 || fds == -1 || fds > 64) {
		snprintf(err, errlen, "malformed LISTEN_PID='%s' LISTEN_FDS='%s'", spid, sfds);
		n = -1;
		goto out;
	}
	if ((pid_t)pid != getpid())
		goto out; /* meant for a parent of ours */
	for (int fd = VIGIL_SD_LISTEN_FDS_START; fd < VIGIL_SD_LISTEN_FDS_START + fds; fd++) {
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
			snprintf(err, errlen, "LISTEN_FDS=%ld but fd %d is not open", fds, fd);
			n = -1;
			goto out;
		}
	}
	n = (int)fds;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return n;
}

uint64_t
vigil_sd_watchdog_usec(void)
{
	const char *s = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	if (p != NULL && parse_positive(p) != (long)getpid())
		return 0;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return (uint64_t)v;
}
