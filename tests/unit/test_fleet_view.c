/*
 * test_fleet_view.c: the fleet view (fleet/view.c): derived states, one
 * host incident instead of N deaths, staleness, and host keys that etcd
 * drops as its quorum returns held for the grace.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "view.h"

static struct view v;
static json_t *changes;

static void
collect(const json_t *c, void *arg)
{
	json_array_append(changes, (json_t *)c);
}

static void
setup(void)
{
	changes = json_array();
	cr_assert_eq(view_init(&v, collect, NULL), 0);
}

static void
teardown(void)
{
	view_free(&v);
	json_decref(changes);
}

TestSuite(view, .init = setup, .fini = teardown);

#define HOST(h) "/vigil/v1/hosts/" h
#define WORKER(h, w) "/vigil/v1/workers/" h "/" w
static const char *info = "{\"boot_id\":\"x\",\"supervisor_pid\":7}";

/* The events of the changes since the last call, joined by spaces. */
static const char *
events(void)
{
	static char buf[512];
	size_t i;
	json_t *c;

	buf[0] = '\0';
	json_array_foreach(changes, i, c)
	{
		if (i > 0)
			strcat(buf, " ");
		strcat(buf, json_string_value(json_object_get(c, "event")));
	}
	json_array_clear(changes);
	return buf;
}

static const char *
state_of(const char *host, const char *worker)
{
	static char buf[32];
	json_t *doc = view_json(&v), *h, *w;
	size_t i, k;

	buf[0] = '\0';
	json_array_foreach(json_object_get(doc, "hosts"), i, h)
	{
		if (strcmp(json_string_value(json_object_get(h, "host")), host) != 0)
			continue;
		if (worker == NULL)
			snprintf(buf, sizeof(buf), "%s",
			         json_string_value(json_object_get(h, "state")));
		json_array_foreach(json_object_get(h, "workers"), k, w)
		{
			if (worker != NULL &&
			    strcmp(json_string_value(json_object_get(w, "worker")), worker) == 0)
				snprintf(buf, sizeof(buf), "%s",
				         json_string_value(json_object_get(w, "state")));
		}
	}
	json_decref(doc);
	return buf;
}

static void
two_hosts(void)
{
	view_apply(&v, HOST("a"), info, 1);
	view_apply(&v, WORKER("a", "w1"), "{\"state\":\"alive\",\"pid\":1}", 1);
	view_apply(&v, HOST("b"), info, 1);
	view_apply(&v, WORKER("b", "w1"), "{\"state\":\"alive\",\"pid\":2}", 1);
	view_apply(&v, WORKER("b", "w2"), "{\"state\":\"alive\",\"pid\":3}", 1);
	json_array_clear(changes);
}

Test(view, a_dead_worker_of_a_live_host_is_dead)
{
	two_hosts();
	view_apply(&v, WORKER("b", "w1"), "{\"state\":\"dead\",\"pid\":2,\"missed\":1}", 5);
	cr_expect_str_eq(events(), "worker");
	cr_expect_str_eq(state_of("b", "w1"), "dead");
	view_apply(&v, WORKER("b", "w1"), "{\"state\":\"dead\",\"pid\":2,\"missed\":1}", 6);
	cr_expect_str_eq(events(), "", "a rewrite with the same state is no news");
}

Test(view, a_lost_host_is_one_incident_and_its_workers_unknown)
{
	two_hosts();
	view_apply(&v, HOST("b"), NULL, 10);
	cr_expect_str_eq(events(), "host_lost");
	cr_expect_str_eq(state_of("b", NULL), "lost");
	cr_expect_str_eq(state_of("b", "w1"), "unknown");
	cr_expect_str_eq(state_of("b", "w2"), "unknown");
	cr_expect_str_eq(state_of("a", "w1"), "alive");
	json_t *doc = view_json(&v);
	json_t *b = json_array_get(json_object_get(doc, "hosts"), 1);
	cr_expect_eq(json_integer_value(json_object_get(b, "lost_since")), 10);
	cr_expect_str_eq(json_string_value(json_object_get(
	                     json_array_get(json_object_get(b, "workers"), 0), "reported_state")),
	                 "alive");
	json_decref(doc);
	/* It comes back: up, and only real changes reported. */
	view_apply(&v, HOST("b"), info, 20);
	view_apply(&v, WORKER("b", "w1"), "{\"state\":\"alive\",\"pid\":2}", 20);
	view_apply(&v, WORKER("b", "w2"), "{\"state\":\"alive\",\"pid\":9}", 20);
	cr_expect_str_eq(events(), "host_up worker");
	cr_expect_str_eq(state_of("b", "w2"), "alive");
}

Test(view, a_full_load_reports_the_differences_only)
{
	struct etcd_kv kvs[] = {
	    {.key = HOST("a"), .value = (char *)info},
	    {.key = WORKER("a", "w1"), .value = "{\"state\":\"dead\",\"pid\":1}"},
	    {.key = WORKER("b", "w1"), .value = "{\"state\":\"alive\",\"pid\":2}"},
	};

	two_hosts();
	view_load(&v, kvs, 3, 50, 30);
	cr_expect_str_eq(events(), "host_lost worker_gone worker");
	cr_expect_eq(v.revision, 50);
	cr_expect_str_eq(state_of("a", "w1"), "dead");
	cr_expect_str_eq(state_of("b", "w1"), "unknown");
}

