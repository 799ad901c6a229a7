/*
 * hooks.c: programs run about a worker. See hooks.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "duration.h"
#include "fdbudget.h"
#include "hooks.h"
#include "log.h"
#include "launch.h"
#include "wire.h"

struct hook {
	struct hooks *owner;
	pid_t pid;            /* 0: this slot is free */
	int killed;           /* it reached its limit and was sent SIGKILL */
	struct event *limit;  /* fires at the time limit */
	char what[512]; /* "PATH for worker NAME (timeout, missed N)", for logs */
};

struct hooks {
	struct event_base *base;
	uint64_t limit_usec;
	struct event *sigchld;
	struct hook run[HOOKS_MAX_RUNNING];
	uint64_t started, refused, killed;
};

static void
hook_limit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook *hk = arg;
	char d[32];

	(void)fd;
	(void)what;
	if (hk->pid == 0)
		return;
	/* Ended already, its SIGCHLD not yet read (left for the reaper): not one to kill. */
	siginfo_t info = {0};
	if (waitid(P_PID, (id_t)hk->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    info.si_pid != 0)
		return;
	/* The hook leads its own session and process group: take its children too. */
	kill(-hk->pid, SIGKILL);
	hk->killed = 1;
	hk->owner->killed++;
	vigil_duration_format(hk->owner->limit_usec, d, sizeof(d));
	log_warnx("hook %s still running after its %s limit: killed", hk->what, d);
}

/* SIGCHLD: reap every hook that ended and say how. */
static void
hooks_sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hooks *h = arg;
	int status;
	pid_t pid;

	(void)fd;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++) {
			struct hook *hk = &h->run[i];
			if (hk->pid != pid)
				continue;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				log_info("hook %s exited 0", hk->what);
			else if (WIFEXITED(status))
				log_warnx("hook %s exited %d", hk->what, WEXITSTATUS(status));
			else if (WIFSIGNALED(status) && !hk->killed)
				log_warnx("hook %s killed by signal %d", hk->what, WTERMSIG(status));
			event_del(hk->limit);
			hk->pid = 0;
			break;
		}
	}
}

struct hooks *
hooks_new(struct event_base *base, uint64_t limit_usec)
{
	struct hooks *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->base = base;
	h->limit_usec = limit_usec;
	h->sigchld = evsignal_new(base, SIGCHLD, hooks_sigchld_cb, h);
	if (h->sigchld == NULL || event_add(h->sigchld, NULL) == -1) {
		hooks_free(h);
		return NULL;
	}
	for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++) {
		h->run[i].owner = h;
		h->run[i].limit = evtimer_new(base, hook_limit_cb, &h->run[i]);
		if (h->run[i].limit == NULL) {
			hooks_free(h);
			return NULL;
		}
	}
	return h;
}

int
hooks_run(struct hooks *h, const char *path, const struct hook_event *ev)
{
	struct hook *hk = NULL;

	for (size_t i = 0; i < HOOKS_MAX_RUNNING && hk == NULL; i++)
		if (h->run[i].pid == 0)
			hk = &h->run[i];
	if (hk == NULL) {
		h->refused++;
		errno = EAGAIN;
		return -1;
	}

	char env[6][VIGIL_NAME_MAX + 32];
	snprintf(env[0], sizeof(env[0]), "VIGIL_WORKER=%s", ev->worker);
	snprintf(env[1], sizeof(env[1]), "VIGIL_EVENT=%s", ev->event);
	snprintf(env[2], sizeof(env[2]), "VIGIL_PID=%" PRIu64, ev->pid);
	snprintf(env[3], sizeof(env[3]), "VIGIL_MISSED=%" PRIu64, ev->missed);
	snprintf(env[4], sizeof(env[4]), "VIGIL_SILENT_MS=%" PRIu64, ev->silent_ms);
	snprintf(env[5], sizeof(env[5]), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
					 "/sbin:/bin");
	char *envp[] = {env[0], env[1], env[2], env[3], env[4], env[5], NULL};
	char *argv[] = {(char *)path, NULL};

	/* Its own session, so that a kill at the limit takes its children; none of our fds. */
	pid_t pid;
	fdbudget_child_begin();
	int rc = vigil_spawn(&pid, argv, envp, VIGIL_SPAWN_CLOSE_FDS | VIGIL_SPAWN_NEW_SESSION);
	fdbudget_child_end();
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	hk->pid = pid;
	hk->killed = 0;
	snprintf(hk->what, sizeof(hk->what), "%s for worker %s (%s, missed %" PRIu64 ")",
		 path, ev->worker, ev->event, ev->missed);
	struct timeval tv = {.tv_sec = (time_t)(h->limit_usec / 1000000),
			     .tv_usec = (suseconds_t)(h->limit_usec % 1000000)};
	event_add(hk->limit, &tv);
	h->started++;
	return 0;
}

void
hooks_counts(const struct hooks *h, uint64_t *started, uint64_t *refused, uint64_t *killed)
{
	*started = h != NULL ? h->started : 0;
	*refused = h != NULL ? h->refused : 0;
	*killed = h != NULL ? h->killed : 0;
}

void
hooks_free(struct hooks *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < HOOKS_MAX_RUNNING; i++) {
		struct hook *hk = &h->run[i];
		if (hk->pid != 0) {
			kill(-hk->pid, SIGKILL);
			waitpid(hk->pid, NULL, 0);
		}
		if (hk->limit != NULL)
			event_free(hk->limit);
	}
	if (h->sigchld != NULL)
		event_free(h->sigchld);
	free(h);
}
