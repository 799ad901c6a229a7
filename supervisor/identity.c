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

int
identity_stat_parse(const char *text, size_t len, struct identity_stat *st)
{
	/* "PID (COMM) STATE PPID ...": COMM may hold anything, so count from its last ')'. */
	const char *p = NULL;
	for (size_t i = len; i > 0; i--) {
		if (text[i - 1] == ')') {
			p = text + i;
			break;
		}
	}
	const char *end = text + len;
	if (p == NULL || p + 2 >= end)
		return -1;
	st->state = p[1];
	p += 2;
	uint64_t v = 0;
	while (p < end && *p == ' ')
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	st->ppid = v;
	st->start_time = identity_start_time_from_stat(text, len);
	return st->start_time != 0 ? 0 : -1;
}

/* Read /proc/PID/NAME into buf (cap bytes); the bytes read, or -1. */
static ssize_t
read_proc(uint64_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	ssize_t n = -1;

	snprintf(path, sizeof(path), "/proc/%" PRIu64 "/%s", pid, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		n = read(fd, buf, cap);
		close(fd);
	}
	return n;
}

int
identity_stat(uint64_t pid, struct identity_stat *st)
{
	char buf[1024];
	ssize_t n = read_proc(pid, "stat", buf, sizeof(buf));

	return n > 0 ? identity_stat_parse(buf, (size_t)n, st) : -1;
}

uint64_t
identity_start_time(uint64_t pid)
{
	struct identity_stat st;

	return identity_stat(pid, &st) == 0 ? st.start_time : 0;
}

int
identity_alive(uint64_t pid, uint64_t start_time)
{
	struct identity_stat st;

	return start_time != 0 && identity_stat(pid, &st) == 0 && st.start_time == start_time &&
	       st.state != 'Z' && st.state != 'X';
}

int
identity_uids_parse(const char *text, size_t len, uint64_t *ruid, uint64_t *euid)
{
	/* "Uid:\tREAL\tEFFECTIVE\tSAVED\tFS" on a line of its own. */
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		if (eol - p > 4 && memcmp(p, "Uid:", 4) == 0) {
			uint64_t v[2] = {0, 0};
			const char *q = p + 4;
			for (int i = 0; i < 2; i++) {
				while (q < eol && (*q == '\t' || *q == ' '))
					q++;
				if (q >= eol || *q < '0' || *q > '9')
					return -1;
				for (; q < eol && *q >= '0' && *q <= '9'; q++)
					v[i] = v[i] * 10 + (uint64_t)(*q - '0');
			}
			*ruid = v[0];
			*euid = v[1];
			return 0;
		}
		p = eol + 1;
	}
	return -1;
}

int
identity_uids(uint64_t pid, uint64_t *ruid, uint64_t *euid)
{
	char buf[2048];
	ssize_t n = read_proc(pid, "status", buf, sizeof(buf));

	return n > 0 ? identity_uids_parse(buf, (size_t)n, ruid, euid) : -1;
}

int
identity_started_vs(uint64_t start_ticks, long ticks_per_s, uint64_t boot_usec)
{
	if (ticks_per_s <= 0)
		return 0;
	/* The start is rounded down to its tick: it lies in [tick, tick + 1). */
	uint64_t tick = 1000000 / (uint64_t)ticks_per_s, from = start_ticks * tick;
	if (from > boot_usec)
		return 1;
	return from + tick <= boot_usec ? -1 : 0;
}

uint64_t
identity_main_pid(uint64_t pid, const char *unit)
{
	char name[VIGIL_NAME_MAX + 1];
	struct identity_stat st;

	/* Up the parents while they run in the same unit; a bounded walk (no loops in /proc). */
	for (int depth = 0; depth < 64; depth++) {
		if (identity_stat(pid, &st) == -1 || st.ppid <= 1)
			return pid;
		if (identity_name(st.ppid, name, sizeof(name)) == -1 || strcmp(name, unit) != 0)
			return pid;
		pid = st.ppid;
	}
	return pid;
}

int
identity_name(uint64_t pid, char *out, size_t cap)
{
	char buf[4096];
	ssize_t n = read_proc(pid, "cgroup", buf, sizeof(buf));

	/* Unreadable (gone already, hidden, out of descriptors): no name rather than a wrong one. */
	if (n <= 0)
		return -1;
	if (identity_unit_from_cgroup(buf, (size_t)n, out, cap) == 0)
		return 0;
	snprintf(out, cap, "pid-%" PRIu64, pid);
	return 0;
}
