/*
 * proc.h: helpers for tests that start the real binaries: a private
 * temporary directory, spawning with output to a log file, waiting for a
 * condition instead of sleeping, and reading status through vigilctl --json.
 * Everything here kills only the pids it started.
 */
#ifndef VIGIL_TEST_PROC_H
#define VIGIL_TEST_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* A fresh directory under $TMPDIR (mkdtemp); aborts the test on failure. */
void vt_tmpdir(char *out, size_t cap);

/* Remove dir and everything in it. */
void vt_rmdir(const char *dir);

/* Start argv[0] with stdout and stderr appended to log; returns the pid. */
pid_t vt_spawn(const char *log, char *const argv[]);

/*
 * Run argv to completion, capturing stdout into out, and stderr too if merge
 * (else stderr is discarded). Returns the exit status, -1 if killed.
 */
int vt_run(char *const argv[], char *out, size_t cap, int merge);

/* Send sig to pid (one we started) and reap it if it exits within timeout_ms. */
int vt_stop(pid_t pid, int sig, int timeout_ms);

/* Wait up to timeout_ms for pid to exit; returns its wait status or -1 on timeout. */
int vt_wait_exit(pid_t pid, int timeout_ms);

/* Monotonic milliseconds. */
uint64_t vt_now_ms(void);

/* Poll pred(arg) every 10 ms until it returns non-zero or timeout_ms passes. */
int vt_wait_for(int (*pred)(void *arg), void *arg, int timeout_ms);

/* `vigilctl --control ctl status --json`, parsed; NULL if it failed. */
json_t *vt_status(const char *ctl);

/* The worker object called name in a status document, or NULL. */
json_t *vt_worker(json_t *status, const char *name);

/*
 * Whether a stream connection to the Unix socket at path (a const char *,
 * for vt_wait_for) is accepted: the file alone may be seen a moment before.
 */
int vt_accepts(void *path);

/*
 * Start the supervisor with argv (argv[0] its path), its output to log, and
 * wait until its control socket ctl accepts connections; the test fails
 * (with the log) if it does not within 5 s. Returns its pid.
 */
pid_t vt_start_supervisor(const char *log, const char *ctl, char *const argv[]);

/*
 * Wait up to timeout_ms for the string field key of worker name (vigilctl
 * status --json on ctl) to be value; else the test fails, with log shown.
 */
void vt_expect_worker(const char *ctl, const char *log, const char *name, const char *key,
		      const char *value, int timeout_ms);

/*
 * The clean end of a daemon a test started: continued if stopped, SIGTERM,
 * and expected to exit 0 within 3 s; *pid is then 0. Nothing if *pid is 0.
 */
void vt_stop_clean(pid_t *pid, const char *what);

/* Expect no sanitizer report in any of the n logs. */
void vt_expect_clean_logs(const char *const logs[], size_t n);

/* Whether the file at path contains needle. */
int vt_file_contains(const char *path, const char *needle);

/* Print a file to stderr (a failing test's logs). */
void vt_dump(const char *path);

/* Wait up to timeout_ms for the file at path to hold needle; else the test fails, showing it. */
void vt_expect_log(const char *path, const char *needle, int timeout_ms);

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
int vt_free_port(void);

/* "pid-PID": the name the supervisor gives a nameless sd_notify sender outside a service. */
const char *vt_pid_name(pid_t pid);

/* CPU time (user + system) pid has used, in clock ticks, from /proc/PID/stat. */
long vt_cpu_ticks(pid_t pid);

/* The value of the sample "series VALUE" in a Prometheus exposition, or -1 if absent. */
double vt_metric(const char *text, const char *series);

/*
 * The fixture of the integration suites (env.c): a private directory with
 * the daemons' paths, and every process a test starts through it, so that
 * the test ends them all, and only them. A suite holds one:
 *
 *	static struct vt_env e;
 *	static void setup(void) { vt_env_init(&e); }
 *	static void teardown(void) { vt_env_fini(&e); }
 *	TestSuite(name, .init = setup, .fini = teardown, .timeout = 30);
 *
 * and each test ends with vt_env_end(&e): Criterion does not count a failure
 * in .fini, so the clean end (exit 0, no sanitizer report) is checked there,
 * while vt_env_fini only kills what a failed test left behind.
 */
#define VT_ENV_MAX_PROCS 64

