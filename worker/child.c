/*
 * child.c: --exec's program and --check's health command. See child.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "sdnotify.h"
#include "sock.h"
#include "launch.h"
#include "sdproxy.h"
#include "worker.h"

struct child {
	struct worker_ctx *w;
	struct event *sigchld;
	pid_t program;       /* --exec's program while it runs */
	pid_t check;         /* the health check while it runs */
	struct event *limit; /* --check-timeout for the running check */
	struct event *period; /* --check: a check each heartbeat interval */
	struct event *stop;  /* --stop-timeout: KILL for a program that outlives its TERM */
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
	event_del(c->stop);
	if (w->stopping || w->program_stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		log_info("%s ended (%s): stopping", w->exec_argv[0], why);
		char err[VIGIL_ERRLEN];
		/* After a TERM we passed on, STOPPING=1 went out then (main.c). */
		if (!w->stopping && vigil_sd_notify("STOPPING=1", err, sizeof(err)) == -1)
			log_warnx("%s", err);
		if (!w->stopping)
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

/* --stop-timeout passed and the program still runs: KILL, as systemd would. */
static void
child_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	char d[32];

	(void)fd;
	(void)what;
	if (c->program == 0)
		return;
	vigil_duration_format(c->w->stop_timeout, d, sizeof(d));
	log_warnx("%s still runs %s after it was told to stop (--stop-timeout): killing it",
		  c->w->exec_argv[0], d);
	kill(c->program, SIGKILL);
}

int
child_forward(struct child *c, int sig)
{
	if (c == NULL || c->program == 0)
		return -1;
	if (kill(c->program, sig) == -1)
		return -1;
	if (sig == SIGTERM || sig == SIGINT) {
		uint64_t t = c->w->stop_timeout;
		struct timeval tv = {.tv_sec = (time_t)(t / 1000000),
				     .tv_usec = (suseconds_t)(t % 1000000)};
		if (!event_pending(c->stop, EV_TIMEOUT, NULL))
			event_add(c->stop, &tv);
	}
	return 0;
}

extern char **environ;

/*
 * The program's environment: ours, with the NOTIFY_SOCKET of our proxy;
 * relaying, the WATCHDOG_USEC/WATCHDOG_PID that make sd_watchdog_enabled()
 * true in it (WATCHDOG_PID's value written by the child: its own pid);
 * else without the ones that named us. NULL if out of memory.
 */
static char **
child_environment(struct child *c, char *usec_var, size_t usec_cap, char *pid_var,
		  size_t pid_cap)
{
	struct worker_ctx *w = c->w;
	size_t n = 0, k = 0;

	while (environ[n] != NULL)
		n++;
	char **env = calloc(n + 4, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0 &&
		    strncmp(environ[i], "WATCHDOG_USEC=", 14) != 0 &&
		    strncmp(environ[i], "WATCHDOG_PID=", 13) != 0)
			env[k++] = environ[i];
	env[k++] = (char *)sdproxy_env(w->proxy);
	if (w->relay) {
		snprintf(usec_var, usec_cap, "WATCHDOG_USEC=%llu", (unsigned long long)w->timeout);
		snprintf(pid_var, pid_cap, "WATCHDOG_PID=");
		env[k++] = usec_var;
		env[k++] = pid_var;
	}
	env[k] = NULL;
	return env;
}

/* Write pid in decimal at p (room for 20 digits); async-signal-safe, for the forked child. */
static void
child_put_pid(char *p, long pid)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	while (n > 0)
		*p++ = tmp[--n];
	*p = '\0';
}

/*
 * Start --exec's program as our child, bound to die with us: even if we
 * are killed with SIGKILL, the kernel sends it SIGKILL (PR_SET_PDEATHSIG;
 * we are one thread, so the death of our thread is ours). fork and exec
 * rather than posix_spawn, for that and for WATCHDOG_PID, its own pid.
 * 0, or an errno value (exec's failure comes back through a pipe).
 */
static int
child_exec_program(struct child *c)
{
	struct worker_ctx *w = c->w;
	char usec_var[48], pid_var[48];
	char **env = child_environment(c, usec_var, sizeof(usec_var), pid_var, sizeof(pid_var));
	int pfd[2], rc = 0;
	pid_t parent = getpid();

	if (env == NULL)
		return ENOMEM;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		rc = errno;
		free(env);
		return rc;
	}
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL); /* SIGPIPE ignored, libevent's handlers: not for it */
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* The parent may have died before prctl: then it is gone already. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
			_exit(127);
		if (w->relay)
			child_put_pid(pid_var + strlen("WATCHDOG_PID="), (long)getpid());
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull != -1 && devnull != 0) {
			dup2(devnull, 0);
			close(devnull);
		}
		execvpe(w->exec_argv[0], w->exec_argv, env);
		int e = errno;
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	if (pid == -1)
		rc = errno;
	close(pfd[1]);
	if (pid > 0) {
		int e;
		ssize_t r;
		while ((r = read(pfd[0], &e, sizeof(e))) == -1 && errno == EINTR)
			;
		if (r == (ssize_t)sizeof(e)) {
			rc = e;
			waitpid(pid, NULL, 0);
		} else
			c->program = pid;
	}
	close(pfd[0]);
	free(env);
	return rc;
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
	c->stop = evtimer_new(w->base, child_stop_cb, c);
	struct timeval iv = {.tv_sec = (time_t)(w->interval / 1000000),
			     .tv_usec = (suseconds_t)(w->interval % 1000000)};
	if (c->sigchld == NULL || c->limit == NULL || c->period == NULL || c->stop == NULL ||
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
		int rc = w->proxy != NULL ? child_exec_program(c) : ENOTCONN;
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
	if (c->stop != NULL)
		event_free(c->stop);
	if (c->sigchld != NULL)
		event_free(c->sigchld);
	free(c);
}
