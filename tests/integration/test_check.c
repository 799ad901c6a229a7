/*
 * test_check.c: `vigilctl check` as a monitoring plugin, against the real
 * supervisor and workers: for each state the exit status (0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN) and the one line with its performance data; an
 * unknown name, an unreachable supervisor and bad arguments are UNKNOWN.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"

static struct vt_env e;

static void
setup(void)
{
	vt_env_init(&e);
	e.interval = "100ms";
}

static void
teardown(void)
{
	vt_env_fini(&e);
}

TestSuite(check, .init = setup, .fini = teardown, .timeout = 40);

/*
 * vigilctl --control CTL check ARGS... (NULL-terminated): its exit status,
 * and all it printed (stdout and stderr) in out, which must be one line.
 */
static int
check(char *out, size_t cap, const char *ctl, ...)
{
	char *argv[16] = {VIGIL_CTL_BIN, "--control", (char *)ctl, "check"};
	size_t n = 4;
	va_list ap;

	va_start(ap, ctl);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 15;)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	int rc = vt_run(argv, out, cap, 1);
	char *nl = strchr(out, '\n');
	cr_expect(nl != NULL && nl[1] == '\0', "check printed not exactly one line: [%s]", out);
	return rc;
}

#define expect_check(want_rc, want_prefix, ...)                                                     \
	do {                                                                                        \
		char out_[2048];                                                                    \
		int rc_ = check(out_, sizeof(out_), e.ctl, __VA_ARGS__, NULL);                      \
		cr_expect_eq(rc_, want_rc, "exit %d, not %d: %s", rc_, want_rc, out_);              \
		cr_expect(strncmp(out_, want_prefix, strlen(want_prefix)) == 0,                     \
			  "the line does not start with [%s]: %s", want_prefix, out_);              \
	} while (0)

/* The line of a check on ctl, for tests that look further into it. */
static int
check_line(char *out, size_t cap, const char *name, const char *flag)
{
	return flag != NULL ? check(out, cap, e.ctl, flag, name, NULL)
			    : check(out, cap, e.ctl, name, NULL);
}

Test(check, alive_is_ok_with_performance_data)
{
	char out[2048];

	vt_env_start_supervisor(&e, "--timeout", "2s", NULL);
	vt_env_start_worker(&e, "w1", NULL);
	vt_env_expect_state(&e, "w1", "alive", 0, 3000);
	cr_expect_eq(check_line(out, sizeof(out), "w1", NULL), 0, "%s", out);
	cr_expect(strncmp(out, "VIGIL OK - w1 alive (silent ", 28) == 0, "%s", out);
	cr_expect(strstr(out, " of 2s) | 'w1 silent'=") != NULL, "%s", out);
	/* The silence's critical threshold is the timeout; missed and the counter of timeouts. */
	cr_expect(strstr(out, "s;;2.000;0 'w1 missed'=0;;1;0 'w1 timeouts'=0c\n") != NULL, "%s",
		  out);
	vt_env_end(&e);
}

Test(check, late_is_ok_or_with_warn_late_a_warning)
{
	char out[2048];

	vt_env_start_supervisor(&e, "--timeout", "3s", NULL);
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	vt_env_expect_state(&e, "w1", "alive", 0, 3000);
	kill(w, SIGSTOP); /* alive but silent: late after two intervals, dead after 3 s */
	vt_env_expect_state(&e, "w1", "late", 0, 2000);
	cr_expect_eq(check_line(out, sizeof(out), "w1", NULL), 0, "%s", out);
	cr_expect(strncmp(out, "VIGIL OK - w1 late ", 19) == 0, "%s", out);
	cr_expect_eq(check_line(out, sizeof(out), "w1", "--warn-late"), 1, "%s", out);
	cr_expect(strncmp(out, "VIGIL WARNING - w1 late ", 24) == 0, "%s", out);
	/* With --warn-late, the late threshold (two intervals) is the silence's warning one. */
	cr_expect(strstr(out, "s;0.200;3.000;0 ") != NULL, "%s", out);
	kill(w, SIGCONT);
	vt_env_expect_state(&e, "w1", "alive", 0, 3000);
	vt_env_end(&e);
}

