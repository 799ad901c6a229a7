/*
 * child.h: the processes vigil-worker runs. With --exec, the program it
 * puts under vigil: started as our child, its end ends us (with its exit
 * status; STOPPING=1 only for a clean exit or one we asked for). With
 * --check, a health command (/bin/sh -c CMD) run at start and then once per
 * heartbeat interval, one at a time, killed at --check-timeout: heartbeats go out only while
 * the last one finished with status 0. SIGCHLD reaps both; nothing blocks.
 */
#ifndef VIGIL_CHILD_H
#define VIGIL_CHILD_H

#include <stddef.h>

struct child;
struct worker_ctx;

/* Watch SIGCHLD, run the first check now and start --exec's program; NULL with err. */
struct child *child_start(struct worker_ctx *w, char *err, size_t errlen);

/* The last check passed (always, without --check). */
int child_healthy(const struct child *c);

/* --exec: pass sig on to the program; 0, or -1 if there is none running. */
int child_forward(struct child *c, int sig);

/* Kill (SIGKILL) a check still running, reap what is left, free c. */
void child_free(struct child *c);

#endif
