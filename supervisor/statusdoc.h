/*
 * statusdoc.h: the status document, the reply to the control socket's
 * "status" and the body of GET /status:
 *
 *   {"workers":[{row},...],"supervisor":{"pid":...,...}}\n
 *
 * rows in name order (common/status.h's field table), then the
 * supervisor's own fields (one table here, one line per key). A pure
 * renderer, produced a slice at a time (walk.h): a client sees each row as
 * it was when its slice was rendered, and the supervisor's part as it was
 * at the end; a worker forgotten meanwhile is left out, one registered
 * meanwhile may or may not be in it.
 */
#ifndef VIGIL_STATUSDOC_H
#define VIGIL_STATUSDOC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "counters.h"
#include "walk.h"

struct evbuffer;
struct registry;

/* What the supervisor's part shows, gathered by the caller at each step. */
struct statusdoc_input {
	uint64_t now;     /* monotonic usec: the clock of the workers' times */
	uint64_t started; /* monotonic usec */
	uint64_t pid;
	const char *version;
	uint64_t timeout; /* --timeout, usec; 0: per worker */
	uint64_t workers, max_workers;
	struct supervisor_counters counters;
	uint64_t hooks_started, hooks_refused, hooks_killed;
};

enum statusdoc_phase { STATUSDOC_HEAD, STATUSDOC_ROWS, STATUSDOC_TAIL, STATUSDOC_DONE };

struct statusdoc {
	struct walk walk;
	enum statusdoc_phase phase;
	size_t rows; /* written so far */
};

/* Begin a document over r; -1 if out of memory. */
int statusdoc_start(struct statusdoc *d, struct registry *r);

/*
 * Append the next part of the document to out, within the slice: 1 once
 * it is complete (its last byte a '\n'), 0 if there is more, -1 if memory
 * ran out (out then holds part of it: the caller drops the reply).
 */
int statusdoc_step(struct statusdoc *d, const struct statusdoc_input *in, struct evbuffer *out,
		   const struct slice *sl);

void statusdoc_end(struct statusdoc *d);

/* The supervisor's part alone, as a JSON object (a new reference; NULL: no memory). */
json_t *statusdoc_supervisor(const struct statusdoc_input *in);

#endif
