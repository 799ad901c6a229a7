/*
 * test_events.c: the event vocabulary, the ring of recent events and their
 * JSON (what `vigilctl events --json` prints and status NAME's history).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "events.h"

static struct sv_event
ev(enum sv_event_type type, const char *worker, uint64_t seq)
{
	struct sv_event e = {.type = type, .seq = seq, .pid = 42, .time_us = 1795941450384123ULL};

	strcpy(e.worker, worker);
	strcpy(e.state, "alive");
	return e;
}

Test(events, names_are_stable_and_distinct)
{
	cr_expect_str_eq(events_name(SV_EVENT_REGISTERED), "registered");
	cr_expect_str_eq(events_name(SV_EVENT_TIMEOUT), "timeout");
	cr_expect_str_eq(events_name(SV_EVENT_RESTARTED), "restarted");
	cr_expect_str_eq(events_name(SV_EVENT_FORGOTTEN), "forgotten");
	cr_expect_str_eq(events_name(SV_EVENT_NTYPES), "unknown");
	for (int i = 0; i < SV_EVENT_NTYPES; i++)
		for (int j = i + 1; j < SV_EVENT_NTYPES; j++)
			cr_expect_str_neq(events_name(i), events_name(j));
}

Test(events, the_ring_keeps_the_newest_and_finds_them_newest_first)
{
	struct events e = {0};
	const struct sv_event *found[8];

	for (uint64_t i = 1; i <= EVENTS_KEEP + 10; i++) {
		struct sv_event x = ev(i % 2 ? SV_EVENT_TIMEOUT : SV_EVENT_RECOVERED,
				       i % 3 ? "a" : "b", i);
		events_add(&e, &x);
	}
	cr_expect_eq(e.count, EVENTS_KEEP);
	cr_expect_eq(e.total[SV_EVENT_TIMEOUT] + e.total[SV_EVENT_RECOVERED], EVENTS_KEEP + 10,
		     "totals count every event, kept or not");
	size_t n = events_find(&e, "a", SV_EVENT_TIMEOUT, found, 8);
	cr_assert_eq(n, 8);
	for (size_t i = 0; i < n; i++) {
		cr_expect_str_eq(found[i]->worker, "a");
		cr_expect_eq(found[i]->type, SV_EVENT_TIMEOUT);
		if (i > 0)
			cr_expect_lt(found[i]->seq, found[i - 1]->seq, "newest first");
	}
	/* The newest a-timeout: the largest odd seq not divisible by 3, <= KEEP + 10. */
	uint64_t want = EVENTS_KEEP + 10;
	while (want % 2 == 0 || want % 3 == 0)
		want--;
	cr_expect_eq(found[0]->seq, want);
	cr_expect_eq(events_find(&e, "nobody", SV_EVENT_NTYPES, found, 8), 0);
	events_free(&e);
}

Test(events, dropping_a_worker_keeps_the_others_in_order)
{
	struct events e = {0};
	const struct sv_event *found[EVENTS_KEEP];

	/* Wrapped around, so that the compaction crosses the ring's end. */
	for (uint64_t i = 1; i <= EVENTS_KEEP + 100; i++) {
		struct sv_event x = ev(SV_EVENT_TIMEOUT, i % 4 == 0 ? "gone" : "kept", i);
		events_add(&e, &x);
	}
	events_drop_worker(&e, "gone");
	cr_expect_eq(events_find(&e, "gone", SV_EVENT_NTYPES, found, EVENTS_KEEP), 0);
	size_t n = events_find(&e, "kept", SV_EVENT_NTYPES, found, EVENTS_KEEP);
	cr_expect_eq(n, e.count);
	cr_expect_eq(n, EVENTS_KEEP * 3 / 4, "the kept ones, all of them");
	cr_expect_eq(found[0]->seq, EVENTS_KEEP + 99);
	for (size_t i = 1; i < n; i++)
		cr_expect_lt(found[i]->seq, found[i - 1]->seq);
	/* New events still go after the survivors. */
	struct sv_event x = ev(SV_EVENT_STOPPED, "kept", 99999);
	events_add(&e, &x);
	cr_expect_eq(events_find(&e, "kept", SV_EVENT_NTYPES, found, 1), 1);
	cr_expect_eq(found[0]->seq, 99999);
	events_free(&e);
}

Test(events, json_says_what_happened_with_an_rfc3339_time)
{
	struct sv_event x = ev(SV_EVENT_TIMEOUT, "web-1", 10);
	char text[512];

	x.missed = 2;
	x.silent_ms = 1000;
	strcpy(x.state, "dead");
	json_t *o = events_to_json(&x);
	cr_assert_not_null(o);
	size_t n = json_dumpb(o, text, sizeof(text) - 1, JSON_COMPACT | JSON_PRESERVE_ORDER);
	text[n] = '\0';
	cr_expect_str_eq(text, "{\"time\":\"2026-11-29T08:37:30.384Z\",\"event\":\"timeout\","
			       "\"worker\":\"web-1\",\"state\":\"dead\",\"pid\":42,\"seq\":10,"
			       "\"missed\":2,\"silent_ms\":1000}");
	json_decref(o);

	/* Only a timeout or a signal says MISSED; an unknown pid is left out. */
	x = ev(SV_EVENT_REGISTERED, "w", UINT64_MAX);
	x.pid = 0;
	o = events_to_json(&x);
	cr_expect_null(json_object_get(o, "missed"));
	cr_expect_null(json_object_get(o, "pid"));
	cr_expect_eq(json_integer_value(json_object_get(o, "seq")), INT64_MAX, "capped at 2^63-1");
	json_decref(o);
}

struct seen {
	int n;
	uint64_t last_seq;
	size_t kept_when_seen; /* the ring's count when the subscriber was called */
	const struct events *e;
};

static void
seen_cb(const struct sv_event *x, void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->last_seq = x->seq;
	s->kept_when_seen = s->e->count;
}

Test(events, subscribers_get_every_event_after_it_is_kept_until_they_leave)
{
	struct events e = {0};
	struct seen a = {.e = &e}, b = {.e = &e};
	struct sv_event x = ev(SV_EVENT_TIMEOUT, "w", 1);

	cr_assert_eq(events_subscribe(&e, seen_cb, &a), 0);
	events_add(&e, &x);
	cr_assert_eq(events_subscribe(&e, seen_cb, &b), 0);
	x.seq = 2;
	events_add(&e, &x);
	cr_expect_eq(a.n, 2, "a saw every event since it subscribed");
	cr_expect_eq(b.n, 1, "b only those after it subscribed");
	cr_expect_eq(a.last_seq, 2);
	cr_expect_eq(a.kept_when_seen, 2, "an event is in the history before anyone sees it");
	events_unsubscribe(&e, seen_cb, &a);
	x.seq = 3;
	events_add(&e, &x);
	cr_expect_eq(a.n, 2, "a left");
	cr_expect_eq(b.n, 2);
	cr_expect_eq(b.last_seq, 3);
	/* The table is bounded: a fifth subscriber is refused, not overflowing it. */
	struct seen more[EVENTS_MAX_SUBSCRIBERS];
	size_t ok = 0;
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
		ok += events_subscribe(&e, seen_cb, &more[i]) == 0;
	cr_expect_eq(ok, EVENTS_MAX_SUBSCRIBERS - 1, "b holds one of the slots");
	events_free(&e);
}
