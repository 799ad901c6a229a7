/*
 * sdproxy.h: vigil-worker --exec as an sd_notify proxy, so that a program
 * written for systemd's watchdog runs under vigil unchanged. The program
 * gets a NOTIFY_SOCKET of ours (an abstract socket; only our own uid and
 * root may send to it). What it says there is read as systemd reads it
 * (common/wire.c) and
 *  - relayed to the supervisor: WATCHDOG=1 (and READY=1) as a heartbeat
 *    while the program's pings are our heartbeats (worker_ctx.relay),
 *    WATCHDOG=trigger, WATCHDOG_USEC=, STATUS= and STOPPING=1 as they are;
 *  - passed on, with the descriptors that came with it (FDSTORE=1,
 *    BARRIER=1), to the NOTIFY_SOCKET we were started with (systemd's):
 *    READY, STATUS, RELOADING, STOPPING, EXTEND_TIMEOUT_USEC, ERRNO,
 *    WATCHDOG=1 and the rest, less MAINPID=: we stay the service's main
 *    process, so that systemd's stop and watchdog reach us and our
 *    messages are accepted under NotifyAccess=main.
 */
#ifndef VIGIL_SDPROXY_H
#define VIGIL_SDPROXY_H

#include <stddef.h>

struct sdproxy;
struct worker_ctx;

/* Bind our NOTIFY_SOCKET and read it on w->base; NULL with err. */
struct sdproxy *sdproxy_start(struct worker_ctx *w, char *err, size_t errlen);

/* "NOTIFY_SOCKET=@...", for the program's environment. */
const char *sdproxy_env(const struct sdproxy *p);

void sdproxy_free(struct sdproxy *p);

#endif
