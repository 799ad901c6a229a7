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

/* What /proc/PID/stat tells of a process: enough to tell it apart and find its parent. */
struct identity_stat {
	uint64_t start_time; /* clock ticks after boot */
	uint64_t ppid;
	char state;          /* R, S, D, T, Z (a zombie: it has ended), ... */
};

/* From the text of a /proc/PID/stat file (len bytes); -1 if malformed. */
int identity_stat_parse(const char *text, size_t len, struct identity_stat *st);

/* Read pid's /proc/PID/stat; -1 if gone or hidden. */
int identity_stat(uint64_t pid, struct identity_stat *st);

/* Whether pid is still the process that started at start_time (not 0), and has not ended. */
int identity_alive(uint64_t pid, uint64_t start_time);

/*
 * pid's real and effective uid (/proc/PID/status); -1 if gone or hidden.
 * identity_uids_parse: the same from the file's text.
 */
int identity_uids(uint64_t pid, uint64_t *ruid, uint64_t *euid);
int identity_uids_parse(const char *text, size_t len, uint64_t *ruid, uint64_t *euid);

/*
 * When a process that started start_ticks clock ticks after boot (ticks_per_s
 * of them a second, sysconf(_SC_CLK_TCK): 100 on Linux) started against
 * boot_usec (CLOCK_BOOTTIME usec): 1 surely after (it cannot have sent a
 * datagram that arrived then), -1 surely before, 0 within the same tick,
 * which /proc cannot tell apart.
 */
int identity_started_vs(uint64_t start_ticks, long ticks_per_s, uint64_t boot_usec);

/*
 * The main process of pid's service unit (named unit by identity_name):
 * its oldest ancestor that still runs in that unit, pid itself if its
 * parent runs elsewhere (the service manager). A helper (a systemd-notify
 * started by the service's shell) so maps to the process that started it.
 */
uint64_t identity_main_pid(uint64_t pid, const char *unit);

#endif
