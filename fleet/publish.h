/*
 * publish.h: the publisher's state, without I/O: the latest state of every
 * worker of this host as the supervisor reported it (a status snapshot, then
 * events), which of them etcd has not been told yet, and their values as
 * etcd stores them. Memory is bounded by the worker count: however long etcd
 * is away, a worker is one entry holding its latest state.
 */
#ifndef VIGIL_FLEET_PUBLISH_H
#define VIGIL_FLEET_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wire.h"

struct pub_worker {
	char name[VIGIL_NAME_MAX + 1];
	char state[16];
	uint64_t pid; /* 0: unknown */
	uint64_t
	    since_ms; /* wall clock (ms since the epoch) when this state began, as we know it */
	uint64_t missed, silent_ms, seq, timeout_ms, restarts, timeouts;
	uint64_t gen;  /* bumped at every change */
	uint64_t sent; /* gen that etcd holds (or is being sent): dirty while gen != sent */
	int forgotten; /* to be deleted from etcd, then from here */
	struct pub_worker *next; /* hash chain */
};

struct pub {
	struct pub_worker **buckets;
	size_t nbuckets;
	size_t count; /* entries, the forgotten ones included until etcd forgets them */
	uint64_t supervisor_pid;
	uint64_t events;  /* events applied */
	uint64_t ignored; /* event lines that were not JSON events (dropped) */
};

void pub_init(struct pub *p);
void pub_free(struct pub *p);

struct pub_worker *pub_find(const struct pub *p, const char *name);

/*
 * Apply the reply of `status`: every worker in it is made dirty (so that a
 * reconnection rewrites every key), workers not in it are forgotten. now_ms
 * is the wall clock. -1 with err if doc is not a status document (nothing
 * changed then).
 */
int pub_apply_status(struct pub *p, const json_t *doc, uint64_t now_ms, char *err, size_t errlen);

/*
 * Apply one line of the events stream: returns 1 if a worker changed in a
 * way etcd must learn (its state or pid, a restart, forgotten), 0 if not
 * (the line is noted, e.g. a later `timeout` report of a dead worker), -1
 * if the line is not an event (counted in ignored). "overflow" returns 2:
 * events were lost and the caller must fetch a fresh snapshot.
 */
int pub_apply_event(struct pub *p, const char *line, size_t len);

/* The value of a worker's key: compact JSON (a new string, free() it; NULL when out of memory). */
char *pub_worker_value(const struct pub_worker *w);

/*
 * Up to max dirty workers into out (those etcd does not hold the latest of),
 * each marked as being sent; their number. pub_sent() afterwards: ok=1 when
 * etcd took them (a forgotten one is then dropped here), ok=0 when not (they
 * are dirty again, unless they changed meanwhile, which keeps them dirty).
 */
size_t pub_take_dirty(struct pub *p, struct pub_worker **out, uint64_t *gens, size_t max);
void pub_sent(struct pub *p, struct pub_worker **ws, const uint64_t *gens, size_t n, int ok);

/* Make every worker dirty: etcd must be told everything again (a new lease, a reconnection). */
void pub_all_dirty(struct pub *p);

/* How many workers are dirty. */
size_t pub_dirty_count(const struct pub *p);

#endif
