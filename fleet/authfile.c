/*
 * authfile.c: read vigil-fleet's --auth-file. See authfile.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authfile.h"

int
authfile_read(const char *path, char user[AUTHFILE_FIELD_MAX], char password[AUTHFILE_FIELD_MAX],
              char *err, size_t errlen)
{
	char buf[2 * AUTHFILE_FIELD_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len;
	char *colon;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd == -1) {
		snprintf(err, errlen, "--auth-file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "--auth-file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "--auth-file %s: permissions %04o are too open: others may read the "
		         "password; chmod 600 it",
		         path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "--auth-file %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	if (buf[len] != '\0' && buf[len + strspn(buf + len, "\r\n")] != '\0') {
		snprintf(err, errlen, "--auth-file %s: more than one line", path);
		return -1;
	}
	buf[len] = '\0';
	colon = strchr(buf, ':');
	if (colon == NULL || colon == buf || (size_t)(colon - buf) >= AUTHFILE_FIELD_MAX ||
	    strlen(colon + 1) >= AUTHFILE_FIELD_MAX || colon[1] == '\0') {
		snprintf(err, errlen,
		         "--auth-file %s: not one line user:password (each 1 to %d bytes)", path,
		         AUTHFILE_FIELD_MAX - 1);
		return -1;
	}
	memcpy(user, buf, (size_t)(colon - buf));
	user[colon - buf] = '\0';
	snprintf(password, AUTHFILE_FIELD_MAX, "%s", colon + 1);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
