/*
 * test_fleet_publish.c: the publisher's state (fleet/publish.c): a status
 * snapshot then events, what becomes a write to etcd and what does not,
 * writes that fail or race a change, and memory bounded by the workers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "publish.h"

static struct pub p;

static void
setup(void)
{
	pub_init(&p);
}

static void
teardown(void)
{
	pub_free(&p);
}

TestSuite(publish, .init = setup, .fini = teardown);

static const char *snapshot =
    "{\"workers\":[{\"name\":\"a\",\"state\":\"alive\",\"pid\":10,\"last_seq\":5,\"missed\":0,"
    "\"timeouts\":2,\"restarts\":1,\"silent_s\":0.1,\"timeout_ms\":500},"
    "{\"name\":\"b\",\"state\":\"dead\",\"pid\":11,\"last_seq\":9,\"missed\":3,\"timeouts\":3,"
    "\"restarts\":0,\"silent_s\":1.5,\"timeout_ms\":500}],\"supervisor\":{\"pid\":99}}";

static void
load(const char *doc)
{
	json_t *j = json_loads(doc, 0, NULL);
	char err[128];

	cr_assert_eq(pub_apply_status(&p, j, 1000, err, sizeof(err)), 0, "%s", err);
	json_decref(j);
}

static int
event(const char *line)
{
	return pub_apply_event(&p, line, strlen(line));
}

/* Take every dirty worker and say how the write went. */
static size_t
flush(int ok)
{
	struct pub_worker *ws[64];
	uint64_t gens[64];
	size_t n = pub_take_dirty(&p, ws, gens, 64);

	pub_sent(&p, ws, gens, n, ok);
	return n;
}

Test(publish, a_snapshot_makes_every_worker_dirty_with_its_fields)
{
	load(snapshot);
	cr_expect_eq(p.count, 2);
	cr_expect_eq(p.supervisor_pid, 99);
	cr_expect_eq(pub_dirty_count(&p), 2);
	char *v = pub_worker_value(pub_find(&p, "b"));
	cr_expect_str_eq(v, "{\"state\":\"dead\",\"pid\":11,\"since\":1000,\"missed\":3,"
	                    "\"silent_ms\":1500,\"seq\":9,\"timeout_ms\":500,\"restarts\":0,"
	                    "\"timeouts\":3}");
	free(v);
	cr_expect_eq(flush(1), 2);
	cr_expect_eq(pub_dirty_count(&p), 0);
}

Test(publish, a_state_change_is_a_write_a_repeated_report_is_not)
{
	load(snapshot);
	flush(1);
	cr_expect_eq(event("{\"time\":\"2026-11-29T08:39:10.847Z\",\"event\":\"timeout\","
	                   "\"worker\":\"a\",\"state\":\"dead\",\"pid\":10,\"seq\":6,\"missed\":1,"
	                   "\"silent_ms\":500}"),
	             1);
	struct pub_worker *a = pub_find(&p, "a");
	cr_expect_str_eq(a->state, "dead");
	cr_expect_eq(a->since_ms, 1795941550847ULL);
	cr_expect_eq(a->timeouts, 3);
	cr_expect_eq(flush(1), 1);
	cr_expect_eq(event("{\"time\":\"2026-11-29T08:39:11.347Z\",\"event\":\"timeout\","
	                   "\"worker\":\"a\",\"state\":\"dead\",\"pid\":10,\"seq\":6,\"missed\":2,"
	                   "\"silent_ms\":1000}"),
	             0, "still dead: nothing to write");
	cr_expect_eq(event("{\"time\":\"2026-11-29T08:39:13.347Z\",\"event\":\"timeout\","
	                   "\"worker\":\"a\",\"state\":\"dead\",\"pid\":10,\"seq\":6,\"missed\":8,"
	                   "\"silent_ms\":4000}"),
	             0);
	cr_expect_eq(a->timeouts, 2 + 8, "reports at missed 1, 2, 8 count 8 periods");
	cr_expect_eq(pub_dirty_count(&p), 0);
	cr_expect_eq(event("{\"time\":\"2026-11-29T08:39:14.000Z\",\"event\":\"recovered\","
	                   "\"worker\":\"a\",\"state\":\"alive\",\"pid\":10,\"seq\":7}"),
	             1);
	cr_expect_eq(a->missed, 0);
}

Test(publish, a_rivals_timeout_is_not_the_workers)
{
	load(snapshot);
	flush(1);
	/* pid 77 claimed a's name and fell silent; pid 10 keeps it (monitor_rival_cb). */
	cr_expect_eq(event("{\"time\":\"2026-11-29T08:39:10.847Z\",\"event\":\"timeout\","
	                   "\"worker\":\"a\",\"state\":\"alive\",\"pid\":77,\"other_pid\":10,"
	                   "\"seq\":6,\"missed\":1,\"silent_ms\":500}"),
	             0, "a rival's silence changed the worker");
	struct pub_worker *a = pub_find(&p, "a");
	cr_expect_eq(a->pid, 10);
	cr_expect_eq(a->timeouts, 2);
	cr_expect_eq(a->missed, 0);
	cr_expect_str_eq(a->state, "alive");
	cr_expect_eq(pub_dirty_count(&p), 0);
}