Test(view, a_first_load_shows_hosts_already_lost)
{
	struct etcd_kv kvs[] = {{.key = WORKER("c", "w1"), .value = "{\"state\":\"alive\"}"}};

	view_load(&v, kvs, 1, 3, 30);
	cr_expect_str_eq(events(), "host_lost");
	cr_expect_str_eq(state_of("c", "w1"), "unknown");
}

Test(view, unknown_keys_and_foreign_values_are_ignored)
{
	view_apply(&v, "/vigil/v2/hosts/a", info, 1);
	view_apply(&v, WORKER("a", "w1"), "not json", 1);
	view_apply(&v, "/elsewhere", "{}", 1);
	cr_expect_str_eq(events(), "");
	cr_expect_eq(json_object_size(v.workers), 0);
}

Test(view, stale_then_fresh_is_said_once_each)
{
	view_set_stale(&v, 1, "timed out", 100);
	view_set_stale(&v, 1, "timed out", 200);
	cr_expect_str_eq(events(), "stale");
	json_t *doc = view_json(&v);
	cr_expect(json_is_true(json_object_get(doc, "stale")));
	cr_expect_eq(json_integer_value(json_object_get(doc, "stale_since")), 100);
	json_decref(doc);
	view_set_stale(&v, 0, NULL, 300);
	cr_expect_str_eq(events(), "fresh");
}

Test(view, host_keys_dropped_as_the_quorum_returns_are_held_for_the_grace)
{
	v.grace_ms = 2000;
	two_hosts();
	view_set_stale(&v, 1, "no leader", 1000);
	view_apply(&v, HOST("a"), NULL, 9000); /* the stuck leader revokes every lease */
	view_apply(&v, HOST("b"), NULL, 9000);
	view_set_stale(&v, 0, NULL, 9500);
	cr_expect_str_eq(events(), "stale fresh", "no host lost yet");
	cr_expect_str_eq(state_of("a", NULL), "up");
	view_apply(&v, HOST("a"), info, 10000); /* a's publisher claims it again */
	cr_expect_str_eq(events(), "host_renewed");
	view_tick(&v, 11000);
	cr_expect_str_eq(events(), "", "b's grace runs to 11500");
	view_tick(&v, 11600);
	cr_expect_str_eq(events(), "host_lost");
	json_t *doc = view_json(&v);
	cr_expect_eq(json_integer_value(json_object_get(
	                 json_array_get(json_object_get(doc, "hosts"), 1), "lost_since")),
	             9000, "lost since its key disappeared");
	json_decref(doc);
	cr_expect_str_eq(state_of("b", "w1"), "unknown");
	cr_expect_str_eq(state_of("a", "w1"), "alive");
}

Test(view, outside_the_grace_a_host_is_lost_at_once)
{
	v.grace_ms = 2000;
	two_hosts();
	view_set_stale(&v, 1, "no leader", 1000);
	view_set_stale(&v, 0, NULL, 2000);
	view_apply(&v, HOST("b"), NULL, 4001);
	cr_expect_str_eq(events(), "stale fresh host_lost");
}

Test(view, a_takeover_that_deletes_and_claims_the_key_again_is_no_incident)
{
	v.settle_ms = 200;
	two_hosts();
	view_apply(&v, HOST("b"), NULL, 1000);
	cr_expect_eq(view_next_deadline(&v), 1200);
	view_tick(&v, 1100);
	view_apply(&v, HOST("b"), info, 1105);
	cr_expect_str_eq(events(), "host_renewed");
	cr_expect_eq(view_next_deadline(&v), 0);
	view_tick(&v, 2000);
	cr_expect_str_eq(events(), "");
	cr_expect_str_eq(state_of("b", "w1"), "alive");
}

Test(view, a_key_gone_longer_than_the_settle_time_is_a_host_lost_since_it_went)
{
	v.settle_ms = 200;
	two_hosts();
	view_apply(&v, HOST("b"), NULL, 1000);
	view_tick(&v, 1199);
	cr_expect_str_eq(events(), "");
	view_tick(&v, 1200);
	cr_expect_str_eq(events(), "host_lost");
	json_t *doc = view_json(&v);
	cr_expect_eq(json_integer_value(json_object_get(
	                 json_array_get(json_object_get(doc, "hosts"), 1), "lost_since")),
	             1000);
	json_decref(doc);
}

Test(view, what_etcd_says_reaches_a_terminal_as_printable_text_only)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	view_apply(&v, HOST("a"), info, 1);
	view_apply(&v, WORKER("a", "w1"), "{\"state\":\"\\u001b[2Jdead\",\"pid\":1}", 1);
	view_set_stale(&v, 1, "HTTP 503: \x1b[31mno leader", 2);
	view_print(&v, fp);
	for (size_t i = 0; i < json_array_size(changes); i++)
		view_print_change(json_array_get(changes, i), fp);
	view_metrics(&v, fp);
	fclose(fp);
	cr_assert_not_null(text);
	cr_expect_null(strchr(text, '\x1b'), "no escape byte in:\n%s", text);
	cr_expect_not_null(strstr(text, "state=\"other\""), "%s", text);
	free(text);
}
