/*
 * allow.c: the sender allow-list. See allow.h.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allow.h"

static int
has_uid(const struct allow *a, uid_t uid)
{
	for (size_t i = 0; i < a->nuids; i++)
		if (a->uids[i] == uid)
			return 1;
	return 0;
}

static int
has_gid(const struct allow *a, gid_t gid)
{
	for (size_t i = 0; i < a->ngids; i++)
		if (a->gids[i] == gid)
			return 1;
	return 0;
}

static void
put_uid(struct allow *a, uid_t uid)
{
	if (!has_uid(a, uid) && a->nuids < ALLOW_MAX)
		a->uids[a->nuids++] = uid;
}

static void
put_gid(struct allow *a, gid_t gid)
{
	if (!has_gid(a, gid) && a->ngids < ALLOW_MAX)
		a->gids[a->ngids++] = gid;
}

void
allow_init(struct allow *a)
{
	struct group *g;

	memset(a, 0, sizeof(*a));
	put_uid(a, getuid());
	put_uid(a, 0);
	if ((g = getgrnam("vigil")) != NULL)
		put_gid(a, g->gr_gid);
}

/* A decimal id, or -1. */
static long
parse_id(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return (errno != 0 || *end != '\0' || v < 0 || v > 0x7fffffffL) ? -1 : v;
}

/* Add a user (group == 0) or a group by name or number. */
static int
allow_add(struct allow *a, const char *who, int group, char *err, size_t errlen)
{
	long id = parse_id(who);
	size_t *n = group ? &a->ngids : &a->nuids;

	if (id == -1) {
		struct passwd *pw = group ? NULL : getpwnam(who);
		struct group *g = group ? getgrnam(who) : NULL;
		if (pw == NULL && g == NULL) {
			snprintf(err, errlen, "no such %s '%s'", group ? "group" : "user", who);
			return -1;
		}
		id = group ? (long)g->gr_gid : (long)pw->pw_uid;
	}
	if (*n >= ALLOW_MAX) {
		snprintf(err, errlen, "too many %s allowed (at most %d)", group ? "groups" : "users",
			 ALLOW_MAX);
		return -1;
	}
	if (group)
		put_gid(a, (gid_t)id);
	else
		put_uid(a, (uid_t)id);
	return 0;
}

int
allow_add_user(struct allow *a, const char *who, char *err, size_t errlen)
{
	return allow_add(a, who, 0, err, errlen);
}

int
allow_add_group(struct allow *a, const char *who, char *err, size_t errlen)
{
	return allow_add(a, who, 1, err, errlen);
}

/* Whether any of pid's supplementary groups is allowed (its "Groups:" line in /proc). */
static int
allow_supplementary(const struct allow *a, pid_t pid)
{
	char path[64], line[1024];
	int found = 0;
	FILE *fp;

	if (a->ngids == 0 || pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			errno = 0;
			unsigned long g = strtoul(p, &end, 10);
			if (end == p || errno != 0)
				break;
			if (has_gid(a, (gid_t)g)) {
				found = 1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(fp);
	return found;
}

int
allow_check(const struct allow *a, pid_t pid, uid_t uid, gid_t gid)
{
	return has_uid(a, uid) || has_gid(a, gid) || allow_supplementary(a, pid);
}

void
allow_describe(const struct allow *a, char *buf, size_t cap)
{
	size_t n;

	snprintf(buf, cap, "uids");
	for (size_t i = 0; i < a->nuids; i++) {
		n = strlen(buf);
		snprintf(buf + n, cap - n, "%s%u", i ? "," : " ", (unsigned)a->uids[i]);
	}
	n = strlen(buf);
	snprintf(buf + n, cap - n, "%s", a->ngids ? ", gids" : ", no groups");
	for (size_t i = 0; i < a->ngids; i++) {
		n = strlen(buf);
		snprintf(buf + n, cap - n, "%s%u", i ? "," : " ", (unsigned)a->gids[i]);
	}
}
