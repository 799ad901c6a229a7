/*
 * test_snapshot.c: the registry snapshot's format (snapshot.h): what goes
 * in comes out, and damaged, truncated, foreign or crafted bytes are
 * refused or loaded, never a crash.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <criterion/criterion.h>

#include "snapshot.h"

static struct registry reg;
static struct snapshot_buf snap;

static void
setup(void)
{
	cr_assert_eq(registry_init(&reg, 16), 0);
}

static void
teardown(void)
{
	registry_free(&reg);
	snapshot_buf_free(&snap);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

static struct worker *
add(const char *name, enum worker_state state)
{
	struct worker *w = registry_add(&reg, name, strlen(name));
	cr_assert_not_null(w);
	w->core.state = state;
	return w;
}

/* The registry and the events ring as a snapshot, into snap. */
static void
encode(const struct events *ev)
{
	struct snapshot_head h = {.socket = "/run/test.sock", .socket_len = 14,
				  .boot_id = "0b1f6e0c-aaaa-bbbb-cccc-000000000001",
				  .written_mono = 5000000, .written_wall = 1700000000000000,
				  .generation = 7};
	struct worker *list[16];

	h.counters.datagrams = 1234;
	h.counters.invalid[VIGIL_WIRE_BAD_VALUE] = 3;
	h.counters.ignored_lines = 9;
	h.counters.seq_resets = 5;
	h.counters.signals_sent = 2;
	h.event_totals[SV_EVENT_TIMEOUT] = 4;
	snapshot_begin(&snap, &h);
	size_t n = registry_list(&reg, list, 16);
	for (size_t i = 0; i < n; i++) {
		struct snapshot_worker sw;
		if (snapshot_worker_of(list[i], &sw))
			snapshot_add_worker(&snap, &sw);
	}
	for (size_t i = 0; ev != NULL && i < ev->count; i++)
		snapshot_add_event(&snap, &ev->ring[i]);
	cr_assert_eq(snapshot_finish(&snap), 0);
}

/* Decoded workers, applied to a second registry, and events. */
static struct registry out;
static struct events out_events;

static void
sink_worker(const struct snapshot_worker *sw, void *arg)
{
	(void)arg;
	struct worker *w = registry_add(&out, sw->name, sw->name_len);
	cr_assert_not_null(w);
	cr_assert_eq(snapshot_worker_apply(sw, w), 0);
}

static void
sink_event(const struct sv_event *ev, void *arg)
{
	(void)arg;
	events_add(&out_events, ev);
}

static const struct snapshot_sink sink = {NULL, sink_worker, sink_event, NULL};

static long
decode(const void *buf, size_t len, struct snapshot_head *h, char *err, size_t errlen)
{
	registry_free(&out);
	events_free(&out_events);
	cr_assert_eq(registry_init(&out, 16), 0);
	return snapshot_decode(buf, len, h, &sink, err, errlen);
}