Test(check, stopped_is_a_warning)
{
	vt_env_start_supervisor(&e, "--timeout", "1s", NULL);
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	vt_env_expect_state(&e, "w1", "alive", 0, 3000);
	vt_stop_clean(&w, "worker w1"); /* STOPPING=1 */
	vt_env_expect_state(&e, "w1", "stopped", 0, 3000);
	expect_check(1, "VIGIL WARNING - w1 stopped (", "w1");
	/* WARNING wins over UNKNOWN. */
	expect_check(1, "VIGIL WARNING - w1 stopped (", "w1", "nosuch");
	vt_env_end(&e);
}

/* A program that turned its watchdog off (WATCHDOG_USEC=0) is not timed: OK, said so. */
Test(check, unwatched_is_ok)
{
	vt_env_start_supervisor(&e, "--timeout", "300ms", NULL);
	vt_env_send(&e, "WORKER=u1\nWATCHDOG=1\nWATCHDOG_USEC=0\n");
	vt_env_expect_state(&e, "u1", "unwatched", 0, 3000);
	usleep(600 * 1000); /* two timeouts of silence: still not dead */
	expect_check(0, "VIGIL OK - u1 unwatched (", "u1");
	vt_env_end(&e);
}

Test(check, dead_is_critical_and_wins_over_alive_and_unknown)
{
	char out[2048];

	vt_env_start_supervisor(&e, "--timeout", "500ms", NULL);
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	vt_env_start_worker(&e, "w2", NULL);
	vt_env_expect_state(&e, "w1", "alive", 0, 3000);
	vt_env_expect_state(&e, "w2", "alive", 0, 3000);
	expect_check(0, "VIGIL OK - w1 alive (silent ", "w1", "w2");
	vt_stop(w, SIGKILL, 2000);
	vt_env_expect_state(&e, "w1", "dead", 0, 3000);
	int rc = check(out, sizeof(out), e.ctl, "w2", "w1", NULL);
	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strncmp(out, "VIGIL CRITICAL - w2 alive (", 27) == 0, "%s", out);
	cr_expect(strstr(out, ", w1 dead (silent ") != NULL && strstr(out, "missed 1") != NULL,
		  "%s", out);
	cr_expect(strstr(out, "'w1 timeouts'=1c") != NULL, "%s", out);
	/* CRITICAL > WARNING > UNKNOWN > OK, as monitoring-plugins' max_state_alt. */
	expect_check(2, "VIGIL CRITICAL - w1 dead", "w1", "nosuch");
	vt_env_end(&e);
}

Test(check, exited_and_failed_are_critical)
{
	vt_env_start_supervisor(&e, "--timeout", "2s", "--detect-exit", "--intensity", "1/60s",
				NULL);
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	vt_env_expect_state(&e, "w1", "alive", w, 3000);
	/* The exit is watched from a pid's second heartbeat on. */
	cr_assert(vt_env_wait_beats(&e, "w1", 2, 3000), "w1 never heartbeat twice");
	vt_stop(w, SIGKILL, 2000);
	vt_env_expect_state(&e, "w1", "exited", 0, 3000);
	expect_check(2, "VIGIL CRITICAL - w1 exited (", "w1");
	/* A second exit within the minute is over the intensity: failed. */
	w = vt_env_start_worker(&e, "w1", NULL);
	vt_env_expect_state(&e, "w1", "alive", w, 3000);
	json_t *st = vt_env_status(&e);
	json_int_t beats = json_integer_value(json_object_get(vt_worker(st, "w1"), "heartbeats"));
	json_decref(st);
	cr_assert(vt_env_wait_beats(&e, "w1", beats + 1, 3000), "the new w1 never heartbeat twice");
	vt_stop(w, SIGKILL, 2000);
	vt_env_expect_state(&e, "w1", "failed", 0, 3000);
	expect_check(2, "VIGIL CRITICAL - w1 failed (", "w1");
	vt_env_end(&e);
}

