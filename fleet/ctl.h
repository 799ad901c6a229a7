/*
 * ctl.h: the supervisor's control socket as vigil-fleet reads it. One
 * connection subscribes to `events`; once subscribed, a second one asks
 * `status`, and the events that arrive meanwhile wait until the snapshot
 * is handed over, then follow it (an event already in the snapshot is
 * applied twice, which the publisher's state takes as no change). After an
 * `overflow` event, a fresh snapshot the same way. When the supervisor goes
 * away (a restart), ctl reconnects with a backoff (100 ms doubling to 2 s)
 * and starts over with a snapshot.
 */
#ifndef VIGIL_FLEET_CTL_H
#define VIGIL_FLEET_CTL_H

#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

struct ctl_cbs {
	void (*snapshot)(const json_t *doc, void *arg); /* the reply of `status` */
	/* One event line; return 2 to ask for a fresh snapshot (overflow). */
	int (*event)(const char *line, size_t len, void *arg);
	void (*down)(const char *why, void *arg); /* the connection is lost; ctl reconnects */
};

struct ctl;

struct ctl *ctl_new(struct event_base *base, const char *path, const struct ctl_cbs *cbs,
                    void *arg);
/* Connect now (and keep reconnecting). */
void ctl_start(struct ctl *c);
void ctl_free(struct ctl *c);

#endif
