/*
 * test_metrics.c: the Prometheus renderer, on a fixed registry at a fixed
 * time: its exact output, the state counts, every invalid reason, and the
 * label escaper and seconds formatter on their own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/buffer.h>

#include "metrics.h"
#include "proc.h"
#include "registry.h"
#include "supervisor.h"

#define SEC 1000000ULL
#define NOW (1000 * SEC)

static struct registry r;
static struct supervisor_counters counters;
static struct evbuffer *out;

static void
setup(void)
{
	cr_assert_eq(registry_init(&r, 16), 0);
	memset(&counters, 0, sizeof(counters));
	cr_assert_not_null(out = evbuffer_new());
}

static void
teardown(void)
{
	registry_free(&r);
	evbuffer_free(out);
}

TestSuite(metrics, .init = setup, .fini = teardown);

/* A worker in state st whose last heartbeat was silent_us ago. */
static struct worker *
add(const char *name, enum worker_state st, uint64_t silent_us)
{
	struct worker *w = registry_add(&r, name, strlen(name));

	cr_assert_not_null(w, "add %s", name);
	w->core.state = st;
	w->core.last_hb = NOW - silent_us;
	w->core.timeout = 600000;
	w->core.interval = 100000;
	return w;
}

/* Render at NOW; the text, NUL-terminated, to free. */
static char *
render(void)
{
	static uint64_t events[SV_EVENT_NTYPES] = {[SV_EVENT_REGISTERED] = 5, [SV_EVENT_TIMEOUT] = 3};
	struct metrics_input in = {
	    .counters = &counters,
	    .events = events,
	    .hooks_started = 4,
	    .hooks_refused = 1,
	    .hooks_killed = 2,
	    .max_workers = 16,
	    .http_connections = 1,
	    .now = NOW,
	    .start_time = 1700000000 * SEC + 250000,
	    .version = "1.2.3",
	};

	cr_assert_eq(metrics_render(&in, &r, out), 0);
	size_t len = evbuffer_get_length(out);
	char *text = malloc(len + 1);
	cr_assert_not_null(text);
	evbuffer_remove(out, text, len);
	text[len] = '\0';
	return text;
}

