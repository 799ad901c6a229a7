/*
 * heartbeat.h: the worker's sending side. A timer sends HEARTBEAT every
 * interval (with jitter), never blocking: an unreachable supervisor is
 * logged once when it goes away and once when it comes back.
 */
#ifndef VIGIL_HEARTBEAT_H
#define VIGIL_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

struct worker_ctx;

struct heartbeat *heartbeat_start(struct worker_ctx *w, char *err, size_t errlen);
void heartbeat_free(struct heartbeat *hb);

/* Send a heartbeat now (in answer to TIMEOUT), unless stalled. */
void heartbeat_send_now(struct heartbeat *hb);

/* Send STOPPING=1: a clean exit follows. */
void heartbeat_send_stopping(struct heartbeat *hb);

/* Toggle the stall: stop heartbeating while staying responsive. Returns the new state. */
int heartbeat_toggle_stall(struct heartbeat *hb);
int heartbeat_stalled(const struct heartbeat *hb);

#endif
