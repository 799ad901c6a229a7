/*
 * sdnotify.c: sd_notify and socket activation without libsystemd. See
 * sdnotify.h.
 */
#include <errno.h>
#include <fcntl.h>
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
	ssize_t r = sendto(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&sun, len);
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
	const char *spid = getenv("LISTEN_PID"), *sfds = getenv("LISTEN_FDS");
	int n = 0;

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
