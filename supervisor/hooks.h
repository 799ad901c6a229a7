/*
 * hooks.h: --on-timeout exec:PATH, the programs run about a worker. A hook
 * is started with posix_spawn (no shell), its environment holding only PATH
 * and what it is about (VIGIL_WORKER, VIGIL_EVENT, VIGIL_PID, VIGIL_MISSED,
 * VIGIL_SILENT_MS), stdin from /dev/null and our stdout and stderr. It never
 * blocks the loop: SIGCHLD reaps it and logs its exit status, and one still
 * running at its time limit is killed (SIGKILL) and reported so.
 */
#ifndef VIGIL_HOOKS_H
#define VIGIL_HOOKS_H

#include <stdint.h>

struct event_base;
struct hooks;

#define HOOKS_MAX_RUNNING 16 /* hooks at once; one more is refused and counted */

struct hook_event {
	const char *worker;
	const char *event; /* "timeout" */
	uint64_t pid;      /* the worker's, as the kernel vouched for it; 0 if unknown */
	uint64_t missed;
	uint64_t silent_ms;
};

/* Hooks for base, each allowed limit_usec; NULL if out of memory or SIGCHLD cannot be watched. */
struct hooks *hooks_new(struct event_base *base, uint64_t limit_usec);

/* Start path about ev; 0, or -1 with errno (EAGAIN: HOOKS_MAX_RUNNING are running). */
int hooks_run(struct hooks *h, const char *path, const struct hook_event *ev);

/* Hooks started, refused, and killed at their limit, for status. */
void hooks_counts(const struct hooks *h, uint64_t *started, uint64_t *refused, uint64_t *killed);

/* Kill (SIGKILL) and reap the hooks still running, then free h. */
void hooks_free(struct hooks *h);

#endif
