/*
 * heartbeat.h: vigil-worker's use of libvigil (lib/vigil.h). The client
 * sends the heartbeats and reads TIMEOUTs; here we decide whether a
 * heartbeat may go (not while stalled by SIGUSR1, nor while --check's last
 * run failed), log what the client reports and carry out --on-timeout.
 */
#ifndef VIGIL_HEARTBEAT_H
#define VIGIL_HEARTBEAT_H

#include <stddef.h>

struct worker_ctx;

/* Create the client and bind the worker's socket; -1 with err. */
int heartbeat_start(struct worker_ctx *w, char *err, size_t errlen);

/* Run it on w->base: the first heartbeat now (if it may go), then every interval. */
int heartbeat_run(struct worker_ctx *w, char *err, size_t errlen);

/* Free the client, unlinking the worker's socket. */
void heartbeat_stop(struct worker_ctx *w);

/* Send a heartbeat now (resumed, or healthy again), unless we must not. */
void heartbeat_send_now(struct worker_ctx *w);

/* Send STOPPING=1: a clean exit follows. */
void heartbeat_send_stopping(struct worker_ctx *w);

/* Toggle the stall: stop heartbeating while staying responsive. Returns the new state. */
int heartbeat_toggle_stall(struct worker_ctx *w);

#endif