Test(publish, a_restart_counts_once_even_when_replayed_after_a_snapshot)
{
	const char *ev = "{\"time\":\"2026-11-29T08:39:10.847Z\",\"event\":\"restarted\","
	                 "\"worker\":\"a\",\"state\":\"alive\",\"pid\":20,\"seq\":1}";

	load(snapshot);
	cr_expect_eq(event(ev), 1, "a new pid is a write");
	cr_expect_eq(event(ev), 0, "the same event again changes nothing");
	cr_expect_eq(pub_find(&p, "a")->restarts, 2);
	cr_expect_eq(pub_find(&p, "a")->pid, 20);
}

Test(publish, a_failed_write_leaves_the_worker_dirty)
{
	load(snapshot);
	cr_expect_eq(flush(0), 2);
	cr_expect_eq(pub_dirty_count(&p), 2);
	cr_expect_eq(flush(1), 2);
	cr_expect_eq(pub_dirty_count(&p), 0);
}

Test(publish, a_change_during_a_write_stays_dirty_after_it)
{
	struct pub_worker *ws[8];
	uint64_t gens[8];

	load(snapshot);
	size_t n = pub_take_dirty(&p, ws, gens, 8);
	cr_expect_eq(pub_dirty_count(&p), 0, "being sent");
	event("{\"time\":\"2026-11-29T08:39:10.847Z\",\"event\":\"stopped\",\"worker\":\"a\","
	      "\"state\":\"stopped\",\"pid\":10,\"seq\":6}");
	pub_sent(&p, ws, gens, n, 1);
	cr_expect_eq(pub_dirty_count(&p), 1, "the newer state still has to go");
}

Test(publish, forgotten_workers_are_deleted_then_dropped)
{
	load(snapshot);
	flush(1);
	cr_expect_eq(event("{\"time\":\"2026-11-29T08:39:10.847Z\",\"event\":\"forgotten\","
	                   "\"worker\":\"b\",\"state\":\"dead\",\"pid\":11,\"seq\":9}"),
	             1);
	struct pub_worker *ws[8];
	uint64_t gens[8];
	size_t n = pub_take_dirty(&p, ws, gens, 8);
	cr_assert_eq(n, 1);
	cr_expect(ws[0]->forgotten, "sent as a delete");
	pub_sent(&p, ws, gens, n, 1);
	cr_expect_null(pub_find(&p, "b"));
	cr_expect_eq(p.count, 1);
}

Test(publish, a_new_snapshot_forgets_workers_it_does_not_list)
{
	load(snapshot);
	flush(1);
	load("{\"workers\":[{\"name\":\"a\",\"state\":\"alive\",\"pid\":10}],"
	     "\"supervisor\":{\"pid\":100}}");
	cr_expect(pub_find(&p, "b")->forgotten);
	cr_expect_eq(p.supervisor_pid, 100);
	cr_expect_eq(flush(1), 2, "a rewritten, b deleted");
	cr_expect_eq(p.count, 1);
}

Test(publish, overflow_asks_for_a_snapshot)
{
	cr_expect_eq(event("{\"event\":\"overflow\",\"dropped\":12}"), 2);
}

/* Criterion passes parameters to another process: arrays, never pointers. */
struct text {
	char s[96];
};

ParameterizedTestParameters(publish, bad_lines_are_dropped_and_counted)
{
	static struct text bad[] = {
	    {""},
	    {"not json"},
	    {"[]"},
	    {"{\"event\":\"timeout\"}"},
	    {"{\"event\":\"timeout\",\"worker\":\"a b\",\"state\":\"dead\"}"},
	    {"{\"event\":\"timeout\",\"worker\":\"a\",\"state\":\"a-state-name-too-long\"}"},
	    {"{\"event\":\"timeout\",\"worker\":\"a\"}"}};
	return cr_make_param_array(struct text, bad, sizeof(bad) / sizeof(bad[0]));
}

ParameterizedTest(struct text *line, publish, bad_lines_are_dropped_and_counted)
{
	cr_expect_eq(event(line->s), -1, "%s", line->s);
	cr_expect_eq(p.ignored, 1);
	cr_expect_eq(p.count, 0, "no worker made from '%s'", line->s);
}

Test(publish, a_document_that_is_not_a_status_changes_nothing)
{
	json_t *j = json_loads("{\"workers\":[{\"state\":\"alive\"}],\"supervisor\":{}}", 0, NULL);
	char err[128];

	load(snapshot);
	cr_expect_eq(pub_apply_status(&p, j, 1, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "status row 0 has no valid name or state");
	cr_expect_eq(p.count, 2);
	cr_expect_not(pub_find(&p, "a")->forgotten);
	json_decref(j);
}

Test(publish, memory_is_bounded_by_the_workers_not_the_events)
{
	char line[256];

	for (int i = 0; i < 20000; i++) {
		snprintf(
		    line, sizeof(line),
		    "{\"time\":\"2026-11-29T08:39:10.847Z\",\"event\":\"%s\",\"worker\":\"w%d\","
		    "\"state\":\"%s\",\"pid\":%d,\"seq\":1}",
		    i % 2 ? "timeout" : "recovered", i % 100, i % 2 ? "dead" : "alive",
		    1000 + i % 100);
		event(line);
	}
	cr_expect_eq(p.count, 100);
	cr_expect_eq(pub_dirty_count(&p), 100, "each holds only its latest state");
	cr_expect_eq(flush(1), 64);
	cr_expect_eq(flush(1), 36);
}
