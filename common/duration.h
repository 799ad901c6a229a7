/*
 * duration.h: durations on the command line and in output ("250ms", "1.5s",
 * "2min"). Values are microseconds. Pure functions.
 */
#ifndef VIGIL_DURATION_H
#define VIGIL_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_USEC_PER_MSEC 1000ULL
#define VIGIL_USEC_PER_SEC 1000000ULL

/*
 * Parse a duration: a decimal number (with an optional fraction) followed by
 * one of us, ms, s, min, h, exact to the microsecond. Returns 0 and *usec, or
 * -1 with a reason in why ("missing unit", "unknown unit", "too large",
 * "finer than a microsecond", ...).
 */
int vigil_duration_parse(const char *s, uint64_t *usec, const char **why);

/* Format usec as the shortest exact form among us, ms, s, min ("1.5s", "250ms"). */
void vigil_duration_format(uint64_t usec, char *buf, size_t cap);

/* Monotonic time in microseconds (CLOCK_MONOTONIC, the clock libevent's timers use). */
uint64_t vigil_now_usec(void);

/* This thread's CPU time in microseconds: a slice's own work, whatever the scheduler did meanwhile. */
uint64_t vigil_thread_cpu_usec(void);

#endif