Test(check, expected_is_ok_then_missing_is_critical)
{
	char conf[300];

	vt_env_path(&e, "vigil.conf", conf, sizeof(conf));
	FILE *fp = fopen(conf, "w");
	cr_assert_not_null(fp);
	fputs("[supervisor]\nstartup-grace = 1s\n[worker ghost]\n", fp);
	cr_assert_eq(fclose(fp), 0);
	uint64_t t0 = vt_now_ms();
	vt_env_start_supervisor(&e, "--config", conf, NULL);
	char out[2048];
	int rc = check(out, sizeof(out), e.ctl, "ghost", NULL);
	if (vt_now_ms() - t0 < 800) { /* still in its grace (a loaded machine may be past it) */
		cr_expect_eq(rc, 0, "%s", out);
		cr_expect(strncmp(out, "VIGIL OK - ghost expected (", 27) == 0, "%s", out);
	}
	vt_env_expect_state(&e, "ghost", "missing", 0, 3000);
	expect_check(2, "VIGIL CRITICAL - ghost missing (", "ghost");
	vt_env_end(&e);
}

Test(check, unknown_name_is_unknown)
{
	vt_env_start_supervisor(&e, "--timeout", "2s", NULL);
	vt_env_start_worker(&e, "w1", NULL);
	vt_env_expect_state(&e, "w1", "alive", 0, 3000);
	expect_check(3, "VIGIL UNKNOWN - nosuch unknown to the supervisor", "nosuch");
	/* Beside an alive worker, still UNKNOWN: a mistyped name is never hidden by an OK. */
	expect_check(3, "VIGIL UNKNOWN - w1 alive (", "w1", "nosuch");
	vt_env_end(&e);
}

Test(check, unreachable_supervisor_is_unknown)
{
	char out[2048];
	/* No supervisor at all: e.ctl does not exist. */
	int rc = check(out, sizeof(out), e.ctl, "w1", NULL);
	cr_expect_eq(rc, 3, "%s", out);
	cr_expect(strncmp(out, "VIGIL UNKNOWN - cannot connect to ", 34) == 0, "%s", out);
	cr_expect(strstr(out, "No such file or directory (is vigil-supervisor running?)") != NULL,
		  "%s", out);
	/* A supervisor that went away: its socket file left, nobody listening. */
	pid_t sv = vt_env_start_supervisor(&e, "--timeout", "1s", NULL);
	kill(sv, SIGKILL);
	vt_wait_exit(sv, 2000);
	e.sv = 0;
	rc = check(out, sizeof(out), e.ctl, "w1", NULL);
	cr_expect_eq(rc, 3, "%s", out);
	cr_expect(strstr(out, "Connection refused") != NULL, "%s", out);
	vt_env_end(&e);
}

Test(check, bad_arguments_are_unknown_with_the_usage)
{
	vt_env_start_supervisor(&e, "--timeout", "1s", NULL);
	expect_check(3, "VIGIL UNKNOWN - usage: vigilctl check [--warn-late] NAME...: name at least",
		     "--warn-late");
	expect_check(3, "VIGIL UNKNOWN - usage: vigilctl check [--warn-late] NAME...: unknown argument --bogus",
		     "w1", "--bogus");
	expect_check(3, "VIGIL UNKNOWN - usage: vigilctl check [--warn-late] NAME...: invalid worker name",
		     "bad/name");
	vt_env_end(&e);
}

/* The README's shell loop: `until vigilctl check web-1 >/dev/null; do sleep 1; done` ends once it is up. */
Test(check, an_until_loop_waits_for_the_worker)
{
	char script[1024], out[256];

	vt_env_start_supervisor(&e, "--timeout", "2s", NULL);
	snprintf(script, sizeof(script),
		 "until %s --control %s check w1 >/dev/null; do sleep 0.1; done; echo up",
		 VIGIL_CTL_BIN, e.ctl);
	vt_env_path(&e, "until.out", out, sizeof(out));
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	pid_t loop = vt_env_spawn(&e, out, argv);
	usleep(500000);
	cr_expect_eq(vt_wait_exit(loop, 0), -1, "the loop ended before there was a worker");
	vt_env_start_worker(&e, "w1", NULL);
	int ws = vt_wait_exit(loop, 5000);
	cr_expect(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the loop did not end: %d", ws);
	cr_expect(vt_file_contains(out, "up"));
	vt_env_end(&e);
}
