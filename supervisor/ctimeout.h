/*
 * ctimeout.h: libevent "common timeouts", one per distinct timeout duration.
 *
 * Most workers share a handful of timeouts. libevent keeps the events of a
 * common timeout in a queue ordered by insertion, with a single entry in its
 * min-heap, so re-arming a worker's timer for its full timeout (every
 * heartbeat) is an O(1) move to the queue's tail instead of a heap sift.
 * libevent allows at most 256 of them per base; durations beyond that (or any
 * other remainder) use the heap, with the same result.
 */
#ifndef VIGIL_CTIMEOUT_H
#define VIGIL_CTIMEOUT_H

#include <stdint.h>

struct event_base;
struct timeval;

#define CTIMEOUT_MAX 256  /* libevent's MAX_COMMON_TIMEOUTS */
#define CTIMEOUT_SLOTS 512 /* open addressing, at most half full */

struct ctimeout_table {
	struct event_base *base;
	unsigned count;
	struct {
		uint64_t usec; /* 0: empty slot */
		const struct timeval *tv;
	} slot[CTIMEOUT_SLOTS];
};

void ctimeout_init(struct ctimeout_table *t, struct event_base *base);

/*
 * The timeval to give event_add() for a delay of usec (> 0) through a common
 * timeout, made on first use; NULL when the table is full or libevent
 * refuses, and then the caller passes an ordinary timeval.
 */
const struct timeval *ctimeout_get(struct ctimeout_table *t, uint64_t usec);

#endif
