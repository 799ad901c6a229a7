/*
 * report.c: transitions told as events and log lines. See report.h.
 *
 * Nothing here runs for a heartbeat that changes nothing: the monitor
 * calls report_transition only for the actions it tells of (REPORT_ACTS).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <event2/event.h>

#include "duration.h"
#include "report.h"
#include "supervisor.h"

static void
report_event_va(struct supervisor *sv, struct sv_event *ev, const struct worker *w, uint64_t now,
		struct log_ratelimit *rl, enum log_level level, const char *fmt, va_list ap)
{
	const struct worker_core *c = &w->core;
	struct log_fields f = {.worker = w->name, .event = events_name(ev->type), .pid = ev->pid,
			       .missed = ev->type == SV_EVENT_TIMEOUT ? ev->missed : 0};
	struct timespec ts;
	char msg[900];

	clock_gettime(CLOCK_REALTIME, &ts);
	ev->time_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	snprintf(ev->worker, sizeof(ev->worker), "%s", w->name);
	snprintf(ev->state, sizeof(ev->state), "%s", state_name(c, now));
	events_add(&sv->events, ev);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_fields(rl, now, level, &f, "%s", msg);
}

void
report_event_of(struct supervisor *sv, enum sv_event_type type, const struct worker *w,
		uint64_t pid, uint64_t other_pid, uint64_t now, struct log_ratelimit *rl,
		enum log_level level, const char *fmt, ...)
{
	struct sv_event ev = {.type = type, .pid = pid, .other_pid = other_pid,
			      .seq = w->core.last_seq, .missed = type == SV_EVENT_TIMEOUT};
	const struct worker_claim *cl = w->claim;
	va_list ap;

	/* The silence of the process the event is about: the rival's own, or the name's. */
	uint64_t last = cl != NULL && cl->rival_pid == pid ? cl->rival_last_hb : w->core.last_hb;
	ev.silent_ms = last != 0 && now > last ? (now - last) / 1000 : 0;
	va_start(ap, fmt);
	report_event_va(sv, &ev, w, now, rl, level, fmt, ap);
	va_end(ap);
}

void
report_event(struct supervisor *sv, enum sv_event_type type, const struct worker *w,
	     uint64_t now, int sig, struct log_ratelimit *rl, enum log_level level,
	     const char *fmt, ...)
{
	const struct worker_core *c = &w->core;
	struct sv_event ev = {.type = type, .pid = c->pid, .seq = c->last_seq,
			      .missed = c->missed, .sig = sig};
	va_list ap;

	ev.silent_ms = c->last_hb != 0 && now > c->last_hb ? (now - c->last_hb) / 1000 : 0;
	va_start(ap, fmt);
	report_event_va(sv, &ev, w, now, rl, level, fmt, ap);
	va_end(ap);
}

/*
 * Log a timeout: every one up to MISSED 3, then at 4, 8, 16, ... (the TIMEOUT
 * datagram still goes out every period), and across all workers at most a
 * burst per second, so that neither one silent worker nor a crowd of them
 * with tiny timeouts can flood the journal.
 */
void
report_timeout(struct supervisor *sv, const struct worker *w, uint64_t now)
{
	const struct worker_core *c = &w->core;
	uint64_t silent = now - c->last_hb;
	char d1[32], d2[32];

	if (c->missed > 3 && (c->missed & (c->missed - 1)) != 0)
		return;
	vigil_duration_format(c->timeout, d1, sizeof(d1));
	snprintf(d2, sizeof(d2), "%" PRIu64 ".%03" PRIu64 "ms", silent / 1000, silent % 1000);
	report_event(sv, SV_EVENT_TIMEOUT, w, now, 0, &sv->rl_timeouts, LOG_LEVEL_WARN,
		     "worker %s timed out (pid %" PRIu64 ", missed %" PRIu64
		     ", silent for %s, timeout %s, last seq %" PRIu64 ")%s",
		     w->name, c->pid, c->missed, d2, d1, c->last_seq,
		     c->missed == 3 ? " (further reports at missed 4, 8, 16, ...)" : "");
}

/* A second after registrations went unlogged: say how many, if no line has said it since. */
static void
report_summary_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sv = arg;
	uint64_t n = sv->rl_registered.suppressed;

	(void)fd;
	(void)what;
	if (n == 0)
		return;
	sv->rl_registered.suppressed = 0;
	log_info("%" PRIu64 " more workers registered without a line each (at most %" PRIu64
		 " such lines a second; vigilctl events shows every one)",
		 n, sv->rl_registered.burst);
}