static const char expected[] =
    "# HELP vigil_build_info Always 1; the version of vigil-supervisor is a label.\n"
    "# TYPE vigil_build_info gauge\n"
    "vigil_build_info{version=\"1.2.3\"} 1\n"
    "# HELP vigil_start_time_seconds When the supervisor started, in seconds since the Unix "
    "epoch.\n"
    "# TYPE vigil_start_time_seconds gauge\n"
    "vigil_start_time_seconds 1700000000.25\n"
    "# HELP vigil_max_workers Most workers tracked at once (--max-workers).\n"
    "# TYPE vigil_max_workers gauge\n"
    "vigil_max_workers 16\n"
    "# HELP vigil_workers Workers in each state.\n"
    "# TYPE vigil_workers gauge\n"
    "vigil_workers{state=\"alive\"} 1\n"
    "vigil_workers{state=\"late\"} 1\n"
    "vigil_workers{state=\"dead\"} 1\n"
    "vigil_workers{state=\"stopped\"} 1\n"
    "vigil_workers{state=\"exited\"} 0\n"
    "vigil_workers{state=\"failed\"} 1\n"
    "vigil_workers{state=\"expected\"} 0\n"
    "vigil_workers{state=\"missing\"} 0\n"
    "vigil_workers{state=\"unwatched\"} 0\n"
    "# HELP vigil_datagrams_total Datagrams received on the heartbeat socket.\n"
    "# TYPE vigil_datagrams_total counter\n"
    "vigil_datagrams_total 42\n"
    "# HELP vigil_workers_rejected_total New worker names refused because --max-workers "
    "workers are registered.\n"
    "# TYPE vigil_workers_rejected_total counter\n"
    "vigil_workers_rejected_total 5\n"
    "# HELP vigil_ignored_lines_total Lines ignored in datagrams otherwise taken (unknown or "
    "malformed, as systemd ignores them).\n"
    "# TYPE vigil_ignored_lines_total counter\n"
    "vigil_ignored_lines_total 4\n"
    "# HELP vigil_timeouts_sent_total TIMEOUT datagrams delivered to workers.\n"
    "# TYPE vigil_timeouts_sent_total counter\n"
    "vigil_timeouts_sent_total 7\n"
    "# HELP vigil_timeouts_undelivered_total TIMEOUT datagrams a worker's socket did not take "
    "(gone, full or refused).\n"
    "# TYPE vigil_timeouts_undelivered_total counter\n"
    "vigil_timeouts_undelivered_total 8\n"
    "# HELP vigil_pause_graces_total Expiries forgiven because the supervisor itself had been "
    "paused or starved.\n"
    "# TYPE vigil_pause_graces_total counter\n"
    "vigil_pause_graces_total 9\n"
    "# HELP vigil_senders_refused_total New worker names refused because the sender is not on "
    "the allow-list.\n"
    "# TYPE vigil_senders_refused_total counter\n"
    "vigil_senders_refused_total 10\n"
    "# HELP vigil_impersonations_total Messages refused because they came from another uid than "
    "the one owning the name.\n"
    "# TYPE vigil_impersonations_total counter\n"
    "vigil_impersonations_total 11\n"
    "# HELP vigil_signals_sent_total Signals sent to workers by --on-timeout.\n"
    "# TYPE vigil_signals_sent_total counter\n"
    "vigil_signals_sent_total 12\n"
    "# HELP vigil_signals_refused_total Signals of --on-timeout not sent: the pid was gone or no "
    "longer the worker's.\n"
    "# TYPE vigil_signals_refused_total counter\n"
    "vigil_signals_refused_total 13\n"
    "# HELP vigil_stalls_total Times a worker's timer ran 100 ms or more late: the supervisor "
    "itself was stalled.\n"
    "# TYPE vigil_stalls_total counter\n"
    "vigil_stalls_total 15\n"
    "# HELP vigil_exits_unwatched_total Workers not watched for their exit (--detect-exit): the "
    "descriptor budget was spent.\n"
    "# TYPE vigil_exits_unwatched_total counter\n"
    "vigil_exits_unwatched_total 14\n"
    "# HELP vigil_helper_pings_total Messages from a helper of a name's service (another live "
    "process of its unit), counted for the name with its main process's pid.\n"
    "# TYPE vigil_helper_pings_total counter\n"
    "vigil_helper_pings_total 16\n"
    "# HELP vigil_conflict_heartbeats_total Heartbeats from a rival claimant: a second live "
    "process for a name, counted for none.\n"
    "# TYPE vigil_conflict_heartbeats_total counter\n"
    "vigil_conflict_heartbeats_total 17\n"
    "# HELP vigil_seq_resets_total Heartbeats whose SEQ= went back for the same process.\n"
    "# TYPE vigil_seq_resets_total counter\n"
    "vigil_seq_resets_total 18\n"
    "# HELP vigil_invalid_datagrams_total Datagrams dropped as malformed, by reason.\n"
    "# TYPE vigil_invalid_datagrams_total counter\n"
    "vigil_invalid_datagrams_total{reason=\"empty\"} 0\n"
    "vigil_invalid_datagrams_total{reason=\"oversized\"} 0\n"
    "vigil_invalid_datagrams_total{reason=\"nul_byte\"} 0\n"
    "vigil_invalid_datagrams_total{reason=\"bad_value\"} 3\n"
    "vigil_invalid_datagrams_total{reason=\"no_worker\"} 0\n"
    "vigil_invalid_datagrams_total{reason=\"no_cgroup\"} 0\n"
    "vigil_invalid_datagrams_total{reason=\"no_message\"} 6\n"
    "# HELP vigil_events_total Events about workers, by event (as in the log and vigilctl events).\n"
    "# TYPE vigil_events_total counter\n"
    "vigil_events_total{event=\"registered\"} 5\n"
    "vigil_events_total{event=\"recovered\"} 0\n"
    "vigil_events_total{event=\"restarted\"} 0\n"
    "vigil_events_total{event=\"resumed\"} 0\n"
    "vigil_events_total{event=\"stopped\"} 0\n"
    "vigil_events_total{event=\"timeout\"} 3\n"
    "vigil_events_total{event=\"trigger\"} 0\n"
    "vigil_events_total{event=\"exited\"} 0\n"
    "vigil_events_total{event=\"failed\"} 0\n"
    "vigil_events_total{event=\"unfailed\"} 0\n"
    "vigil_events_total{event=\"signal\"} 0\n"
    "vigil_events_total{event=\"missing\"} 0\n"
    "vigil_events_total{event=\"forgotten\"} 0\n"
    "vigil_events_total{event=\"unwatched\"} 0\n"
    "vigil_events_total{event=\"watched\"} 0\n"
    "vigil_events_total{event=\"conflict\"} 0\n"
    "vigil_events_total{event=\"restored\"} 0\n"
    "# HELP vigil_hooks_started_total Hooks (--on-timeout exec:) started.\n"
    "# TYPE vigil_hooks_started_total counter\n"
    "vigil_hooks_started_total 4\n"
    "# HELP vigil_hooks_refused_total Hooks not started: too many were running.\n"
    "# TYPE vigil_hooks_refused_total counter\n"
    "vigil_hooks_refused_total 1\n"
    "# HELP vigil_hooks_killed_total Hooks killed at their time limit (--hook-timeout).\n"
    "# TYPE vigil_hooks_killed_total counter\n"
    "vigil_hooks_killed_total 2\n"
    "# HELP vigil_http_connections Connections open to this HTTP endpoint.\n"
    "# TYPE vigil_http_connections gauge\n"
    "vigil_http_connections 1\n"
    "# HELP vigil_timer_lateness_max_seconds The most any worker's timer ran after its deadline, "
    "since the supervisor started.\n"
    "# TYPE vigil_timer_lateness_max_seconds gauge\n"
    "vigil_timer_lateness_max_seconds 0.0025\n"
    "# HELP vigil_worker_state 1 for each worker, with its state (alive, late, dead, stopped, "
    "exited, failed, expected, missing).\n"
    "# TYPE vigil_worker_state gauge\n"
    "vigil_worker_state{worker=\"api\",state=\"alive\"} 1\n"
    "vigil_worker_state{worker=\"batch\",state=\"late\"} 1\n"
    "vigil_worker_state{worker=\"cron\",state=\"dead\"} 1\n"
    "vigil_worker_state{worker=\"db\",state=\"failed\"} 1\n"
    "vigil_worker_state{worker=\"etl\",state=\"stopped\"} 1\n"
    "# HELP vigil_worker_up 1 if the worker is alive or late, else 0.\n"
    "# TYPE vigil_worker_up gauge\n"
    "vigil_worker_up{worker=\"api\"} 1\n"
    "vigil_worker_up{worker=\"batch\"} 1\n"
    "vigil_worker_up{worker=\"cron\"} 0\n"
    "vigil_worker_up{worker=\"db\"} 0\n"
    "vigil_worker_up{worker=\"etl\"} 0\n"
    "# HELP vigil_worker_heartbeats_total Valid heartbeats received from the worker.\n"
    "# TYPE vigil_worker_heartbeats_total counter\n"
    "vigil_worker_heartbeats_total{worker=\"api\"} 100\n"
    "vigil_worker_heartbeats_total{worker=\"batch\"} 0\n"
    "vigil_worker_heartbeats_total{worker=\"cron\"} 0\n"
    "vigil_worker_heartbeats_total{worker=\"db\"} 0\n"
    "vigil_worker_heartbeats_total{worker=\"etl\"} 0\n"
    "# HELP vigil_worker_timeouts_total Timeout periods the worker missed (each one reported "
    "and answered).\n"
    "# TYPE vigil_worker_timeouts_total counter\n"
    "vigil_worker_timeouts_total{worker=\"api\"} 0\n"
    "vigil_worker_timeouts_total{worker=\"batch\"} 0\n"
    "vigil_worker_timeouts_total{worker=\"cron\"} 3\n"
    "vigil_worker_timeouts_total{worker=\"db\"} 0\n"
    "vigil_worker_timeouts_total{worker=\"etl\"} 0\n"
    "# HELP vigil_worker_restarts_total Times a new process took over the worker's name.\n"
    "# TYPE vigil_worker_restarts_total counter\n"
    "vigil_worker_restarts_total{worker=\"api\"} 2\n"
    "vigil_worker_restarts_total{worker=\"batch\"} 0\n"
    "vigil_worker_restarts_total{worker=\"cron\"} 0\n"
    "vigil_worker_restarts_total{worker=\"db\"} 0\n"
    "vigil_worker_restarts_total{worker=\"etl\"} 0\n"
    "# HELP vigil_worker_last_heartbeat_age_seconds Seconds since the worker's last heartbeat.\n"
    "# TYPE vigil_worker_last_heartbeat_age_seconds gauge\n"
    "vigil_worker_last_heartbeat_age_seconds{worker=\"api\"} 0.05\n"
    "vigil_worker_last_heartbeat_age_seconds{worker=\"batch\"} 0.25\n"
    "vigil_worker_last_heartbeat_age_seconds{worker=\"cron\"} 2.000001\n"
    "vigil_worker_last_heartbeat_age_seconds{worker=\"db\"} 30\n"
    "vigil_worker_last_heartbeat_age_seconds{worker=\"etl\"} 0\n"
    "# HELP vigil_worker_timeout_seconds The silence after which the worker is declared dead.\n"
    "# TYPE vigil_worker_timeout_seconds gauge\n"
    "vigil_worker_timeout_seconds{worker=\"api\"} 0.6\n"
    "vigil_worker_timeout_seconds{worker=\"batch\"} 0.6\n"
    "vigil_worker_timeout_seconds{worker=\"cron\"} 0.6\n"
    "vigil_worker_timeout_seconds{worker=\"db\"} 0.6\n"
    "vigil_worker_timeout_seconds{worker=\"etl\"} 0.6\n";