Test(snapshot, round_trip)
{
	struct worker *a = add("web-1", WORKER_ALIVE);
	struct worker *d = add("db@2:x", WORKER_DEAD);
	add("never", WORKER_NEW); /* not worth keeping */
	struct sockaddr_un sun = {.sun_family = AF_UNIX, .sun_path = "/run/vigil/workers/web-1.sock"};
	struct events ev = {0};
	struct sv_event e = {.time_us = 42, .type = SV_EVENT_TIMEOUT, .worker = "db@2:x",
			     .state = "dead", .pid = 99, .seq = 5, .missed = 1, .silent_ms = 1500,
			     .other_pid = 31337};

	a->core.pid = 4242;
	a->pid_vouched = 1;
	a->start_time = 987654;
	a->owner = 1001;
	a->core.last_seq = 77;
	a->core.heartbeats = 78;
	a->core.restarts = 1;
	a->core.last_hb = 4000000;
	a->core.timeout = 1000000;
	a->core.interval = 200000;
	a->core.due = 5000000;
	a->watchdog_usec = 1000000;
	a->incidents.start = 3000000;
	a->incidents.n = 2;
	for (uint32_t i = 1; i <= 6; i++)
		registry_note_interval(a, i * 1000); /* the ring wraps: 3000..6000 kept */
	cr_assert_eq(registry_set_addr(a, &sun, sizeof(sun)), 0);
	cr_assert_eq(registry_set_status(a, "serving", 7), 0);
	d->core.timeouts = 3;
	d->core.missed = 3;
	d->core.failed = 1;
	events_add(&ev, &e);
	encode(&ev);

	struct snapshot_head h;
	char err[256] = "";
	cr_assert_eq(decode(snap.data, snap.len, &h, err, sizeof(err)), 2, "%s", err);
	cr_expect_eq(h.socket_len, 14);
	cr_expect_eq(memcmp(h.socket, "/run/test.sock", 14), 0);
	cr_expect_str_eq(h.boot_id, "0b1f6e0c-aaaa-bbbb-cccc-000000000001");
	cr_expect_eq(h.written_mono, 5000000);
	cr_expect_eq(h.generation, 7);
	cr_expect_eq(h.counters.datagrams, 1234);
	cr_expect_eq(h.counters.invalid[VIGIL_WIRE_BAD_VALUE], 3);
	cr_expect_eq(h.counters.ignored_lines, 9);
	cr_expect_eq(h.counters.seq_resets, 5);
	cr_expect_eq(h.counters.signals_sent, 2);
	cr_expect_eq(h.event_totals[SV_EVENT_TIMEOUT], 4);

	struct worker *a2 = registry_find(&out, "web-1", 5), *d2 = registry_find(&out, "db@2:x", 6);
	cr_assert_not_null(a2);
	cr_assert_not_null(d2);
	cr_expect_null(registry_find(&out, "never", 5));
	cr_expect_eq(a2->core.state, WORKER_ALIVE);
	cr_expect_eq(a2->core.pid, 4242);
	cr_expect_eq(a2->pid_vouched, 1);
	cr_expect_eq(a2->start_time, 987654);
	cr_expect_eq(a2->owner, 1001);
	cr_expect_eq(a2->core.last_seq, 77);
	cr_expect_eq(a2->core.heartbeats, 78);
	cr_expect_eq(a2->core.restarts, 1);
	cr_expect_eq(a2->core.last_hb, 4000000);
	cr_expect_eq(a2->core.timeout, 1000000);
	cr_expect_eq(a2->core.interval, 200000);
	cr_expect_eq(a2->core.due, 5000000);
	cr_expect_eq(a2->watchdog_usec, 1000000);
	cr_expect_eq(a2->incidents.start, 3000000);
	cr_expect_eq(a2->incidents.n, 2);
	uint64_t mn, mean, mx;
	cr_expect_eq(registry_intervals(a2, &mn, &mean, &mx), 4);
	cr_expect_eq(mn, 3000);
	cr_expect_eq(mx, 6000);
	cr_assert_not_null(a2->addr);
	cr_expect_eq(a2->addrlen, sizeof(sun));
	cr_expect_str_eq(a2->addr->sun_path, "/run/vigil/workers/web-1.sock");
	cr_expect_str_eq(a2->status, "serving");
	cr_expect_eq(d2->core.state, WORKER_DEAD);
	cr_expect_eq(d2->core.timeouts, 3);
	cr_expect_eq(d2->core.failed, 1);
	cr_expect_null(d2->addr);
	cr_expect_null(d2->status);
	cr_assert_eq(out_events.count, 1);
	cr_expect_eq(out_events.ring[0].type, SV_EVENT_TIMEOUT);
	cr_expect_str_eq(out_events.ring[0].worker, "db@2:x");
	cr_expect_str_eq(out_events.ring[0].state, "dead");
	cr_expect_eq(out_events.ring[0].silent_ms, 1500);
	cr_expect_eq(out_events.ring[0].other_pid, 31337, "the rival's pid was lost");
	events_free(&ev);
	registry_free(&out);
	events_free(&out_events);
}

/* A snapshot of a few workers, for the damage tests. */
static void
sample(void)
{
	struct events ev = {0};
	struct sv_event e = {.time_us = 1, .type = SV_EVENT_RESTARTED, .worker = "a"};
	const char *names[] = {"a", "b", "c"};

	for (int i = 0; i < 3; i++) {
		struct worker *w = add(names[i], i == 1 ? WORKER_DEAD : WORKER_ALIVE);
		w->core.pid = 100 + (uint64_t)i;
		w->core.timeout = 1000000;
		w->core.timeouts = (uint64_t)i;
		cr_assert_eq(registry_set_status(w, "ok", 2), 0);
	}
	events_add(&ev, &e);
	encode(&ev);
	events_free(&ev);
}

