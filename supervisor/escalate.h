/*
 * escalate.h: the policy carried out for a worker the monitor judged: the
 * TIMEOUT datagram (through the struct monitor_io installed in the
 * context), --on-timeout's signals and hooks, and --intensity's count of
 * incidents. It decides nothing about the worker's state (monitor.c and
 * state.c do) and tells what it did through report.h.
 */
#ifndef VIGIL_ESCALATE_H
#define VIGIL_ESCALATE_H

#include <stdint.h>

struct policy;
struct supervisor;
struct worker;

/* w's --on-timeout: its [worker NAME] section's, else the global one. */
const struct policy *escalate_policy(const struct supervisor *sv, const struct worker *w);

/*
 * A new silence, a restart or an exit of w: count it against its
 * --intensity; a worker over it is failed (core.failed), and said so once.
 */
void escalate_incident(struct supervisor *sv, struct worker *w, uint64_t now);

/*
 * A missed period of w: log it, tell the worker (TIMEOUT), and take its
 * policy's step for this MISSED count, unless it is failed.
 */
void escalate_timeout(struct supervisor *sv, struct worker *w, uint64_t now);

#endif
