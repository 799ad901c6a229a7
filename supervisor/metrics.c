/*
 * metrics.c: the Prometheus exposition of the supervisor. See metrics.h.
 *
 * Samples of one metric must be contiguous, so the per-worker metrics are
 * written one family at a time, a pass over the workers (in name order,
 * walk.h) each, in slices, after the supervisor's own metrics, whose
 * counts by state come from a first pass that writes nothing.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "counters.h"
#include "events.h"
#include "metrics.h"
#include "registry.h"
#include "state.h"
#include "walk.h"
#include "wire.h"

/* What vigil_workers counts: every name state_name() gives a registered worker. */
static const char *const metrics_states[] = {"alive",  "late",   "dead",    "stopped",
					     "exited", "failed", "expected", "missing",
					     "unwatched"};
#define METRICS_NSTATES (sizeof(metrics_states) / sizeof(metrics_states[0]))

/* The supervisor's counters, each a counter of its own. */
static const struct metrics_counter {
	const char *name;
	const char *help;
	size_t offset; /* of a uint64_t in struct supervisor_counters */
} metrics_counters[] = {
    {"vigil_datagrams_total", "Datagrams received on the heartbeat socket.",
     offsetof(struct supervisor_counters, datagrams)},
    {"vigil_workers_rejected_total",
     "New worker names refused because --max-workers workers are registered.",
     offsetof(struct supervisor_counters, rejected_full)},
    {"vigil_ignored_lines_total",
     "Lines ignored in datagrams otherwise taken (unknown or malformed, as systemd ignores them).",
     offsetof(struct supervisor_counters, ignored_lines)},
    {"vigil_timeouts_sent_total", "TIMEOUT datagrams delivered to workers.",
     offsetof(struct supervisor_counters, timeouts_sent)},
    {"vigil_timeouts_undelivered_total",
     "TIMEOUT datagrams a worker's socket did not take (gone, full or refused).",
     offsetof(struct supervisor_counters, timeouts_undelivered)},
    {"vigil_pause_graces_total",
     "Expiries forgiven because the supervisor itself had been paused or starved.",
     offsetof(struct supervisor_counters, graces)},
    {"vigil_senders_refused_total",
     "New worker names refused because the sender is not on the allow-list.",
     offsetof(struct supervisor_counters, senders_refused)},
    {"vigil_impersonations_total",
     "Messages refused because they came from another uid than the one owning the name.",
     offsetof(struct supervisor_counters, impersonations)},
    {"vigil_signals_sent_total", "Signals sent to workers by --on-timeout.",
     offsetof(struct supervisor_counters, signals_sent)},
    {"vigil_signals_refused_total",
     "Signals of --on-timeout not sent: the pid was gone or no longer the worker's.",
     offsetof(struct supervisor_counters, signals_refused)},
    {"vigil_stalls_total",
     "Times a worker's timer ran 100 ms or more late: the supervisor itself was stalled.",
     offsetof(struct supervisor_counters, stalls)},
    {"vigil_exits_unwatched_total",
     "Workers not watched for their exit (--detect-exit): the descriptor budget was spent.",
     offsetof(struct supervisor_counters, exits_unwatched)},
    {"vigil_helper_pings_total",
     "Messages from a helper of a name's service (another live process of its unit), counted "
     "for the name with its main process's pid.",
     offsetof(struct supervisor_counters, helper_pings)},
    {"vigil_conflict_heartbeats_total",
     "Heartbeats from a rival claimant: a second live process for a name, counted for none.",
     offsetof(struct supervisor_counters, conflict_beats)},
    {"vigil_seq_resets_total", "Heartbeats whose SEQ= went back for the same process.",
     offsetof(struct supervisor_counters, seq_resets)},
};
#define METRICS_NCOUNTERS (sizeof(metrics_counters) / sizeof(metrics_counters[0]))