Test(metrics, exact_output_of_a_small_registry)
{
	/* Added out of order: the output is sorted by name. */
	add("etl", WORKER_STOPPED, 0);
	add("cron", WORKER_DEAD, 2 * SEC + 1)->core.timeouts = 3;
	struct worker *api = add("api", WORKER_ALIVE, 50000);
	api->core.heartbeats = 100;
	api->core.restarts = 2;
	add("batch", WORKER_ALIVE, 250000); /* more than 2 intervals: late */
	add("db", WORKER_DEAD, 30 * SEC)->core.failed = 1;
	counters.datagrams = 42;
	counters.invalid[VIGIL_WIRE_BAD_VALUE] = 3;
	counters.ignored_lines = 4;
	counters.invalid[VIGIL_WIRE_NO_MESSAGE] = 6;
	counters.rejected_full = 5;
	counters.timeouts_sent = 7;
	counters.timeouts_undelivered = 8;
	counters.graces = 9;
	counters.senders_refused = 10;
	counters.impersonations = 11;
	counters.signals_sent = 12;
	counters.signals_refused = 13;
	counters.stalls = 15;
	counters.timer_late_max = 2500;
	counters.exits_unwatched = 14;
	counters.helper_pings = 16;
	counters.conflict_beats = 17;
	counters.seq_resets = 18;

	char *text = render();
	if (strcmp(text, expected) != 0) {
		size_t i = 0;
		while (text[i] == expected[i])
			i++;
		cr_assert_fail("output differs at byte %zu:\n--- got from there:\n%.300s\n--- "
			       "expected:\n%.300s",
			       i, text + i, expected + i);
	}
	free(text);
}

