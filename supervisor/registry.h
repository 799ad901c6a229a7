/*
 * registry.h: the supervisor's table of workers, found by name through a
 * hash table with a fixed bucket array sized from the worker limit. A worker
 * struct is allocated once, when its name first heartbeats, and owns its
 * timer event; nothing on the heartbeat path allocates.
 */
#ifndef VIGIL_REGISTRY_H
#define VIGIL_REGISTRY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "state.h"
#include "status.h"
#include "wire.h"

struct event;

struct worker {
	struct worker *next; /* hash chain */
	struct worker_core core;
	struct event *timer; /* owned; freed with the worker */
	void *ctx;           /* what the timer callback needs (the supervisor) */
	struct sockaddr_un addr; /* where TIMEOUT goes: the heartbeats' source */
	socklen_t addrlen;       /* 0: the sender had no address */
	uid_t owner;             /* the uid that registered the name: only it may speak for it */
	char status[VIGIL_STATUS_TEXT_MAX + 1];
	char name[VIGIL_NAME_MAX + 1];
};

struct registry {
	struct worker **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	size_t max;
};

/* Prepare an empty registry for at most max workers; -1 if out of memory. */
int registry_init(struct registry *r, size_t max);

/* Free every worker (and its timer) and the table. */
void registry_free(struct registry *r);

/* The worker called name (len bytes), or NULL. */
struct worker *registry_find(const struct registry *r, const char *name, size_t len);

/*
 * Add a new worker called name (which must not exist yet), zeroed, with no
 * timer. Returns NULL if the registry is full (errno ENOSPC) or memory ran
 * out (ENOMEM).
 */
struct worker *registry_add(struct registry *r, const char *name, size_t len);

/* Remove w and free it with its timer. */
void registry_remove(struct registry *r, struct worker *w);

/*
 * Fill out[] with up to cap workers sorted by name; returns how many. Not
 * for the heartbeat path.
 */
size_t registry_list(const struct registry *r, struct worker **out, size_t cap);

/* Fill a status row for w as seen at time now. */
void registry_row(const struct worker *w, uint64_t now, struct vigil_status_row *row);

#endif