/* The metrics with one sample per worker, in the order they are written. */
enum metrics_worker_metric {
	MW_STATE,
	MW_UP,
	MW_HEARTBEATS,
	MW_TIMEOUTS,
	MW_RESTARTS,
	MW_AGE,
	MW_TIMEOUT,
	MW_N
};

static const struct metrics_family {
	const char *name;
	const char *type;
	const char *help;
} metrics_worker_families[MW_N] = {
    [MW_STATE] = {"vigil_worker_state", "gauge",
		  "1 for each worker, with its state (alive, late, dead, stopped, exited, failed, "
		  "expected, missing)."},
    [MW_UP] = {"vigil_worker_up", "gauge", "1 if the worker is alive or late, else 0."},
    [MW_HEARTBEATS] = {"vigil_worker_heartbeats_total", "counter",
		       "Valid heartbeats received from the worker."},
    [MW_TIMEOUTS] = {"vigil_worker_timeouts_total", "counter",
		     "Timeout periods the worker missed (each one reported and answered)."},
    [MW_RESTARTS] = {"vigil_worker_restarts_total", "counter",
		     "Times a new process took over the worker's name."},
    [MW_AGE] = {"vigil_worker_last_heartbeat_age_seconds", "gauge",
		"Seconds since the worker's last heartbeat."},
    [MW_TIMEOUT] = {"vigil_worker_timeout_seconds", "gauge",
		    "The silence after which the worker is declared dead."},
};

size_t
metrics_escape_label(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = in; *p != '\0'; p++) {
		const char *rep = NULL;
		char one[2] = {*p, '\0'};

		switch (*p) {
		case '\\':
			rep = "\\\\";
			break;
		case '"':
			rep = "\\\"";
			break;
		case '\n':
			rep = "\\n";
			break;
		default:
			rep = one;
			break;
		}
		for (; *rep != '\0'; rep++, n++)
			if (cap > 0 && n < cap - 1)
				out[n] = *rep;
	}
	if (cap > 0)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}

char *
metrics_seconds(uint64_t usec, char *out, size_t cap)
{
	uint64_t frac = usec % 1000000;
	int digits = 6;

	if (frac == 0) {
		snprintf(out, cap, "%" PRIu64, usec / 1000000);
		return out;
	}
	while (frac % 10 == 0) {
		frac /= 10;
		digits--;
	}
	snprintf(out, cap, "%" PRIu64 ".%0*" PRIu64, usec / 1000000, digits, frac);
	return out;
}

/* Append "# HELP" and "# TYPE" for a metric. */
static int
metrics_header(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type) < 0
		   ? -1
		   : 0;
}

/* Append a metric with a single unlabelled sample. */
static int
metrics_single(struct evbuffer *out, const char *name, const char *type, const char *help,
	       const char *value)
{
	if (metrics_header(out, name, type, help) == -1)
		return -1;
	return evbuffer_add_printf(out, "%s %s\n", name, value) < 0 ? -1 : 0;
}

/* The supervisor's own metrics, the state counts among them. */
_Static_assert(METRICS_NSTATES == METRICS_NSTATES_MAX, "metrics_doc.by_state has a slot a state");

static int
metrics_supervisor(const struct metrics_input *in, const uint64_t *by_state,
		   struct evbuffer *out)
{
	const struct supervisor_counters *c = in->counters;
	char label[64], v[32];
	int ok;

