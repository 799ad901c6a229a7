/*
 * ctimeout.c: common timeouts by duration. See ctimeout.h.
 */
#include <string.h>
#include <sys/time.h>

#include <event2/event.h>

#include "ctimeout.h"

void
ctimeout_init(struct ctimeout_table *t, struct event_base *base)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
}

const struct timeval *
ctimeout_get(struct ctimeout_table *t, uint64_t usec)
{
	/* Fibonacci hashing: durations are round numbers, the high bits mix them. */
	size_t i = (size_t)((usec * 11400714819323198485ULL) >> 55) & (CTIMEOUT_SLOTS - 1);

	if (usec == 0)
		return NULL;
	for (;; i = (i + 1) & (CTIMEOUT_SLOTS - 1)) {
		if (t->slot[i].usec == usec)
			return t->slot[i].tv;
		if (t->slot[i].usec == 0)
			break;
	}
	if (t->count >= CTIMEOUT_MAX)
		return NULL;
	struct timeval tv = {.tv_sec = (time_t)(usec / 1000000),
			     .tv_usec = (suseconds_t)(usec % 1000000)};
	const struct timeval *ctv = event_base_init_common_timeout(t->base, &tv);
	if (ctv == NULL)
		return NULL;
	t->slot[i].usec = usec;
	t->slot[i].tv = ctv;
	t->count++;
	return ctv;
}
