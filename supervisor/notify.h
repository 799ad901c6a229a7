/*
 * notify.h: the supervisor's conversation with its service manager
 * (sd_notify): READY=1 once every socket is ready, STATUS= a one-line
 * summary whenever a worker changes state, WATCHDOG=1 from the event loop
 * at half of WATCHDOG_USEC, STOPPING=1 on the way out. Without systemd
 * (no $NOTIFY_SOCKET) every call does nothing.
 */
#ifndef VIGIL_NOTIFY_H
#define VIGIL_NOTIFY_H

struct supervisor;

/* Say READY=1 and start the watchdog pings if systemd asked for them. */
int notify_start(struct supervisor *sv, char *err, size_t errlen);

/* The counts of workers by state changed: update STATUS=. */
void notify_status(struct supervisor *sv);

/* Say STOPPING=1 and stop pinging. */
void notify_stop(struct supervisor *sv);

#endif
