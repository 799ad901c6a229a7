/*
 * child.c: --exec's program and --check's health command. See child.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "child.h"
#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "sdnotify.h"
#include "sock.h"
#include "launch.h"
#include "worker.h"

struct child {
	struct worker_ctx *w;
	struct event *sigchld;
	pid_t program;       /* --exec's program while it runs */
	pid_t check;         /* the health check while it runs */
	struct event *limit; /* --check-timeout for the running check */
	struct event *period; /* --check: a check each heartbeat interval */
	int check_killed;    /* the running check reached its limit */
	int healthy;         /* the last check passed */
	int checked;         /* a check has finished at least once */
};

/* "exit status N" or "killed by SIGNAME", for logs. */
static void
child_describe(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by %s", strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "status %d", status);
}

static void
child_check_done(struct child *c, int status)
{
	char why[64];
	int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	event_del(c->limit);
	c->check = 0;
	if (c->check_killed)
		snprintf(why, sizeof(why), "still running after --check-timeout, killed");
	else
		child_describe(status, why, sizeof(why));
	if (ok && (!c->healthy || !c->checked))
		log_info("health check passing: heartbeats %s", c->checked ? "resume" : "start");
	else if (!ok && (c->healthy || !c->checked))
		log_warnx("health check failing (%s): no heartbeats while it fails", why);
	int was = c->healthy;
	c->healthy = ok;
	c->checked = 1;
	if (ok && !was)
		heartbeat_send_now(c->w); /* healthy again: say so at once */
}

static void
child_program_done(struct child *c, int status)
{
	struct worker_ctx *w = c->w;
	char why[64];

	c->program = 0;
	child_describe(status, why, sizeof(why));
	if (w->stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		log_info("%s ended (%s): stopping", w->exec_argv[0], why);
		char err[VIGIL_ERRLEN];
		if (vigil_sd_notify("STOPPING=1", err, sizeof(err)) == -1)
			log_warnx("%s", err);
		heartbeat_send_stopping(w);
		w->exit_status = 0;
	} else {
		/* A failure: no STOPPING=1, so the supervisor reports it; our status is its. */
		log_warnx("%s ended (%s): exiting with its status", w->exec_argv[0], why);
		w->exit_status = WIFEXITED(status) ? WEXITSTATUS(status)
			       : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						     : 1;
	}
	event_base_loopbreak(w->base);
}

static void
child_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	int status;
	pid_t pid;

	(void)fd;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == c->check)
			child_check_done(c, status);
		else if (pid == c->program)
			child_program_done(c, status);
	}
}

static void
child_limit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	if (c->check != 0) {
		c->check_killed = 1;
		kill(-c->check, SIGKILL); /* the check's whole group: sh -c 'a | b' */
	}
}

/* Start a check unless one is running. */
static void
child_tick(struct child *c)
{
	if (c->w->check == NULL || c->check != 0)
		return;
	char *argv[] = {"/bin/sh", "-c", (char *)c->w->check, NULL};
	/* Its own group, for the kill at its limit to reach 'a | b'; quiet; none of our fds. */
	int rc = vigil_spawn(&c->check, argv, NULL,
			     VIGIL_SPAWN_CLOSE_FDS | VIGIL_SPAWN_QUIET | VIGIL_SPAWN_NEW_GROUP);
	if (rc != 0) {
		c->check = 0;
		c->healthy = 0;
		log_warnx("cannot run the health check: %s", strerror(rc));
		return;
	}
	c->check_killed = 0;
	uint64_t t = c->w->check_timeout;
	struct timeval tv = {.tv_sec = (time_t)(t / 1000000), .tv_usec = (suseconds_t)(t % 1000000)};
	event_add(c->limit, &tv);
}

static void
child_period_cb(evutil_socket_t fd, short what, void *arg)
{
	child_tick(arg);
}

int
child_healthy(const struct child *c)
{
	return c == NULL || c->w->check == NULL || c->healthy;
}

int
child_forward(struct child *c, int sig)
{
	if (c == NULL || c->program == 0)
		return -1;
	return kill(c->program, sig);
}

struct child *
child_start(struct worker_ctx *w, char *err, size_t errlen)
{
	struct child *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->w = w;
	c->sigchld = evsignal_new(w->base, SIGCHLD, child_sigchld_cb, c);
	c->limit = evtimer_new(w->base, child_limit_cb, c);
	c->period = event_new(w->base, -1, EV_PERSIST, child_period_cb, c);
	struct timeval iv = {.tv_sec = (time_t)(w->interval / 1000000),
			     .tv_usec = (suseconds_t)(w->interval % 1000000)};
	if (c->sigchld == NULL || c->limit == NULL || c->period == NULL ||
	    event_add(c->sigchld, NULL) == -1 || (w->check != NULL && event_add(c->period, &iv) == -1)) {
		snprintf(err, errlen, "cannot watch SIGCHLD");
		child_free(c);
		return NULL;
	}
	if (w->exec_argv != NULL) {
		/*
		 * Found in PATH, in our group, with what we were given: descriptors
		 * passed to us (systemd's LISTEN_FDS) go on to it; ours are CLOEXEC.
		 */
		int rc = vigil_spawn(&c->program, w->exec_argv, NULL, VIGIL_SPAWN_SEARCH_PATH);
		if (rc != 0) {
			snprintf(err, errlen, "cannot run %s: %s", w->exec_argv[0], strerror(rc));
			c->program = 0;
			child_free(c);
			return NULL;
		}
		log_info("running %s as pid %d", w->exec_argv[0], (int)c->program);
	}
	child_tick(c);
	return c;
}

void
child_free(struct child *c)
{
	if (c == NULL)
		return;
	if (c->check != 0) {
		kill(-c->check, SIGKILL);
		waitpid(c->check, NULL, 0);
	}
	if (c->program != 0) {
		/*
		 * We are going before it ended (a runtime error, or a second TERM
		 * while it would not stop): it must not outlive us, nor keep us.
		 */
		kill(c->program, SIGKILL);
		waitpid(c->program, NULL, 0);
	}
	if (c->limit != NULL)
		event_free(c->limit);
	if (c->period != NULL)
		event_free(c->period);
	if (c->sigchld != NULL)
		event_free(c->sigchld);
	free(c);
}