Test(metrics, every_state_counted_and_up_only_when_alive_or_late)
{
	add("a", WORKER_ALIVE, 0);
	add("b", WORKER_ALIVE, 10 * SEC); /* late */
	add("c", WORKER_DEAD, 0);
	add("d", WORKER_DEAD, 0)->core.failed = 1;
	add("e", WORKER_EXITED, 0);
	add("f", WORKER_EXITED, 0)->core.failed = 1;
	add("g", WORKER_STOPPED, 0);
	add("h", WORKER_STOPPED, 0);

	char *text = render();
	static const struct {
		const char *series;
		double v;
	} want[] = {
	    {"vigil_workers{state=\"alive\"}", 1},   {"vigil_workers{state=\"late\"}", 1},
	    {"vigil_workers{state=\"dead\"}", 1},    {"vigil_workers{state=\"stopped\"}", 2},
	    {"vigil_workers{state=\"exited\"}", 1},  {"vigil_workers{state=\"failed\"}", 2},
	    {"vigil_worker_up{worker=\"a\"}", 1},    {"vigil_worker_up{worker=\"b\"}", 1},
	    {"vigil_worker_up{worker=\"c\"}", 0},    {"vigil_worker_up{worker=\"d\"}", 0},
	    {"vigil_worker_up{worker=\"e\"}", 0},    {"vigil_worker_up{worker=\"f\"}", 0},
	    {"vigil_worker_up{worker=\"g\"}", 0},    {"vigil_worker_up{worker=\"h\"}", 0},
	    {"vigil_worker_state{worker=\"f\",state=\"failed\"}", 1},
	    {"vigil_worker_state{worker=\"e\",state=\"exited\"}", 1},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_eq(vt_metric(text, want[i].series), want[i].v, "%s: %g, want %g",
			     want[i].series, vt_metric(text, want[i].series), want[i].v);
	free(text);
}

Test(metrics, every_invalid_reason_present_even_at_zero)
{
	counters.invalid[VIGIL_WIRE_OVERSIZED] = 17;
	char *text = render();

	for (int code = 1; code < VIGIL_WIRE_NERR; code++) {
		char series[128];
		snprintf(series, sizeof(series), "vigil_invalid_datagrams_total{reason=\"%s\"}",
			 vigil_wire_strerror(code));
		cr_expect_eq(vt_metric(text, series), code == VIGIL_WIRE_OVERSIZED ? 17 : 0,
			     "%s missing or wrong", series);
	}
	cr_expect_null(strstr(text, "reason=\"ok\""), "the success code is not a reason");
	free(text);
}

Test(metrics, empty_registry_still_has_every_family)
{
	char *text = render();

	cr_expect_eq(vt_metric(text, "vigil_workers{state=\"alive\"}"), 0);
	cr_expect_not_null(strstr(text, "# TYPE vigil_worker_up gauge\n"));
	cr_expect_not_null(strstr(text, "# TYPE vigil_worker_timeouts_total counter\n"));
	cr_expect_null(strstr(text, "{worker="), "no worker, no per-worker sample");
	free(text);
}

Test(metrics, worker_names_are_escaped_in_labels)
{
	/* The wire protocol never lets such a name in; the renderer escapes anyway. */
	add("a\"b\\c\nd", WORKER_ALIVE, 0);
	char *text = render();

	cr_expect_not_null(strstr(text, "vigil_worker_up{worker=\"a\\\"b\\\\c\\nd\"} 1\n"), "%s",
			   text);
	free(text);
}

/* The escaper and the seconds formatter, with no registry. */
TestSuite(metrics_text);

/* Arrays, not pointers: Criterion copies parameters into a fresh process. */
struct escape_case {
	char in[32];
	char out[64];
};

ParameterizedTestParameters(metrics_text, escape_label)
{
	static struct escape_case cases[] = {
	    {"", ""},
	    {"plain-name_1.2@host:x", "plain-name_1.2@host:x"},
	    {"\"", "\\\""},
	    {"\\", "\\\\"},
	    {"\n", "\\n"},
	    {"a\"b", "a\\\"b"},
	    {"back\\slash", "back\\\\slash"},
	    {"two\nlines", "two\\nlines"},
	    {"\\\"\n", "\\\\\\\"\\n"},
	    {"tab\tstays", "tab\tstays"},
	};
	return cr_make_param_array(struct escape_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct escape_case *c, metrics_text, escape_label)
{
	char buf[64];
	size_t n = metrics_escape_label(c->in, buf, sizeof(buf));

	cr_expect_str_eq(buf, c->out, "escape of \"%s\"", c->in);
	cr_expect_eq(n, strlen(c->out), "length for \"%s\"", c->in);
}

Test(metrics_text, escape_label_cuts_short_and_reports_the_full_length)
{
	char buf[4];

	cr_expect_eq(metrics_escape_label("a\"bc", buf, sizeof(buf)), 5);
	cr_expect_str_eq(buf, "a\\\"");
	cr_expect_eq(metrics_escape_label("\\\\", buf, sizeof(buf)), 4);
	cr_expect_str_eq(buf, "\\\\\\");
}

struct seconds_case {
	uint64_t usec;
	char out[32];
};

ParameterizedTestParameters(metrics_text, seconds)
{
	static struct seconds_case cases[] = {
	    {0, "0"},           {1, "0.000001"},          {600000, "0.6"},
	    {1500000, "1.5"},   {3000000, "3"},           {1234567, "1.234567"},
	    {100010, "0.10001"}, {604800000000ULL, "604800"}, {UINT64_MAX, "18446744073709.551615"},
	};
	return cr_make_param_array(struct seconds_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct seconds_case *c, metrics_text, seconds)
{
	char buf[32];

	cr_expect_str_eq(metrics_seconds(c->usec, buf, sizeof(buf)), c->out, "%llu usec",
			 (unsigned long long)c->usec);
}
