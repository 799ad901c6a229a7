/*
 * allow.h: who may register a worker: an allow-list of uids and gids,
 * checked against the credentials the kernel attaches to every datagram
 * (SCM_CREDENTIALS), never against what the datagram claims. Default: the
 * supervisor's own uid, root, and the group "vigil" if it exists.
 */
#ifndef VIGIL_ALLOW_H
#define VIGIL_ALLOW_H

#include <stddef.h>
#include <sys/types.h>

#define ALLOW_MAX 64 /* users plus groups */

struct allow {
	uid_t uids[ALLOW_MAX];
	size_t nuids;
	gid_t gids[ALLOW_MAX];
	size_t ngids;
};

/* The default list: our uid, root, and group vigil if the system has one. */
void allow_init(struct allow *a);

/* Add a user or a group, by name or number; -1 with err naming it if unknown or full. */
int allow_add_user(struct allow *a, const char *who, char *err, size_t errlen);
int allow_add_group(struct allow *a, const char *who, char *err, size_t errlen);

/*
 * Whether a sender may register: its uid or primary gid is listed, or one of
 * its supplementary groups (read from /proc/PID/status; called once per new
 * name, not per heartbeat).
 */
int allow_check(const struct allow *a, pid_t pid, uid_t uid, gid_t gid);

/* "uids 0,1000 gids 998" for the start-up log line. */
void allow_describe(const struct allow *a, char *buf, size_t cap);

#endif
