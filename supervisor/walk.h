/*
 * walk.h: the registry in name order, a slice at a time, for the control
 * plane's renderers (status documents, metrics). A walk first takes the
 * workers' pointers bucket by bucket, then sorts them by name with a merge
 * sort that can stop after any comparison, then hands them out in order.
 * Each step stops at its slice's deadline, so that the event loop can
 * spread a walk over as many turns as it needs and serve heartbeats and
 * timers in between: no step holds the loop for more than a slice.
 *
 * What a walk sees while workers come and go: a worker removed before it
 * is handed out is skipped (the registry keeps its memory while a walk is
 * pinned to it, see registry_pin); a worker added after the walk began may
 * or may not be in it (it is if its bucket had not been taken yet); each
 * worker is read when it is handed out, so its fields are as of that slice.
 * Pure: no socket, no event loop; the clock is the slice's.
 */
#ifndef VIGIL_WALK_H
#define VIGIL_WALK_H

#include <stddef.h>
#include <stdint.h>

struct registry;
struct worker;

/*
 * How much one step may do: until clock() reaches deadline (monotonic
 * usec), and, for a renderer, until its output holds max_bytes (0: no cap).
 */
struct slice {
	uint64_t (*clock)(void);
	uint64_t deadline;
	size_t max_bytes;
};

/* A slice that never ends, for a rendering in one go. */
extern const struct slice slice_whole;

/* Whether the slice is used up; checks the clock once every 32 calls (cheap units of work). */
int slice_over(const struct slice *sl, unsigned *tick);

/*
 * For a renderer, before each row: whether its output (out_len bytes) has
 * reached max_bytes, or, once every 8 calls, the clock the deadline.
 */
int slice_full(const struct slice *sl, size_t out_len, unsigned *tick);

enum walk_phase { WALK_COLLECT, WALK_SORT, WALK_READY };

struct walk {
	struct registry *r;
	struct worker **a;   /* the snapshot; sorted once ready */
	struct worker **tmp; /* the merge sort's other half; freed once sorted */
	size_t n, cap;
	enum walk_phase phase;
	size_t bucket;                 /* collect: the next bucket to take */
	size_t width, lo, i, j, k;     /* sort: where the merge stopped */
	int merging;                   /* sort: lo..lo+2*width is being merged */
	size_t pos;                    /* ready: the next worker to hand out */
};

/* Begin a walk over r (pinned until walk_end); -1 if out of memory. */
int walk_start(struct walk *w, struct registry *r);

/* Collect and sort within the slice: 1 once the walk is ready, 0 if the slice ran out. */
int walk_prepare(struct walk *w, const struct slice *sl);

/* Ready: the next worker in name order, skipping removed ones; NULL at the end. */
struct worker *walk_next(struct walk *w);

/* Ready: hand the workers out again from the first. */
void walk_rewind(struct walk *w);

/* Unpin the registry and free the snapshot. */
void walk_end(struct walk *w);

#endif
