/*
 * walk.c: the registry in name order, in slices. See walk.h.
 */
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "walk.h"

#define SLICE_CHECK_EVERY 32 /* units of work between two clock reads */
#define SLICE_ROWS_PER_CHECK 8 /* rows of output between two clock reads */

static uint64_t
slice_no_clock(void)
{
	return 0;
}

const struct slice slice_whole = {.clock = slice_no_clock, .deadline = UINT64_MAX};

int
slice_over(const struct slice *sl, unsigned *tick)
{
	if (++*tick % SLICE_CHECK_EVERY != 0)
		return 0;
	return sl->clock() >= sl->deadline;
}

int
slice_full(const struct slice *sl, size_t out_len, unsigned *tick)
{
	if (sl->max_bytes != 0 && out_len >= sl->max_bytes)
		return 1;
	return ++*tick % SLICE_ROWS_PER_CHECK == 0 && sl->clock() >= sl->deadline;
}

int
walk_start(struct walk *w, struct registry *r)
{
	memset(w, 0, sizeof(*w));
	w->r = r;
	w->cap = r->count;
	if (w->cap > 0) {
		w->a = malloc(w->cap * sizeof(*w->a));
		w->tmp = malloc(w->cap * sizeof(*w->tmp));
		if (w->a == NULL || w->tmp == NULL) {
			free(w->a);
			free(w->tmp);
			w->a = w->tmp = NULL;
			return -1;
		}
	}
	w->width = 1;
	registry_pin(r);
	return 0;
}

/* Take the workers of the next buckets into the snapshot; 1 when every bucket is taken. */
static int
walk_collect(struct walk *w, const struct slice *sl, unsigned *tick)
{
	const struct registry *r = w->r;

	while (w->bucket < r->nbuckets) {
		if (slice_over(sl, tick))
			return 0;
		for (struct worker *x = r->buckets[w->bucket]; x != NULL && w->n < w->cap; x = x->next)
			w->a[w->n++] = x;
		w->bucket++;
	}
	return 1;
}

/*
 * Bottom-up merge sort of a[0..n) by name, from a to tmp and back, one
 * comparison at a time: (width, lo, i, j, k) is where it stands, so that it
 * can stop at any comparison and go on at the next step. 1 when sorted
 * (into a).
 */
static int
walk_sort(struct walk *w, const struct slice *sl, unsigned *tick)
{
	size_t n = w->n;

	while (w->width < n) {
		/* Passes alternate direction: a -> tmp on odd ones, tmp -> a on even. */
		struct worker **src = w->a, **dst = w->tmp;
		while (w->lo < n) {
			size_t mid = w->lo + w->width < n ? w->lo + w->width : n;
			size_t hi = w->lo + 2 * w->width < n ? w->lo + 2 * w->width : n;
			if (!w->merging) {
				w->i = w->lo;
				w->j = mid;
				w->k = w->lo;
				w->merging = 1;
			}
			while (w->i < mid && w->j < hi) {
				if (slice_over(sl, tick))
					return 0;
				if (strcmp(src[w->i]->name, src[w->j]->name) <= 0)
					dst[w->k++] = src[w->i++];
				else
					dst[w->k++] = src[w->j++];
			}
			memcpy(&dst[w->k], &src[w->i], (mid - w->i) * sizeof(*dst));
			w->k += mid - w->i;
			memcpy(&dst[w->k], &src[w->j], (hi - w->j) * sizeof(*dst));
			w->merging = 0;
			w->lo = hi;
		}
		w->a = dst;
		w->tmp = src;
		w->lo = 0;
		w->width *= 2;
	}
	return 1;
}

int
walk_prepare(struct walk *w, const struct slice *sl)
{
	unsigned tick = 0;

	if (w->phase == WALK_COLLECT) {
		if (!walk_collect(w, sl, &tick))
			return 0;
		w->phase = WALK_SORT;
	}
	if (w->phase == WALK_SORT) {
		if (!walk_sort(w, sl, &tick))
			return 0;
		free(w->tmp);
		w->tmp = NULL;
		w->phase = WALK_READY;
	}
	return 1;
}

struct worker *
walk_next(struct walk *w)
{
	while (w->phase == WALK_READY && w->pos < w->n) {
		struct worker *x = w->a[w->pos++];
		if (!x->removed)
			return x;
	}
	return NULL;
}

void
walk_rewind(struct walk *w)
{
	w->pos = 0;
}

void
walk_end(struct walk *w)
{
	if (w->r != NULL)
		registry_unpin(w->r);
	free(w->a);
	free(w->tmp);
	memset(w, 0, sizeof(*w));
}
