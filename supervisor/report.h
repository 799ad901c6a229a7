/*
 * report.h: what happened to a worker, told: each transition as an event
 * in the one vocabulary (events.h: kept for its history, streamed to
 * `vigilctl events`) and as a log line with its journal fields. It decides
 * nothing (monitor.c does) and acts on nothing but the events, the log and
 * its own summary timer.
 */
#ifndef VIGIL_REPORT_H
#define VIGIL_REPORT_H

#include <stdint.h>

#include "events.h"
#include "log.h"
#include "state.h"

struct supervisor;
struct worker;

/*
 * One event about w at now (monotonic), sig the signal it tells of (or 0):
 * kept, streamed to subscribers and logged, through rl unless that is NULL
 * (a subscriber sees every event the log would show, rate limits aside).
 */
void report_event(struct supervisor *sv, enum sv_event_type type, const struct worker *w,
		  uint64_t now, int sig, struct log_ratelimit *rl, enum log_level level,
		  const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/*
 * The same about another process than w's own (pid, a rival claimant), with
 * w's process as other_pid; rl as above.
 */
void report_event_of(struct supervisor *sv, enum sv_event_type type, const struct worker *w,
		     uint64_t pid, uint64_t other_pid, uint64_t now, struct log_ratelimit *rl,
		     enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 9, 10)));

/*
 * The state_apply() actions report_transition tells of: all but those the
 * monitor carries out itself (the timer; a TIMEOUT's line comes with its
 * escalation, report_timeout). The caller tests them first, so that a
 * heartbeat that changes nothing (STATE_ACT_ARM alone) costs no call.
 */
#define REPORT_ACTS (~(unsigned)(STATE_ACT_TIMEOUT | STATE_ACT_ARM | STATE_ACT_DISARM))

/* The events and log lines of a transition of w (act: state_apply()'s bits), in one order. */
void report_transition(struct supervisor *sv, const struct worker *w, unsigned act, uint64_t now);

/*
 * A missed period of w: its event and log line for every one up to MISSED 3,
 * then at 4, 8, 16, ...
 */
void report_timeout(struct supervisor *sv, const struct worker *w, uint64_t now);

/* At shutdown: say the summary of unlogged registrations now, and free its timer. */
void report_shutdown(struct supervisor *sv);

#endif