	metrics_escape_label(in->version, label, sizeof(label));
	ok = metrics_header(out, "vigil_build_info", "gauge",
			    "Always 1; the version of vigil-supervisor is a label.") == 0 &&
	     evbuffer_add_printf(out, "vigil_build_info{version=\"%s\"} 1\n", label) > 0;
	ok = ok && metrics_single(out, "vigil_start_time_seconds", "gauge",
				  "When the supervisor started, in seconds since the Unix epoch.",
				  metrics_seconds(in->start_time, v, sizeof(v))) == 0;
	snprintf(v, sizeof(v), "%zu", in->max_workers);
	ok = ok && metrics_single(out, "vigil_max_workers", "gauge",
				  "Most workers tracked at once (--max-workers).", v) == 0;
	ok = ok && metrics_header(out, "vigil_workers", "gauge", "Workers in each state.") == 0;
	for (size_t i = 0; ok && i < METRICS_NSTATES; i++)
		ok = evbuffer_add_printf(out, "vigil_workers{state=\"%s\"} %" PRIu64 "\n",
					 metrics_states[i], by_state[i]) > 0;
	for (size_t i = 0; ok && i < METRICS_NCOUNTERS; i++) {
		const struct metrics_counter *m = &metrics_counters[i];
		const uint64_t *value = (const uint64_t *)(const void *)((const char *)c + m->offset);
		snprintf(v, sizeof(v), "%" PRIu64, *value);
		ok = metrics_single(out, m->name, "counter", m->help, v) == 0;
	}
	ok = ok && metrics_header(out, "vigil_invalid_datagrams_total", "counter",
				  "Datagrams dropped as malformed, by reason.") == 0;
	for (int code = 1; ok && code < VIGIL_WIRE_NERR; code++)
		ok = evbuffer_add_printf(out, "vigil_invalid_datagrams_total{reason=\"%s\"} %" PRIu64
					      "\n",
					 vigil_wire_strerror(code), c->invalid[code]) > 0;
	/* The events of the log's EVENT= field and of `vigilctl events`, counted. */
	ok = ok && metrics_header(out, "vigil_events_total", "counter",
				  "Events about workers, by event (as in the log and vigilctl "
				  "events).") == 0;
	for (int e = 0; ok && e < SV_EVENT_NTYPES; e++)
		ok = evbuffer_add_printf(out, "vigil_events_total{event=\"%s\"} %" PRIu64 "\n",
					 events_name(e), in->events ? in->events[e] : 0) > 0;
	snprintf(v, sizeof(v), "%" PRIu64, in->hooks_started);
	ok = ok && metrics_single(out, "vigil_hooks_started_total", "counter",
				  "Hooks (--on-timeout exec:) started.", v) == 0;
	snprintf(v, sizeof(v), "%" PRIu64, in->hooks_refused);
	ok = ok && metrics_single(out, "vigil_hooks_refused_total", "counter",
				  "Hooks not started: too many were running.", v) == 0;
	snprintf(v, sizeof(v), "%" PRIu64, in->hooks_killed);
	ok = ok && metrics_single(out, "vigil_hooks_killed_total", "counter",
				  "Hooks killed at their time limit (--hook-timeout).", v) == 0;
	snprintf(v, sizeof(v), "%zu", in->http_connections);
	ok = ok && metrics_single(out, "vigil_http_connections", "gauge",
				  "Connections open to this HTTP endpoint.", v) == 0;
	ok = ok && metrics_single(out, "vigil_timer_lateness_max_seconds", "gauge",
				  "The most any worker's timer ran after its deadline, since the "
				  "supervisor started.",
				  metrics_seconds(c->timer_late_max, v, sizeof(v))) == 0;
	return ok ? 0 : -1;
}

/* Count w's state at now in by_state. */
static void
metrics_count_state(const struct worker *w, uint64_t now, uint64_t *by_state)
{
	const char *state = state_name(&w->core, now);

	for (size_t i = 0; i < METRICS_NSTATES; i++) {
		if (strcmp(state, metrics_states[i]) == 0) {
			by_state[i]++;
			return;
		}
	}
}

/* Append w's sample of one per-worker metric to out. */
static int
metrics_worker(const struct worker *w, uint64_t now, enum metrics_worker_metric m,
	       struct evbuffer *out)
{
	const struct worker_core *c = &w->core;
	const char *state = state_name(c, now);
	char name[2 * VIGIL_NAME_MAX + 1], v[32];
	int up = strcmp(state, "alive") == 0 || strcmp(state, "late") == 0;

