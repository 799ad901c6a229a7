/*
 * identity.c: names for nameless sd_notify senders. See identity.h.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"
#include "wire.h"

/* Does the path component (n bytes at c) end with suffix? */
static int
ends_with(const char *c, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n > sl && memcmp(c + n - sl, suffix, sl) == 0;
}

/*
 * The innermost unit of a cgroup path (len bytes): the last component that
 * is a ".service" or a ".scope" (slices and a service's own sub-cgroups are
 * passed over). Only a service names a worker; 0 or -1.
 */
static int
unit_from_path(const char *path, size_t len, char *out, size_t cap)
{
	size_t end = len;

	while (end > 0) {
		size_t start = end;
		while (start > 0 && path[start - 1] != '/')
			start--;
		const char *c = path + start;
		size_t n = end - start;
		if (ends_with(c, n, ".scope"))
			return -1; /* a login session or a transient scope: unrelated processes */
		if (ends_with(c, n, ".service")) {
			if (!vigil_wire_name_valid(c, n) || n + 1 > cap)
				return -1;
			memcpy(out, c, n);
			out[n] = '\0';
			return 0;
		}
		end = start > 0 ? start - 1 : 0;
	}
	return -1;
}

int
identity_unit_from_cgroup(const char *text, size_t len, char *out, size_t cap)
{
	const char *p = text, *endp = text + len;

	while (p < endp) {
		const char *nl = memchr(p, '\n', (size_t)(endp - p));
		const char *eol = nl != NULL ? nl : endp;
		/* "ID:controllers:path": the systemd hierarchy is "0::" or "N:name=systemd:". */
		const char *c1 = memchr(p, ':', (size_t)(eol - p));
		const char *c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2 != NULL) {
			size_t clen = (size_t)(c2 - c1 - 1);
			int v2 = c1 - p == 1 && p[0] == '0' && clen == 0;
			int v1 = clen == 12 && memcmp(c1 + 1, "name=systemd", 12) == 0;
			if ((v2 || v1) &&
			    unit_from_path(c2 + 1, (size_t)(eol - c2 - 1), out, cap) == 0)
				return 0;
		}
		p = eol + 1;
	}
	return -1;
}

uint64_t
identity_start_time_from_stat(const char *text, size_t len)
{
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, so count from its last ')'. */
	const char *p = NULL;
	for (size_t i = len; i > 0; i--) {
		if (text[i - 1] == ')') {
			p = text + i;
			break;
		}
	}
	if (p == NULL)
		return 0;
	const char *end = text + len;
	/* After ')': field 3 (state) onwards; starttime is field 22, the 20th from here. */
	for (int field = 3; field < 22; field++) {
		while (p < end && *p == ' ')
			p++;
		while (p < end && *p != ' ')
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	uint64_t v = 0;
	int digits = 0;
	for (; p < end && *p >= '0' && *p <= '9' && digits < 20; p++, digits++)
		v = v * 10 + (uint64_t)(*p - '0');
	return digits > 0 ? v : 0;
}

uint64_t
identity_start_time(uint64_t pid)
{
	char path[64], buf[1024];
	ssize_t n = -1;

	snprintf(path, sizeof(path), "/proc/%" PRIu64 "/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	return n > 0 ? identity_start_time_from_stat(buf, (size_t)n) : 0;
}

int
identity_name(uint64_t pid, char *out, size_t cap)
{
	char path[64], buf[4096];
	ssize_t n = -1;

	snprintf(path, sizeof(path), "/proc/%" PRIu64 "/cgroup", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	/* Unreadable (gone already, hidden, out of descriptors): no name rather than a wrong one. */
	if (n <= 0)
		return -1;
	if (identity_unit_from_cgroup(buf, (size_t)n, out, cap) == 0)
		return 0;
	snprintf(out, cap, "pid-%" PRIu64, pid);
	return 0;
}
