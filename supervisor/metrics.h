/*
 * metrics.h: the supervisor's state in the Prometheus text exposition
 * format (version 0.0.4), for GET /metrics (http.c). A pure renderer: it
 * reads the registry and the counters it is given and appends text to an
 * evbuffer; it owns no socket and reads no clock. docs/METRICS.md lists
 * every metric.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "walk.h"

struct evbuffer;
struct registry;
struct supervisor_counters;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Everything a rendering shows but the workers, gathered by the caller at each step. */
struct metrics_input {
	const struct supervisor_counters *counters;
	const uint64_t *events; /* SV_EVENT_NTYPES totals, by event type (events.h); NULL: none */
	uint64_t hooks_started, hooks_refused, hooks_killed;
	size_t max_workers;
	size_t http_connections; /* open now, the one asking included */
	uint64_t now;            /* monotonic usec: the clock of the workers' times */
	uint64_t start_time;     /* when the supervisor started, usec since the epoch */
	const char *version;
};

#define METRICS_NSTATES_MAX 9 /* the states vigil_workers counts */

/* A rendering in progress, a slice at a time (walk.h says what it sees). */
struct metrics_doc {
	struct walk walk;
	int counted;        /* the first pass, counting states, is done */
	unsigned family;    /* the per-worker metric being written */
	int started_family; /* its header is written */
	uint64_t by_state[METRICS_NSTATES_MAX];
};

/* Begin a rendering of r's workers; -1 if out of memory. */
int metrics_start(struct metrics_doc *d, struct registry *r);

/*
 * Append the next part of the exposition to out, within the slice: 1 once
 * it is complete, 0 if there is more, -1 if memory ran out.
 */
int metrics_step(struct metrics_doc *d, const struct metrics_input *in, struct evbuffer *out,
		 const struct slice *sl);

void metrics_end(struct metrics_doc *d);

/*
 * The whole exposition of r's workers and in, in one go (tests, small
 * registries); -1 if memory ran out (out then holds part of it).
 */
int metrics_render(const struct metrics_input *in, struct registry *r, struct evbuffer *out);

/*
 * Escape in for a label value: backslash, double quote and newline become
 * \\, \" and \n. Writes at most cap bytes with a NUL (cut short if need be)
 * and returns the length the whole escaped text has, like snprintf.
 */
size_t metrics_escape_label(const char *in, char *out, size_t cap);

/*
 * Write usec as decimal seconds, exact and without trailing zeros
 * ("0.6", "3", "0.000001") into out (cap bytes); returns out.
 */
char *metrics_seconds(uint64_t usec, char *out, size_t cap);

#endif