/* Arm the summary of unlogged registrations, once. */
static void
report_summary_later(struct supervisor *sv)
{
	struct timeval sec = {.tv_sec = 1};

	if (sv->registered_summary == NULL &&
	    (sv->registered_summary = evtimer_new(sv->base, report_summary_cb, sv)) == NULL)
		return;
	if (!evtimer_pending(sv->registered_summary, NULL))
		evtimer_add(sv->registered_summary, &sec);
}

/* Step 1 of monitor_apply: the events and log lines of the transition itself. */
void
report_transition(struct supervisor *sv, const struct worker *w, unsigned act, uint64_t now)
{
	const struct worker_core *c = &w->core;
	char d[32];

	if (act & STATE_ACT_REGISTERED) {
		vigil_duration_format(c->timeout, d, sizeof(d));
		/* Rate-limited: a spray of names must not flood the journal (a summary follows). */
		uint64_t dropped = sv->rl_registered.suppressed;
		report_event(sv, SV_EVENT_REGISTERED, w, now, 0, &sv->rl_registered,
			     LOG_LEVEL_INFO,
			     "worker %s registered (pid %" PRIu64 ", seq %" PRIu64 ", timeout %s)",
			     w->name, c->pid, c->last_seq, d);
		if (sv->rl_registered.suppressed > dropped)
			report_summary_later(sv);
	}
	/* Rate-limited: a one-shot sender (socat) is a new pid every time. */
	if (act & STATE_ACT_RESTARTED)
		report_event(sv, SV_EVENT_RESTARTED, w, now, 0, &sv->rl_restart, LOG_LEVEL_INFO,
			     "worker %s restarted (new pid %" PRIu64 ", restarts %" PRIu64 ")",
			     w->name, c->pid, c->restarts);
	if (act & STATE_ACT_RECOVERED)
		report_event(sv, SV_EVENT_RECOVERED, w, now, 0, NULL, LOG_LEVEL_INFO,
			     "worker %s recovered (pid %" PRIu64 ", seq %" PRIu64 ")", w->name,
			     c->pid, c->last_seq);
	if (act & STATE_ACT_RESUMED)
		report_event(sv, SV_EVENT_RESUMED, w, now, 0, NULL, LOG_LEVEL_INFO,
			     "worker %s is back after stopping (pid %" PRIu64 ")", w->name, c->pid);
	if (act & STATE_ACT_GRACE)
		sv->counters.graces++;
	if (act & STATE_ACT_STOPPED)
		report_event(sv, SV_EVENT_STOPPED, w, now, 0, NULL, LOG_LEVEL_INFO,
			     "worker %s stopped (pid %" PRIu64 ")", w->name, c->pid);
	if (act & STATE_ACT_EXITED)
		report_event(sv, SV_EVENT_EXITED, w, now, 0, &sv->rl_timeouts, LOG_LEVEL_WARN,
			     "worker %s exited (pid %" PRIu64 ", without STOPPING=1)", w->name,
			     c->pid);
	if (act & STATE_ACT_UNWATCHED)
		report_event(sv, SV_EVENT_UNWATCHED, w, now, 0, NULL, LOG_LEVEL_INFO,
			     "worker %s turned its watchdog off (WATCHDOG_USEC=0): no timeout "
			     "until it sets one again",
			     w->name);
	if (act & STATE_ACT_WATCHED) {
		vigil_duration_format(c->timeout, d, sizeof(d));
		report_event(sv, SV_EVENT_WATCHED, w, now, 0, NULL, LOG_LEVEL_INFO,
			     "worker %s is watched again (timeout %s)", w->name, d);
	}
	if (act & STATE_ACT_MISSING) {
		vigil_duration_format(sv->set->startup_grace, d, sizeof(d));
		report_event(sv, SV_EVENT_MISSING, w, now, 0, NULL, LOG_LEVEL_WARN,
			     "worker %s is missing: expected, and no heartbeat within %s", w->name,
			     d);
	}
}

void
report_shutdown(struct supervisor *sv)
{
	if (sv->registered_summary == NULL)
		return;
	report_summary_cb(-1, 0, sv);
	event_free(sv->registered_summary);
	sv->registered_summary = NULL;
}