	metrics_escape_label(w->name, name, sizeof(name));
	switch (m) {
	case MW_STATE:
		return evbuffer_add_printf(out, "vigil_worker_state{worker=\"%s\",state=\"%s\"} 1\n",
					   name, state) < 0 ? -1 : 0;
	case MW_UP:
		return evbuffer_add_printf(out, "vigil_worker_up{worker=\"%s\"} %d\n", name, up) < 0
			   ? -1
			   : 0;
	case MW_HEARTBEATS:
		return evbuffer_add_printf(out, "vigil_worker_heartbeats_total{worker=\"%s\"} %" PRIu64
						"\n",
					   name, c->heartbeats) < 0 ? -1 : 0;
	case MW_TIMEOUTS:
		return evbuffer_add_printf(out, "vigil_worker_timeouts_total{worker=\"%s\"} %" PRIu64
						"\n",
					   name, c->timeouts) < 0 ? -1 : 0;
	case MW_RESTARTS:
		return evbuffer_add_printf(out, "vigil_worker_restarts_total{worker=\"%s\"} %" PRIu64
						"\n",
					   name, c->restarts) < 0 ? -1 : 0;
	case MW_AGE:
		metrics_seconds(now > c->last_hb ? now - c->last_hb : 0, v, sizeof(v));
		return evbuffer_add_printf(out,
					   "vigil_worker_last_heartbeat_age_seconds{worker=\"%s\"} %s\n",
					   name, v) < 0 ? -1 : 0;
	case MW_TIMEOUT:
		metrics_seconds(c->timeout, v, sizeof(v));
		return evbuffer_add_printf(out, "vigil_worker_timeout_seconds{worker=\"%s\"} %s\n",
					   name, v) < 0 ? -1 : 0;
	case MW_N:
		break;
	}
	return -1;
}

int
metrics_start(struct metrics_doc *d, struct registry *r)
{
	memset(d, 0, sizeof(*d));
	return walk_start(&d->walk, r);
}

int
metrics_step(struct metrics_doc *d, const struct metrics_input *in, struct evbuffer *out,
	     const struct slice *sl)
{
	unsigned tick = 0;
	struct worker *w;

	if (!walk_prepare(&d->walk, sl))
		return 0;
	/* First a pass that counts the workers by state, for the supervisor's part. */
	if (!d->counted) {
		while ((w = walk_next(&d->walk)) != NULL) {
			metrics_count_state(w, in->now, d->by_state);
			if (slice_over(sl, &tick))
				return 0;
		}
		d->counted = 1;
		if (metrics_supervisor(in, d->by_state, out) == -1)
			return -1;
	}
	/* Then one pass over the workers per family: a family's samples are contiguous. */
	while (d->family < MW_N) {
		if (!d->started_family) {
			const struct metrics_family *f = &metrics_worker_families[d->family];
			if (metrics_header(out, f->name, f->type, f->help) == -1)
				return -1;
			walk_rewind(&d->walk);
			d->started_family = 1;
		}
		for (;;) {
			if (slice_full(sl, evbuffer_get_length(out), &tick))
				return 0;
			if ((w = walk_next(&d->walk)) == NULL)
				break;
			if (metrics_worker(w, in->now, d->family, out) == -1)
				return -1;
		}
		d->family++;
		d->started_family = 0;
	}
	return 1;
}

void
metrics_end(struct metrics_doc *d)
{
	walk_end(&d->walk);
	memset(d, 0, sizeof(*d));
}

int
metrics_render(const struct metrics_input *in, struct registry *r, struct evbuffer *out)
{
	struct metrics_doc d;
	int rc;

	if (metrics_start(&d, r) == -1)
		return -1;
	while ((rc = metrics_step(&d, in, out, &slice_whole)) == 0)
		;
	metrics_end(&d);
	return rc == 1 ? 0 : -1;
}
