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

struct evbuffer;
struct registry;
struct supervisor_counters;

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Everything a rendering shows, gathered by the caller. */
struct metrics_input {
	const struct registry *registry;
	const struct supervisor_counters *counters;
	const uint64_t *events; /* SV_EVENT_NTYPES totals, by event type (events.h); NULL: none */
	uint64_t hooks_started, hooks_refused, hooks_killed;
	size_t max_workers;
	size_t http_connections; /* open now, the one asking included */
	uint64_t now;            /* monotonic usec: the clock of the workers' times */
	uint64_t start_time;     /* when the supervisor started, usec since the epoch */
	const char *version;
};

/*
 * Append the exposition of in to out, workers sorted by name; -1 if memory
 * ran out (out then holds part of it).
 */
int metrics_render(const struct metrics_input *in, struct evbuffer *out);

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
