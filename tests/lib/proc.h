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

#endif
