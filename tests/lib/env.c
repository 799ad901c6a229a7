/*
 * env.c: the integration suites' fixture (struct vt_env in proc.h): a
 * private directory, the daemons started in it, and the end of each of
 * them. Every process is one this test started: a pid is signalled only
 * while it is still our child (running, or a zombie we have not reaped),
 * so a pid the test already reaped, which the system may have reused, is
 * never touched.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"

enum { VT_OTHER, VT_DAEMON, VT_SUPERVISOR };

/* Most arguments (the fixed ones and the options) of a daemon started here. */
#define VT_ENV_MAX_ARGS 32

void
vt_env_init(struct vt_env *e)
{
	memset(e, 0, sizeof(*e));
	vt_tmpdir(e->dir, sizeof(e->dir));
	vt_env_path(e, "supervisor.sock", e->sock, sizeof(e->sock));
	vt_env_path(e, "control.sock", e->ctl, sizeof(e->ctl));
	vt_env_path(e, "supervisor.log", e->log, sizeof(e->log));
	vt_env_path(e, "worker.log", e->wlog, sizeof(e->wlog));
	e->interval = "100ms";
}

void
vt_env_metrics(struct vt_env *e)
{
	e->port = vt_free_port();
	snprintf(e->addr, sizeof(e->addr), "127.0.0.1:%d", e->port);
}

void
vt_env_path(const struct vt_env *e, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", e->dir, name);
	cr_assert(n > 0 && (size_t)n < cap, "path %s/%s is too long", e->dir, name);
}

void
vt_env_worker_sock(const struct vt_env *e, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/workers/%s.sock", e->dir, name);
	cr_assert(n > 0 && (size_t)n < cap, "socket of %s is too long", name);
}