/* Every state a worker can be kept in comes back as itself (states are coded, not enum values). */
Test(snapshot, every_kept_state_round_trips)
{
	static const enum worker_state states[] = {WORKER_ALIVE, WORKER_DEAD, WORKER_STOPPED,
						   WORKER_EXITED, WORKER_MISSING, WORKER_UNWATCHED};
	struct snapshot_head h;
	char err[256] = "", name[16];

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		snprintf(name, sizeof(name), "s-%zu", i);
		add(name, states[i]);
	}
	encode(NULL);
	cr_assert_eq(decode(snap.data, snap.len, &h, err, sizeof(err)),
		     (long)(sizeof(states) / sizeof(states[0])), "%s", err);
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		snprintf(name, sizeof(name), "s-%zu", i);
		struct worker *w = registry_find(&out, name, strlen(name));
		cr_assert_not_null(w, "%s", name);
		cr_expect_eq(w->core.state, states[i], "%s: state %d", name, (int)w->core.state);
	}
	registry_free(&out);
	events_free(&out_events);
}

Test(snapshot, truncated_at_every_offset_is_refused)
{
	struct snapshot_head h;
	char err[256];

	sample();
	for (size_t n = 0; n < snap.len; n++) {
		err[0] = '\0';
		cr_expect_eq(decode(snap.data, n, &h, err, sizeof(err)), -1, "truncated at %zu", n);
		cr_expect_neq(err[0], '\0', "truncated at %zu: no reason given", n);
		cr_expect_eq(out.count, 0, "truncated at %zu: workers loaded from a refused snapshot", n);
	}
	registry_free(&out);
	events_free(&out_events);
}

Test(snapshot, every_flipped_byte_is_refused)
{
	struct snapshot_head h;
	char err[256];

	sample();
	for (size_t i = 0; i < snap.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			snap.data[i] ^= (unsigned char)(1u << bit);
			cr_expect_eq(decode(snap.data, snap.len, &h, err, sizeof(err)), -1,
				     "byte %zu bit %d flipped", i, bit);
			cr_expect_eq(out.count, 0);
			snap.data[i] ^= (unsigned char)(1u << bit);
		}
	}
	cr_expect_eq(decode(snap.data, snap.len, &h, err, sizeof(err)), 3, "%s", err);
	registry_free(&out);
	events_free(&out_events);
}

/* Rewrite the header's sizes and checksums after the body was changed (a crafted snapshot). */
static void
reseal(unsigned char *p, size_t len)
{
	uint64_t body = len - SNAPSHOT_HEADER;
	for (int i = 0; i < 8; i++)
		p[16 + i] = (unsigned char)(body >> (8 * i));
	uint32_t c = snapshot_crc32c(0, p + SNAPSHOT_HEADER, body);
	for (int i = 0; i < 4; i++)
		p[24 + i] = (unsigned char)(c >> (8 * i));
	c = snapshot_crc32c(0, p, 28);
	for (int i = 0; i < 4; i++)
		p[28 + i] = (unsigned char)(c >> (8 * i));
}

Test(snapshot, random_damage_behind_a_valid_checksum_never_crashes)
{
	struct snapshot_head h;
	char err[256];
	unsigned char *copy;
	unsigned seed = 1;

	sample();
	copy = malloc(snap.len);
	cr_assert_not_null(copy);
	for (int round = 0; round < 20000; round++) {
		memcpy(copy, snap.data, snap.len);
		int flips = 1 + (int)(rand_r(&seed) % 4);
		for (int k = 0; k < flips; k++)
			copy[SNAPSHOT_HEADER + rand_r(&seed) % (snap.len - SNAPSHOT_HEADER)] ^=
			    (unsigned char)(1 + rand_r(&seed) % 255);
		reseal(copy, snap.len);
		long n = decode(copy, snap.len, &h, err, sizeof(err));
		cr_assert(n >= -1 && n <= 3, "round %d: %ld workers", round, n);
		cr_assert_eq(out.count, n == -1 ? 0 : (size_t)n, "round %d", round);
	}
	free(copy);
	registry_free(&out);
	events_free(&out_events);
}

Test(snapshot, another_major_version_is_refused)
{
	struct snapshot_head h;
	char err[256] = "";

	sample();
	snap.data[8] = 2;
	snap.data[10] = 0;
	reseal(snap.data, snap.len);
	cr_expect_eq(decode(snap.data, snap.len, &h, err, sizeof(err)), -1);
	cr_expect(strstr(err, "version 2.0") != NULL, "%s", err);
	snap.data[8] = 1;
	snap.data[10] = 9; /* a newer minor version: loaded */
	reseal(snap.data, snap.len);
	cr_expect_eq(decode(snap.data, snap.len, &h, err, sizeof(err)), 3, "%s", err);
	registry_free(&out);
	events_free(&out_events);
}

