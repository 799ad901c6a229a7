/*
 * sdnotify.h: the two systemd protocols a daemon speaks, implemented from
 * their documentation (sd_notify(3), sd_listen_fds(3)) without libsystemd:
 * readiness and watchdog messages to $NOTIFY_SOCKET, and sockets passed by
 * socket activation ($LISTEN_PID, $LISTEN_FDS). No logging, no exit.
 */
#ifndef VIGIL_SDNOTIFY_H
#define VIGIL_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_SD_LISTEN_FDS_START 3

/*
 * Send text to the service manager. Returns 1 if sent, 0 if there is no
 * $NOTIFY_SOCKET (not under systemd), -1 with err on failure. Never blocks.
 */
int vigil_sd_notify(const char *text, char *err, size_t errlen);

/*
 * How many sockets systemd passed us (from fd 3 on), 0 if none or if they
 * were meant for another process. Unsets the variables so that children do
 * not inherit them. -1 with err if the variables are malformed.
 */
int vigil_sd_listen_fds(char *err, size_t errlen);

#define VIGIL_SD_FDNAME_MAX 256 /* sd_pid_notify_with_fds(3): FDNAME= is at most 255 bytes */

/*
 * vigil_sd_listen_fds, and the name of each of the first max descriptors
 * ($LISTEN_FDNAMES, colon-separated: a socket unit's FileDescriptorName=
 * or its unit name, a stored descriptor's FDNAME=) into names[i]; "" for a
 * descriptor without one.
 */
int vigil_sd_listen_fds_named(char (*names)[VIGIL_SD_FDNAME_MAX], int max, char *err,
			      size_t errlen);

/*
 * Send text with the descriptor fd (SCM_RIGHTS) to the service manager:
 * FDSTORE=1 keeps fd in the service's descriptor store, handed back at its
 * next start. Returns as vigil_sd_notify does.
 */
int vigil_sd_notify_fd(const char *text, int fd, char *err, size_t errlen);

/*
 * The watchdog period systemd expects pings within ($WATCHDOG_USEC, if
 * $WATCHDOG_PID is absent or ours), or 0 when the watchdog is off.
 */
uint64_t vigil_sd_watchdog_usec(void);

#endif
