/*
 * events.h: what happens to workers, in one vocabulary for the log (the
 * EVENT= journal field), the control socket's event stream (vigilctl
 * events), a worker's history (vigilctl status NAME) and the metrics. The
 * last EVENTS_KEEP events are kept in a ring. Pure: no clock, no I/O.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wire.h"

#define EVENTS_KEEP 1024 /* events kept for status history */
#define EVENTS_MAX_SUBSCRIBERS 4 /* consumers of the stream: the control socket, ... */

enum sv_event_type {
	SV_EVENT_REGISTERED, /* a name's first heartbeat */
	SV_EVENT_RECOVERED,  /* a dead worker heartbeats again, same pid */
	SV_EVENT_RESTARTED,  /* a new pid behind the name */
	SV_EVENT_RESUMED,    /* a stopped worker heartbeats again */
	SV_EVENT_STOPPED,    /* STOPPING=1 */
	SV_EVENT_TIMEOUT,    /* a period missed (MISSED 1 makes it dead) */
	SV_EVENT_TRIGGER,    /* WATCHDOG=trigger */
	SV_EVENT_EXITED,     /* its process ended without STOPPING=1 (--detect-exit) */
	SV_EVENT_FAILED,     /* over its --intensity */
	SV_EVENT_UNFAILED,   /* a new --intensity window */
	SV_EVENT_SIGNAL,     /* --on-timeout sent it a signal */
	SV_EVENT_MISSING,    /* expected, and not seen within the startup grace */
	SV_EVENT_FORGOTTEN,  /* dropped from the registry (vigilctl forget) */
	SV_EVENT_UNWATCHED,  /* WATCHDOG_USEC=0: no timeout until it sets one again */
	SV_EVENT_WATCHED,    /* WATCHDOG_USEC=N after WATCHDOG_USEC=0: watched again */
	SV_EVENT_CONFLICT,   /* a second live process heartbeats for the name (claim.h) */
	SV_EVENT_RESTORED,   /* taken over from the snapshot of a previous supervisor (store.h) */
	SV_EVENT_NTYPES
};

struct sv_event {
	uint64_t time_us; /* wall clock (CLOCK_REALTIME), for people */
	enum sv_event_type type;
	char worker[VIGIL_NAME_MAX + 1];
	char state[16]; /* the worker's state right after */
	uint64_t pid;   /* 0: unknown */
	uint64_t other_pid; /* conflict: the rival; a rival's timeout: the name's own process */
	uint64_t seq;
	uint64_t missed;
	uint64_t silent_ms;
	int sig; /* SV_EVENT_SIGNAL: the signal */
};

/* A consumer of every event as it happens; it must not add events itself. */
typedef void (*events_cb)(const struct sv_event *ev, void *arg);

struct events {
	struct sv_event *ring; /* EVENTS_KEEP entries, allocated on first use */
	struct {
		events_cb cb;
		void *arg;
	} subscribers[EVENTS_MAX_SUBSCRIBERS];
	size_t nsubscribers;
	size_t next;           /* where the next one goes */
	size_t count;          /* how many are kept (at most EVENTS_KEEP) */
	uint64_t total[SV_EVENT_NTYPES]; /* ever, by type */
};

/* The event's name in logs, JSON and metrics: "registered", "timeout", ... */
const char *events_name(enum sv_event_type type);

/*
 * Keep *ev (a copy) as the newest event, count it, and hand it to every
 * subscriber in the order they subscribed.
 */
void events_add(struct events *e, const struct sv_event *ev);

/* Hand every event from now on to cb(ev, arg); -1 if EVENTS_MAX_SUBSCRIBERS are taken. */
int events_subscribe(struct events *e, events_cb cb, void *arg);

/* Stop handing events to cb with arg. */
void events_unsubscribe(struct events *e, events_cb cb, void *arg);

/* Up to cap events about worker (of type, or any if type is SV_EVENT_NTYPES), newest first. */
size_t events_find(const struct events *e, const char *worker, enum sv_event_type type,
		   const struct sv_event **out, size_t cap);

/* Forget every kept event about worker (a forgotten name leaves no history behind). */
void events_drop_worker(struct events *e, const char *worker);

/* time_us (wall clock) as RFC 3339 UTC with milliseconds: 2026-11-29T08:37:30.384Z */
void events_format_time(uint64_t time_us, char *buf, size_t cap);

/* {"time":"2026-...Z", "event":"timeout", "worker":..., "state":..., "pid":..., ...}; NULL if no memory. */
json_t *events_to_json(const struct sv_event *ev);

void events_free(struct events *e);

#endif