/* Whether pid is still a child of ours, not yet reaped (running or a zombie). */
static int
vt_env_is_child(pid_t pid)
{
	siginfo_t info = {0};
	return pid > 0 && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* Remember pid, of kind, as what; the same pid seen again (reused) replaces the old entry. */
static void
vt_env_track(struct vt_env *e, pid_t pid, int kind, const char *what)
{
	size_t i;

	for (i = 0; i < e->nprocs && e->procs[i].pid != pid; i++)
		;
	if (i == e->nprocs) {
		cr_assert_lt(e->nprocs, (size_t)VT_ENV_MAX_PROCS,
		             "more than %d processes in a test", VT_ENV_MAX_PROCS);
		e->nprocs++;
	}
	e->procs[i].pid = pid;
	e->procs[i].kind = kind;
	snprintf(e->procs[i].what, sizeof(e->procs[i].what), "%s", what);
}

pid_t
vt_env_spawn(struct vt_env *e, const char *log, char *const argv[])
{
	pid_t pid = vt_spawn(log, argv);

	vt_env_track(e, pid, VT_OTHER, argv[0]);
	return pid;
}

pid_t
vt_env_start_supervisor_argv(struct vt_env *e, char *const argv[])
{
	e->sv = vt_start_supervisor(e->log, e->ctl, argv);
	vt_env_track(e, e->sv, VT_SUPERVISOR, "supervisor");
	return e->sv;
}

/* Append the NULL-terminated options of ap to argv, from n; returns the new count. */
static size_t
vt_env_args(char **argv, size_t n, va_list ap)
{
	for (char *arg; (arg = va_arg(ap, char *)) != NULL;) {
		cr_assert_lt(n, (size_t)VT_ENV_MAX_ARGS, "too many options");
		argv[n++] = arg;
	}
	argv[n] = NULL;
	return n;
}

pid_t
vt_env_start_supervisor(struct vt_env *e, ...)
{
	char *argv[VT_ENV_MAX_ARGS + 1] = {VIGIL_SUPERVISOR_BIN, "--socket", e->sock, "--control",
					   e->ctl};
	va_list ap;

	va_start(ap, e);
	vt_env_args(argv, 5, ap);
	va_end(ap);
	return vt_env_start_supervisor_argv(e, argv);
}

pid_t
vt_env_start_worker_opts(struct vt_env *e, const char *name, char *const opts[])
{
	char wsock[400], what[80];
	char *argv[VT_ENV_MAX_ARGS + 1] = {VIGIL_WORKER_BIN, "--name", (char *)name, "--supervisor",
					   e->sock, "--socket", wsock, "--interval",
					   (char *)e->interval};
	size_t n = 9;

	vt_env_worker_sock(e, name, wsock, sizeof(wsock));
	for (size_t i = 0; opts[i] != NULL; i++) {
		cr_assert_lt(n, (size_t)VT_ENV_MAX_ARGS, "too many options");
		argv[n++] = opts[i];
	}
	argv[n] = NULL;
	pid_t pid = vt_spawn(e->wlog, argv);
	snprintf(what, sizeof(what), "worker %s", name);
	vt_env_track(e, pid, VT_DAEMON, what);
	return pid;
}

pid_t
vt_env_start_worker(struct vt_env *e, const char *name, ...)
{
	char *opts[VT_ENV_MAX_ARGS + 1];
	va_list ap;

	va_start(ap, name);
	vt_env_args(opts, 0, ap);
	va_end(ap);
	return vt_env_start_worker_opts(e, name, opts);
}

/* End each process of kind that is still ours, newest first. */
static void
vt_env_end_kind(struct vt_env *e, int kind)
{
	for (size_t i = e->nprocs; i-- > 0;) {
		struct vt_env_proc *p = &e->procs[i];
		if (p->kind != kind || !vt_env_is_child(p->pid))
			continue;
		if (kind == VT_OTHER)
			vt_stop(p->pid, SIGKILL, 2000);
		else
			vt_stop_clean(&p->pid, p->what);
	}
}

void
vt_env_end(struct vt_env *e)
{
	const char *logs[] = {e->log, e->wlog};

	vt_env_end_kind(e, VT_OTHER);
	vt_env_end_kind(e, VT_DAEMON);
	vt_env_end_kind(e, VT_SUPERVISOR);
	e->nprocs = 0;
	e->sv = 0;
	vt_expect_clean_logs(logs, 2);
}

void
vt_env_fini(struct vt_env *e)
{
	for (size_t i = e->nprocs; i-- > 0;)
		if (vt_env_is_child(e->procs[i].pid))
			vt_stop(e->procs[i].pid, SIGKILL, 2000);
	e->nprocs = 0;
	if (e->dir[0] != '\0')
		vt_rmdir(e->dir);
}

json_t *
vt_env_status(struct vt_env *e)
{
	return vt_status(e->ctl);
}

pid_t
vt_env_notifier(struct vt_env *e, const char *script)
{
	char *cmd = NULL;
	cr_assert_neq(asprintf(&cmd, "export NOTIFY_SOCKET=%s; %s", e->sock, script), -1);
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	pid_t pid = vt_env_spawn(e, e->wlog, argv);
	free(cmd);
	return pid;
}

void
vt_env_send(struct vt_env *e, const char *msg)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	cr_assert_lt(strlen(e->sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, e->sock, strlen(e->sock) + 1);
	ssize_t n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	close(fd);
	cr_assert_eq(n, (ssize_t)strlen(msg), "send to %s: %s", e->sock, strerror(err));
}

json_int_t
vt_env_counter(struct vt_env *e, const char *key)
{
	json_t *st = vt_status(e->ctl);

	cr_assert_not_null(st, "vigilctl status --json failed");
	json_int_t v = json_integer_value(json_object_get(json_object_get(st, "supervisor"), key));
	json_decref(st);
	return v;
}

json_int_t
vt_env_worker_int(struct vt_env *e, const char *name, const char *key)
{
	json_t *st = vt_status(e->ctl);
	json_t *v = st ? json_object_get(vt_worker(st, name), key) : NULL;
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(st);
	return n;
}

/* What vt_env_wait_state waits for. */
struct vt_env_want {
	struct vt_env *e;
	const char *name, *state, *key;
	pid_t pid;
	json_int_t value;
	double silent_s;
};

static int
vt_env_in_state(void *arg)
{
	struct vt_env_want *w = arg;
	json_t *st = vt_status(w->e->ctl);
	json_t *wk = st ? vt_worker(st, w->name) : NULL;
	const char *state = json_string_value(json_object_get(wk, "state"));
	int ok = state != NULL && strcmp(state, w->state) == 0 &&
		 (w->pid == 0 || json_integer_value(json_object_get(wk, "pid")) == w->pid);

	if (ok)
		w->silent_s = json_number_value(json_object_get(wk, "silent_s"));
	json_decref(st);
	return ok;
}

int
vt_env_wait_state(struct vt_env *e, const char *name, const char *state, pid_t pid,
		  int timeout_ms, double *silent_s)
{
	struct vt_env_want w = {.e = e, .name = name, .state = state, .pid = pid};

	if (!vt_wait_for(vt_env_in_state, &w, timeout_ms))
		return 0;
	if (silent_s != NULL)
		*silent_s = w.silent_s;
	return 1;
}

void
vt_env_expect_state(struct vt_env *e, const char *name, const char *state, pid_t pid,
		    int timeout_ms)
{
	if (!vt_env_wait_state(e, name, state, pid, timeout_ms, NULL)) {
		vt_dump(e->log);
		vt_dump(e->wlog);
		cr_assert_fail("worker %s did not become %s (pid %d) within %d ms", name, state,
			       (int)pid, timeout_ms);
	}
}

static int
vt_env_int_is(void *arg)
{
	struct vt_env_want *w = arg;
	json_t *st = vt_status(w->e->ctl);
	json_t *v = st ? json_object_get(vt_worker(st, w->name), w->key) : NULL;
	int ok = json_is_integer(v) && json_integer_value(v) == w->value;

	json_decref(st);
	return ok;
}

int
vt_env_wait_int(struct vt_env *e, const char *name, const char *key, json_int_t value,
		int timeout_ms)
{
	struct vt_env_want w = {.e = e, .name = name, .key = key, .value = value};
	return vt_wait_for(vt_env_int_is, &w, timeout_ms);
}

static int
vt_env_has_beats(void *arg)
{
	struct vt_env_want *w = arg;
	return vt_env_worker_int(w->e, w->name, "heartbeats") >= w->value;
}

int
vt_env_wait_beats(struct vt_env *e, const char *name, json_int_t n, int timeout_ms)
{
	struct vt_env_want w = {.e = e, .name = name, .value = n};
	return vt_wait_for(vt_env_has_beats, &w, timeout_ms);
}