struct vt_env {
	char dir[256];  /* mkdtemp, removed by vt_env_fini */
	char sock[300]; /* dir/supervisor.sock: heartbeats */
	char ctl[300];  /* dir/control.sock */
	char log[300];  /* dir/supervisor.log */
	char wlog[300]; /* dir/worker.log: every worker's output */
	char addr[64];  /* 127.0.0.1:PORT, a free port, after vt_env_metrics */
	int port;
	const char *interval; /* the workers' --interval: "100ms" */
	pid_t sv;             /* the supervisor last started, or 0 */
	size_t nprocs;
	struct vt_env_proc {
		pid_t pid;
		int kind; /* VT_OTHER, VT_DAEMON or VT_SUPERVISOR (env.c) */
		char what[80];
	} procs[VT_ENV_MAX_PROCS];
};

/* A fresh directory and the paths in it; nothing runs yet. */
void vt_env_init(struct vt_env *e);

/* Choose a free port for --metrics: e->port, and e->addr "127.0.0.1:PORT". */
void vt_env_metrics(struct vt_env *e);

/* dir/name (a file of the test's own) into out. */
void vt_env_path(const struct vt_env *e, const char *name, char *out, size_t cap);

/* The socket of worker name, as vt_env_start_worker gives it: dir/workers/NAME.sock. */
void vt_env_worker_sock(const struct vt_env *e, const char *name, char *out, size_t cap);

/*
 * Start any program (argv[0] its path) with its output appended to log; it
 * is killed at the end of the test if it still runs (no exit status is
 * expected of it). Returns its pid.
 */
pid_t vt_env_spawn(struct vt_env *e, const char *log, char *const argv[]);

/*
 * vigil-supervisor --socket SOCK --control CTL, then the options given
 * (a NULL-terminated list), its output to e->log; waits until CTL accepts
 * (the test fails, with the log, if not within 5 s). Sets and returns e->sv.
 */
pid_t vt_env_start_supervisor(struct vt_env *e, ...) __attribute__((sentinel));

/* The same with a whole argv: the supervisor, or a wrapper that execs it (prlimit). */
pid_t vt_env_start_supervisor_argv(struct vt_env *e, char *const argv[]);

/*
 * vigil-worker --name NAME --supervisor SOCK --socket dir/workers/NAME.sock
 * --interval e->interval, then the options given (NULL-terminated, up to
 * 20), its output to e->wlog. Returns its pid at once (not waiting).
 */
pid_t vt_env_start_worker(struct vt_env *e, const char *name, ...) __attribute__((sentinel));

/* The same with the options as a NULL-terminated array (up to 20). */
pid_t vt_env_start_worker_opts(struct vt_env *e, const char *name, char *const opts[]);

/*
 * The clean end of a test: every daemon started through e that still runs
 * (workers first, the supervisor last) continued, sent SIGTERM and expected
 * to exit 0 within 3 s (vt_stop_clean); any other program killed; no
 * sanitizer report in e->log or e->wlog. A test may start daemons again after.
 */
void vt_env_end(struct vt_env *e);

/* For .fini: kill whatever a test left running, and remove the directory. */
void vt_env_fini(struct vt_env *e);

/* vigilctl status --json on e->ctl, parsed; NULL if it failed. */
json_t *vt_env_status(struct vt_env *e);

/* A counter in the supervisor's status (e.g. "timeouts_sent"); the test fails without status. */
json_int_t vt_env_counter(struct vt_env *e, const char *key);

/* Run script with /bin/sh, NOTIFY_SOCKET at the supervisor's socket; its output to e->wlog. */
pid_t vt_env_notifier(struct vt_env *e, const char *script);

/* Send msg as one datagram to the supervisor's heartbeat socket, from a socket of no address. */
void vt_env_send(struct vt_env *e, const char *msg);

/* The integer field key of worker name, or -1 if there is no such worker or field. */
json_int_t vt_env_worker_int(struct vt_env *e, const char *name, const char *key);

/*
 * Wait up to timeout_ms for worker name to be in state (and to have pid,
 * unless pid is 0); returns whether it was, and then its silent_s in
 * *silent_s (if not NULL).
 */
int vt_env_wait_state(struct vt_env *e, const char *name, const char *state, pid_t pid,
		      int timeout_ms, double *silent_s);

/* vt_env_wait_state, or the test fails with the supervisor's and workers' logs. */
void vt_env_expect_state(struct vt_env *e, const char *name, const char *state, pid_t pid,
			 int timeout_ms);

/* Wait up to timeout_ms for worker name's integer field key to be value; returns whether it was. */
int vt_env_wait_int(struct vt_env *e, const char *name, const char *key, json_int_t value,
		    int timeout_ms);

/* Wait up to timeout_ms for worker name to have had at least n heartbeats; returns whether. */
int vt_env_wait_beats(struct vt_env *e, const char *name, json_int_t n, int timeout_ms);

#endif
