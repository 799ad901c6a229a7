/*
 * identity.h: a name for an sd_notify sender that gives none. A program
 * written for systemd's watchdog sends WATCHDOG=1 without WORKER=; like
 * systemd, vigil tells senders apart by what the kernel vouches for: the
 * sender's pid (SCM_CREDENTIALS) and, through /proc/PID/cgroup, the systemd
 * service it runs in. The name is that service's unit name, or pid-PID.
 */
#ifndef VIGIL_IDENTITY_H
#define VIGIL_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

/*
 * From the text of a /proc/PID/cgroup file (len bytes), the innermost unit
 * on the systemd hierarchy (the "0::" line of cgroup v2, or "name=systemd"
 * on v1), into out (cap >= VIGIL_NAME_MAX + 1), if it is a ".service". Returns
 * 0, or -1 if there is none, it is a scope (a login session's or a transient
 * scope holds unrelated processes), or its name is not a valid worker name.
 */
int identity_unit_from_cgroup(const char *text, size_t len, char *out, size_t cap);

/*
 * The name for pid: its service's unit name, else "pid-PID"; -1 if its
 * cgroup cannot be read (the process is gone, hidden from us, or we are out
 * of descriptors), when no name is better than a wrong one.
 */
int identity_name(uint64_t pid, char *out, size_t cap);

/*
 * When pid's process started (field 22 of /proc/PID/stat, clock ticks after
 * boot): with the pid, it names one process for good, so a pid reused by
 * another process is told apart. 0 if it cannot be read (gone, or hidden).
 */
uint64_t identity_start_time(uint64_t pid);

/* The same, from the text of a /proc/PID/stat file (len bytes); 0 if malformed. */
uint64_t identity_start_time_from_stat(const char *text, size_t len);

#endif