/* A record by hand: tag, u32 size, fields. */
static size_t
raw_record(unsigned char *p, unsigned tag, const unsigned char *fields, size_t n)
{
	p[0] = (unsigned char)tag;
	p[1] = (unsigned char)n;
	p[2] = p[3] = p[4] = 0;
	memcpy(p + 5, fields, n);
	return 5 + n;
}

Test(snapshot, unknown_records_and_fields_are_skipped)
{
	struct snapshot_head h;
	char err[256] = "";

	sample();
	size_t len = snap.len;
	unsigned char *p = malloc(len + 64);
	cr_assert_not_null(p);
	memcpy(p, snap.data, len);
	/* A worker with a field from the future (tag 99), and a record from the future (tag 9). */
	static const unsigned char w[] = {1, 3, 'n', 'e', 'w', 20, 1, 2, 99, 3, 'x', 'y', 'z'};
	static const unsigned char f[] = {1, 1, 7};
	len += raw_record(p + len, 2, w, sizeof(w));
	len += raw_record(p + len, 9, f, sizeof(f));
	reseal(p, len);
	cr_expect_eq(decode(p, len, &h, err, sizeof(err)), 4, "%s", err);
	struct worker *n = registry_find(&out, "new", 3);
	cr_assert_not_null(n);
	cr_expect_eq(n->core.state, WORKER_DEAD);
	free(p);
	registry_free(&out);
	events_free(&out_events);
}

Test(snapshot, crafted_values_are_refused)
{
	static const struct {
		const char *what;
		unsigned char fields[16];
		size_t n;
	} bad[] = {
	    {"no name", {20, 1, 1}, 3},
	    {"no state", {1, 1, 'a'}, 3},
	    {"a name with a slash", {1, 3, 'a', '/', 'b', 20, 1, 1}, 8},
	    {"state 0 (new)", {1, 1, 'a', 20, 1, 0}, 6},
	    {"an unknown state", {1, 1, 'a', 20, 1, 42}, 6},
	    {"a flag of 2", {1, 1, 'a', 20, 1, 1, 18, 1, 2}, 9},
	    {"a number longer than its field", {1, 1, 'a', 20, 2, 1, 0}, 7},
	    {"an address of another family", {1, 1, 'a', 20, 1, 1, 2, 3, 2, 0, 'x'}, 11},
	    {"a field running past its record", {1, 9, 'a'}, 3},
	};
	struct snapshot_head h;
	char err[256];

	sample();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = snap.len;
		unsigned char *p = malloc(len + 64);
		cr_assert_not_null(p);
		memcpy(p, snap.data, len);
		len += raw_record(p + len, 2, bad[i].fields, bad[i].n);
		reseal(p, len);
		err[0] = '\0';
		cr_expect_eq(decode(p, len, &h, err, sizeof(err)), -1, "%s was loaded", bad[i].what);
		cr_expect_eq(out.count, 0, "%s: workers loaded", bad[i].what);
		cr_expect_neq(err[0], '\0');
		free(p);
	}
	registry_free(&out);
	events_free(&out_events);
}

Test(snapshot, drained_piece_by_piece_it_is_the_same_snapshot)
{
	struct snapshot_head h = {.socket = "/s", .socket_len = 2, .generation = 3};
	struct snapshot_buf b;
	unsigned char *all = NULL;
	size_t len = 0;
	const char *names[] = {"a", "b", "c", "d"};

	snapshot_begin(&b, &h);
	for (int i = 0; i < 4; i++) {
		struct worker *w = add(names[i], WORKER_DEAD);
		struct snapshot_worker sw;
		w->core.timeouts = (uint64_t)i + 1;
		cr_assert(snapshot_worker_of(w, &sw));
		snapshot_add_worker(&b, &sw);
		const unsigned char *p;
		size_t n;
		snapshot_drain(&b, &p, &n); /* as store.c writes it out, slice by slice */
		all = realloc(all, len + n);
		cr_assert_not_null(all);
		memcpy(all + len, p, n);
		len += n;
	}
	unsigned char hdr[SNAPSHOT_HEADER];
	cr_assert_eq(snapshot_header(&b, hdr), 0);
	memcpy(all, hdr, sizeof(hdr));
	struct snapshot_head got;
	char err[256] = "";
	cr_expect_eq(decode(all, len, &got, err, sizeof(err)), 4, "%s", err);
	cr_expect_eq(registry_find(&out, "d", 1)->core.timeouts, 4);
	cr_expect_eq(snapshot_finish(&b), -1, "a drained snapshot is not finished in memory");
	free(all);
	snapshot_buf_free(&b);
	registry_free(&out);
	events_free(&out_events);
}
