/*
 * policy.h: what the supervisor does about a timeout beyond reporting it
 * (--on-timeout). A policy is a ladder of steps, comma-separated:
 *   notify          report it: log and TIMEOUT datagram (always done)
 *   signal:SIG@N    send SIG (TERM, KILL, ...) when MISSED reaches N
 *   exec:PATH[@N]   run the program PATH (absolute) when MISSED reaches N (1)
 * e.g. "exec:/usr/local/bin/page@1,signal:TERM@2,signal:KILL@4", one step
 * per MISSED count, rising. Pure: parsing and lookup, no I/O.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define POLICY_MAX_STEPS 8
#define POLICY_PATH_MAX 256

struct policy_step {
	int sig;                     /* the signal to send; 0 for an exec step */
	char path[POLICY_PATH_MAX];  /* the program to run; "" for a signal step */
	uint64_t at;                 /* when MISSED reaches this */
};

struct policy {
	size_t n; /* 0: notify only */
	struct policy_step step[POLICY_MAX_STEPS];
};

/* Parse text into p; -1 with err naming the step that is wrong and why. */
int policy_parse(const char *text, struct policy *p, char *err, size_t errlen);

/* The step due when a worker's MISSED has just become missed; NULL if none. */
const struct policy_step *policy_step_at(const struct policy *p, uint64_t missed);

/* "notify", or the ladder as given, e.g. "signal:TERM@2,signal:KILL@4". */
void policy_describe(const struct policy *p, char *buf, size_t cap);

/*
 * --intensity R/W, as systemd's StartLimitBurst/StartLimitIntervalSec and
 * Erlang/OTP's restart intensity: more than R incidents (a new silence, a
 * restart, an exit) within a window of W marks a worker failed, and a
 * failed worker is escalated no further: no signals, no hooks.
 */
struct intensity {
	uint64_t max;    /* R; 0: no limit */
	uint64_t window; /* W, usec */
};

/* A worker's count of incidents in its current window. */
struct intensity_count {
	uint64_t start; /* when the window began */
	uint64_t n;     /* incidents in it */
};

/* Parse "R/W" (e.g. "5/60s") into in; -1 with err. */
int policy_parse_intensity(const char *text, struct intensity *in, char *err, size_t errlen);

/*
 * Count one incident at now; returns 1 if the worker is now over its
 * intensity. A window starts with the first incident after the previous
 * window has passed (a fixed window, as systemd's start limit).
 */
int policy_incident(const struct intensity *in, struct intensity_count *c, uint64_t now);

/* "TERM" for SIGTERM, for the signals a policy may name; NULL otherwise. */
const char *policy_signal_name(int sig);

#endif
