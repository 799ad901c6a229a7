/*
 * events.c: the event vocabulary and the ring of recent events. See events.h.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "policy.h"

static const char *const events_names[SV_EVENT_NTYPES] = {
    [SV_EVENT_REGISTERED] = "registered", [SV_EVENT_RECOVERED] = "recovered",
    [SV_EVENT_RESTARTED] = "restarted",   [SV_EVENT_RESUMED] = "resumed",
    [SV_EVENT_STOPPED] = "stopped",       [SV_EVENT_TIMEOUT] = "timeout",
    [SV_EVENT_TRIGGER] = "trigger",       [SV_EVENT_EXITED] = "exited",
    [SV_EVENT_FAILED] = "failed",         [SV_EVENT_UNFAILED] = "unfailed",
    [SV_EVENT_SIGNAL] = "signal",         [SV_EVENT_MISSING] = "missing",
    [SV_EVENT_FORGOTTEN] = "forgotten",   [SV_EVENT_UNWATCHED] = "unwatched",
    [SV_EVENT_WATCHED] = "watched",       [SV_EVENT_CONFLICT] = "conflict",
    [SV_EVENT_RESTORED] = "restored",
};

const char *
events_name(enum sv_event_type type)
{
	return (unsigned)type < SV_EVENT_NTYPES ? events_names[type] : "unknown";
}

void
events_add(struct events *e, const struct sv_event *ev)
{
	if ((unsigned)ev->type < SV_EVENT_NTYPES)
		e->total[ev->type]++;
	if (e->ring != NULL || (e->ring = calloc(EVENTS_KEEP, sizeof(*e->ring))) != NULL) {
		e->ring[e->next] = *ev;
		e->next = (e->next + 1) % EVENTS_KEEP;
		if (e->count < EVENTS_KEEP)
			e->count++;
	}
	for (size_t i = 0; i < e->nsubscribers; i++)
		e->subscribers[i].cb(ev, e->subscribers[i].arg);
}

int
events_subscribe(struct events *e, events_cb cb, void *arg)
{
	if (e->nsubscribers >= EVENTS_MAX_SUBSCRIBERS)
		return -1;
	e->subscribers[e->nsubscribers].cb = cb;
	e->subscribers[e->nsubscribers].arg = arg;
	e->nsubscribers++;
	return 0;
}

void
events_unsubscribe(struct events *e, events_cb cb, void *arg)
{
	for (size_t i = 0; i < e->nsubscribers; i++) {
		if (e->subscribers[i].cb == cb && e->subscribers[i].arg == arg) {
			memmove(&e->subscribers[i], &e->subscribers[i + 1],
				(e->nsubscribers - i - 1) * sizeof(e->subscribers[0]));
			e->nsubscribers--;
			return;
		}
	}
}

size_t
events_find(const struct events *e, const char *worker, enum sv_event_type type,
	    const struct sv_event **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < e->count && n < cap; i++) {
		const struct sv_event *ev = &e->ring[(e->next + EVENTS_KEEP - 1 - i) % EVENTS_KEEP];
		if (strcmp(ev->worker, worker) == 0 && (type == SV_EVENT_NTYPES || ev->type == type))
			out[n++] = ev;
	}
	return n;
}

void
events_drop_worker(struct events *e, const char *worker)
{
	/* Compact the ring oldest to newest, keeping the others in order. */
	size_t kept = 0, first = (e->next + EVENTS_KEEP - e->count) % EVENTS_KEEP;

	for (size_t i = 0; i < e->count; i++) {
		const struct sv_event *ev = &e->ring[(first + i) % EVENTS_KEEP];
		if (strcmp(ev->worker, worker) != 0)
			e->ring[(first + kept++) % EVENTS_KEEP] = *ev;
	}
	e->count = kept;
	e->next = (first + kept) % EVENTS_KEEP;
}

void
events_format_time(uint64_t time_us, char *buf, size_t cap)
{
	time_t t = (time_t)(time_us / 1000000);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03uZ", s, (unsigned)(time_us % 1000000 / 1000));
}

/* A JSON integer, capped at 2^63 - 1 like every number vigil reports. */
static json_t *
events_uint(uint64_t v)
{
	return json_integer((json_int_t)(v > VIGIL_WIRE_NUM_MAX ? VIGIL_WIRE_NUM_MAX : v));
}

json_t *
events_to_json(const struct sv_event *ev)
{
	char when[40];

	events_format_time(ev->time_us, when, sizeof(when));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", when, "event", events_name(ev->type),
			      "worker", ev->worker, "state", ev->state);

	if (o == NULL)
		return NULL;
	if (ev->pid != 0)
		json_object_set_new(o, "pid", events_uint(ev->pid));
	if (ev->other_pid != 0)
		json_object_set_new(o, "other_pid", events_uint(ev->other_pid));
	json_object_set_new(o, "seq", events_uint(ev->seq));
	if (ev->type == SV_EVENT_TIMEOUT || ev->type == SV_EVENT_SIGNAL) {
		json_object_set_new(o, "missed", events_uint(ev->missed));
		json_object_set_new(o, "silent_ms", events_uint(ev->silent_ms));
	}
	if (ev->type == SV_EVENT_SIGNAL)
		json_object_set_new(o, "signal", json_string(policy_signal_name(ev->sig)));
	return o;
}

void
events_free(struct events *e)
{
	free(e->ring);
	memset(e, 0, sizeof(*e));
}
