/*
 * test_sdnotify.c: programs written for systemd's watchdog, with the real
 * clients (systemd-notify, python3-systemd, libsystemd's sd-client), against
 * the real supervisor: the conformance table of docs/PROTOCOL.md, a row a
 * test (sdnotify::*); vigil-worker --exec as their sd_notify proxy
 * (exec::*); the supervisor's own socket options (socket::*).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"

#define PYTHON "/usr/bin/python3" /* Debian's, where python3-systemd is */

static struct vt_env e;

static void
setup(void)
{
	vt_env_init(&e);
}

static void
teardown(void)
{
	vt_env_fini(&e);
}

TestSuite(sdnotify, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(exec, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(socket, .init = setup, .fini = teardown, .timeout = 30);

static json_int_t
counter(const char *key)
{
	return vt_env_counter(&e, key);
}

static json_int_t
invalid(const char *reason)
{
	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st);
	json_t *by = json_object_get(json_object_get(st, "supervisor"), "invalid_by_reason");
	json_int_t n = json_integer_value(json_object_get(by, reason));
	json_decref(st);
	return n;
}

/* A string field of worker name, copied into out ("" if absent). */
static const char *
wfield(const char *name, const char *key, char *out, size_t cap)
{
	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st);
	const char *v = json_string_value(json_object_get(vt_worker(st, name), key));
	snprintf(out, cap, "%s", v != NULL ? v : "");
	json_decref(st);
	return out;
}

/* python3-systemd, or skip (fail under CI=true: scripts/deps test installs it). */
static void
need_python_systemd(void)
{
	if (system(PYTHON " -c 'import systemd.daemon' 2>/dev/null") == 0)
		return;
	if (getenv("CI") != NULL)
		cr_assert_fail("python3-systemd is missing (scripts/deps test installs it)");
	cr_skip_test("python3-systemd is not installed");
}

/*
 * A Python program using python3-systemd's daemon.notify() (libsystemd's
 * sd_pid_notify underneath): body is Python with n() for notify and s()
 * for sleep; it then prints "done" and sleeps until killed.
 */
static pid_t
python(const char *body)
{
	char *code = NULL;
	cr_assert_neq(asprintf(&code,
			       "import sys, time\n"
			       "from systemd import daemon\n"
			       "def n(t):\n"
			       "    if not daemon.notify(t): sys.exit(9)\n"
			       "s = time.sleep\n"
			       "%s\n"
			       "print('done', flush=True)\n"
			       "time.sleep(60)\n",
			       body),
		      -1);
	setenv("NOTIFY_SOCKET", e.sock, 1); /* inherited by what the test starts */
	char *argv[] = {PYTHON, "-c", code, NULL};
	pid_t pid = vt_env_spawn(&e, e.wlog, argv);
	free(code);
	return pid;
}

/* ---- the conformance table, row by row ---- */

/* WATCHDOG=1: a heartbeat, with each client. */
Test(sdnotify, watchdog_1_is_a_heartbeat_with_every_client)
{
	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "600ms", NULL);
	pid_t sh = vt_env_notifier(&e, "for i in 1 2 3 4 5 6 7 8 9 10; do systemd-notify --pid=$$ WATCHDOG=1 "
			    "|| exit 9; sleep 0.1; done; exec sleep 60");
	pid_t py = python("for i in range(10):\n    n('WATCHDOG=1'); s(0.1)");
	vt_env_expect_state(&e, vt_pid_name(sh), "alive", sh, 3000);
	vt_env_expect_state(&e, vt_pid_name(py), "alive", py, 3000);
#ifdef VIGIL_SDCLIENT_BIN
	char *argv[] = {VIGIL_SDCLIENT_BIN, "10", "100", "0", NULL};
	pid_t lib = vt_env_spawn(&e, e.wlog, argv);
	vt_env_expect_state(&e, vt_pid_name(lib), "alive", lib, 3000);
#endif
	usleep(700 * 1000); /* past the timeout, pinging all along */
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(sh), "timeouts"), 0);
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(py), "timeouts"), 0);
	cr_expect_geq(vt_env_worker_int(&e, vt_pid_name(py), "heartbeats"), 5);
	/* Their pings end: each is dead a timeout after its last one. */
	vt_env_expect_state(&e, vt_pid_name(sh), "dead", sh, 3000);
	vt_env_expect_state(&e, vt_pid_name(py), "dead", py, 3000);
	cr_expect_eq(counter("invalid_datagrams"), 0);
	vt_env_end(&e);
}

/* READY=1 counts as a heartbeat (python3-systemd). */
Test(sdnotify, ready_registers)
{
	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t py = python("n('READY=1')");
	vt_env_expect_state(&e, vt_pid_name(py), "alive", py, 3000);
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(py), "heartbeats"), 1);
	vt_env_end(&e);
}

/* STATUS=: valid UTF-8 comes back intact (python3-systemd and systemd-notify). */
Test(sdnotify, status_keeps_utf8)
{
	char out[256];

	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t py = python("n('WATCHDOG=1\\nSTATUS=caf\\u00e9 \\u2615')");
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ WATCHDOG=1 'STATUS=na\xc3\xafve \x1b[2J' || "
			    "exit 9; exec sleep 60");
	vt_env_expect_state(&e, vt_pid_name(py), "alive", py, 3000);
	vt_env_expect_state(&e, vt_pid_name(sh), "alive", sh, 3000);
	cr_expect_str_eq(wfield(vt_pid_name(py), "status", out, sizeof(out)), "caf\xc3\xa9 \xe2\x98\x95");
	/* A control character is neutralised; the UTF-8 around it stays. */
	cr_expect_str_eq(wfield(vt_pid_name(sh), "status", out, sizeof(out)), "na\xc3\xafve ?[2J");
	vt_env_end(&e);
}

/* STOPPING=1: stopped, never dead (systemd-notify). */
Test(sdnotify, stopping_is_a_clean_stop)
{
	vt_env_start_supervisor(&e, "--timeout", "300ms", NULL);
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ WATCHDOG=1 || exit 9; sleep 0.2; "
			    "systemd-notify --pid=$$ STOPPING=1 || exit 9; exec sleep 60");
	vt_env_expect_state(&e, vt_pid_name(sh), "stopped", sh, 3000);
	usleep(600 * 1000);
	vt_env_expect_state(&e, vt_pid_name(sh), "stopped", sh, 100);
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(sh), "timeouts"), 0);
	vt_env_end(&e);
}

/* WATCHDOG=trigger: dead at once (python3-systemd). */
Test(sdnotify, trigger_is_dead_at_once)
{
	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "20s", NULL);
	pid_t py = python("n('WATCHDOG=1'); s(0.3); n('WATCHDOG=trigger')");
	vt_env_expect_state(&e, vt_pid_name(py), "alive", py, 3000);
	vt_env_expect_state(&e, vt_pid_name(py), "dead", py, 2000);
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(py), "timeouts"), 1);
	vt_env_end(&e);
}

/*
 * WATCHDOG_USEC=N: its own timeout; WATCHDOG_USEC=0: supervision off (a
 * state of its own, no timeout however long it is silent) until it sets
 * one again (python3-systemd).
 */
Test(sdnotify, watchdog_usec_sets_and_0_turns_off)
{
	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	char flag[400];
	vt_env_path(&e, "again", flag, sizeof(flag));
	char body[800];
	snprintf(body, sizeof(body),
		 "import os\n"
		 "n('WATCHDOG=1\\nWATCHDOG_USEC=400000'); s(0.2); n('WATCHDOG_USEC=0')\n"
		 "while not os.path.exists('%s'): s(0.05)\n"
		 "n('WATCHDOG_USEC=300000\\nWATCHDOG=1')",
		 flag);
	pid_t py = python(body);
	const char *name = vt_pid_name(py);
	vt_env_expect_state(&e, name, "unwatched", py, 3000);
	vt_expect_log(e.log, "turned its watchdog off (WATCHDOG_USEC=0)", 1000);
	usleep(900 * 1000); /* more than twice the 400 ms it had */
	vt_env_expect_state(&e, name, "unwatched", py, 100);
	cr_expect_eq(vt_env_worker_int(&e, name, "timeouts"), 0);
	FILE *f = fopen(flag, "w");
	cr_assert_not_null(f);
	fclose(f);
	vt_env_expect_state(&e, name, "alive", py, 3000);
	cr_expect_eq(vt_env_worker_int(&e, name, "timeout_ms"), 300);
	vt_expect_log(e.log, "is watched again (timeout 300ms)", 1000);
	vt_env_expect_state(&e, name, "dead", py, 2000);
	vt_env_end(&e);
}

/*
 * MAINPID=, ERRNO=, RELOADING=1, EXTEND_TIMEOUT_USEC=, BUSERROR=, FDNAME=,
 * MONOTONIC_USEC=, X_*: accepted quietly, alone or beside a ping (python3-
 * systemd and systemd-notify); a known key with a bad value is an error.
 */
Test(sdnotify, other_sd_notify_keys_are_accepted_quietly)
{
	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t py = python("n('WATCHDOG=1')\n"
			  "n('MAINPID=%d' % __import__('os').getpid())\n"
			  "n('ERRNO=2')\n"
			  "n('RELOADING=1\\nMONOTONIC_USEC=12345')\n"
			  "n('EXTEND_TIMEOUT_USEC=5000000')\n"
			  "n('BUSERROR=org.freedesktop.DBus.Error.Failed')\n"
			  "n('FDNAME=x\\nX_MY_APP=anything')\n"
			  "n('READY=1\\nSTATUS=reloaded\\nERRNO=0')");
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ WATCHDOG=1 ERRNO=5 X_TRACE=1 || exit 9; "
			    "echo sent; exec sleep 60");
	vt_expect_log(e.wlog, "done", 3000);
	vt_expect_log(e.wlog, "sent", 3000);
	vt_env_expect_state(&e, vt_pid_name(sh), "alive", sh, 3000);
	char out[64];
	uint64_t end = vt_now_ms() + 2000;
	while (strcmp(wfield(vt_pid_name(py), "status", out, sizeof(out)), "reloaded") != 0 &&
	       vt_now_ms() < end)
		usleep(20000);
	cr_expect_str_eq(out, "reloaded");
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(py), "heartbeats"), 2, "WATCHDOG=1, READY=1");
	cr_expect_eq(counter("invalid_datagrams"), 0, "a valid sd_notify key was refused");
	cr_expect_eq(counter("ignored_lines"), 0);
	/* A known key with a bad value still rejects its datagram, ping and all. */
	pid_t bad = python("n('WATCHDOG=1\\nMAINPID=abc')");
	vt_expect_log(e.log, "bad value for MAINPID on line 2", 3000);
	cr_expect_eq(invalid("bad_value"), 1);
	cr_expect_eq(vt_env_worker_int(&e, vt_pid_name(bad), "heartbeats"), -1, "registered");
	vt_env_end(&e);
}

/*
 * The issue's datagram: unknown and malformed lines are ignored and
 * counted, the WATCHDOG=1 beside them keeps the program alive; a key
 * given twice counts once, the first (python3-systemd sends it verbatim).
 */
Test(sdnotify, unknown_and_malformed_lines_never_lose_a_ping)
{
	need_python_systemd();
	vt_env_start_supervisor(&e, "--timeout", "500ms", "--log-level", "debug", NULL);
	pid_t py = python("for i in range(10):\n"
			  "    n('WATCHDOG=1\\nX_FOO=1\\nnonsense\\nx_debug=1\\n'); s(0.1)\n"
			  "n('STATUS=first\\nSTATUS=second\\n\\nWATCHDOG=1')");
	const char *name = vt_pid_name(py);
	vt_env_expect_state(&e, name, "alive", py, 3000);
	vt_expect_log(e.wlog, "done", 3000);
	cr_expect_eq(vt_env_worker_int(&e, name, "timeouts"), 0, "a ping was lost");
	cr_expect_eq(vt_env_worker_int(&e, name, "heartbeats"), 11);
	/* "nonsense", "x_debug=1" ten times; a second STATUS= and an empty line. */
	cr_expect_eq(counter("ignored_lines"), 22);
	cr_expect_eq(counter("invalid_datagrams"), 0);
	char out[64];
	cr_expect_str_eq(wfield(name, "status", out, sizeof(out)), "first");
	vt_expect_log(e.log, "the first (line 3): no '='", 1000);
	vt_env_end(&e);
}

/*
 * BARRIER=1 and FDSTORE=1 with descriptors (libsystemd: sd_notify_barrier()
 * returns because the descriptor is closed; none of the stored ones leaks).
 */
Test(sdnotify, barrier_and_fdstore_with_libsystemd)
{
#ifndef VIGIL_SDCLIENT_BIN
	if (getenv("CI") != NULL)
		cr_assert_fail("sd-client was not built: libsystemd-dev is missing");
	cr_skip_test("libsystemd-dev is not installed: sd-client was not built");
#else
	vt_env_start_supervisor(&e, "--timeout", "600ms", NULL);
	setenv("NOTIFY_SOCKET", e.sock, 1);
	char *argv[] = {VIGIL_SDCLIENT_BIN, "5", "50", "4", NULL};
	pid_t pid = vt_env_spawn(&e, e.wlog, argv);
	vt_expect_log(e.wlog, "barrier passed", 6000);
	vt_expect_log(e.wlog, "5 watchdog pings sent", 3000);
	vt_env_expect_state(&e, vt_pid_name(pid), "alive", pid, 1000);
	cr_expect_eq(counter("invalid_datagrams"), 0);
	vt_env_end(&e);
#endif
}

/* ---- vigil-worker --exec: the sd_notify proxy ---- */

/* Start vigil-worker NAME with opts, then --exec -- sh -c script. */
static pid_t
exec_worker(const char *name, const char *opt1, const char *opt2, const char *script)
{
	char *opts[12];
	size_t n = 0;

	if (opt1 != NULL)
		opts[n++] = (char *)opt1;
	if (opt2 != NULL)
		opts[n++] = (char *)opt2;
	opts[n++] = "--exec";
	opts[n++] = "--";
	opts[n++] = "/bin/sh";
	opts[n++] = "-c";
	opts[n++] = (char *)script;
	opts[n] = NULL;
	return vt_env_start_worker_opts(&e, name, opts);
}

/* The pid the worker's log says it runs its program as. */
static pid_t
program_pid(void)
{
	vt_expect_log(e.wlog, " as pid ", 3000);
	char text[8192];
	FILE *f = fopen(e.wlog, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *at = strstr(text, " as pid ");
	cr_assert_not_null(at);
	return (pid_t)atoi(at + strlen(" as pid "));
}

/*
 * --timeout: the program gets NOTIFY_SOCKET, WATCHDOG_USEC and its own
 * WATCHDOG_PID; its pings are the worker's heartbeats, with its timeout;
 * its STATUS= shows; stopped (SIGSTOP), it is dead a timeout after its
 * last ping, though the worker runs on.
 */
Test(exec, program_pings_are_the_heartbeats)
{
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t w = exec_worker("px", "--timeout", "600ms",
			      "[ \"$WATCHDOG_USEC\" = 600000 ] && [ \"$WATCHDOG_PID\" = $$ ] && "
			      "case $NOTIFY_SOCKET in @*) ;; *) exit 7;; esac || exit 8; "
			      "while :; do systemd-notify WATCHDOG=1 'STATUS=caf\xc3\xa9' || exit 9; "
			      "sleep 0.1; done");
	vt_env_expect_state(&e, "px", "alive", w, 3000);
	pid_t prog = program_pid();
	cr_expect_eq(vt_env_worker_int(&e, "px", "timeout_ms"), 600, "the program's timeout");
	char out[64];
	cr_expect_str_eq(wfield("px", "status", out, sizeof(out)), "caf\xc3\xa9");
	usleep(700 * 1000);
	cr_expect_eq(vt_env_worker_int(&e, "px", "timeouts"), 0);
	cr_assert_eq(kill(prog, SIGSTOP), 0);
	double silent = 0;
	cr_expect(vt_env_wait_state(&e, "px", "dead", w, 2000, &silent), "not dead");
	cr_expect_eq(kill(w, 0), 0, "the worker itself runs on");
	vt_expect_log(e.log, "silent for 6", 1000); /* 600.x ms */
	kill(prog, SIGCONT);
	vt_env_expect_state(&e, "px", "alive", w, 2000);
	vt_env_end(&e);
}

/*
 * Without a timeout (none given, none from systemd) the worker heartbeats
 * every interval while the program runs, as before; the program's
 * messages are still passed on.
 */
Test(exec, without_a_timeout_the_worker_heartbeats)
{
	vt_env_start_supervisor(&e, "--timeout", "600ms", NULL);
	pid_t w = exec_worker("plain", NULL, NULL,
			      "[ -z \"$WATCHDOG_USEC\" ] || exit 8; exec sleep 60");
	vt_env_expect_state(&e, "plain", "alive", w, 3000);
	usleep(800 * 1000);
	vt_env_expect_state(&e, "plain", "alive", w, 100);
	vt_env_end(&e);
}

/*
 * What systemd should see is passed on to the NOTIFY_SOCKET the worker was
 * started with, descriptors and all (the barrier returns), less MAINPID=.
 */
Test(exec, messages_are_passed_on_to_the_service_manager)
{
#ifndef VIGIL_SDCLIENT_BIN
	cr_skip_test("libsystemd-dev is not installed: sd-client was not built");
#else
	char up[400], got[400], ready[400];
	vt_env_path(&e, "systemd.sock", up, sizeof(up));
	vt_env_path(&e, "systemd.txt", got, sizeof(got));
	vt_env_path(&e, "systemd.ready", ready, sizeof(ready));
	/* A stand-in for systemd: prints what it gets, closes the descriptors. */
	char *code = NULL;
	cr_assert_neq(asprintf(&code,
			       "import socket, os, array\n"
			       "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
			       "s.bind('%s'); open('%s', 'w').close()\n"
			       "out = open('%s', 'w', buffering=1)\n"
			       "while True:\n"
			       "    data, anc, fl, a = s.recvmsg(4096, socket.CMSG_SPACE(64 * 4))\n"
			       "    nfds = 0\n"
			       "    for lvl, typ, d in anc:\n"
			       "        if typ == socket.SCM_RIGHTS:\n"
			       "            fds = array.array('i'); fds.frombytes(d[:len(d) - len(d) %% 4])\n"
			       "            nfds += len(fds)\n"
			       "            for f in fds: os.close(f)\n"
			       "    out.write(repr(data.decode()) + ' fds=%%d\\n' %% nfds)\n",
			       up, ready, got),
		      -1);
	char *pyargv[] = {PYTHON, "-c", code, NULL};
	vt_env_spawn(&e, e.wlog, pyargv);
	free(code);
	uint64_t end = vt_now_ms() + 3000;
	while (access(ready, F_OK) != 0 && vt_now_ms() < end)
		usleep(10000);
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	setenv("NOTIFY_SOCKET", up, 1);
	char script[512];
	snprintf(script, sizeof(script),
		 "systemd-notify MAINPID=$$ RELOADING=1 || exit 9; exec %s 3 50 2",
		 VIGIL_SDCLIENT_BIN);
	pid_t w = exec_worker("fwd", "--timeout", "1s", script);
	vt_expect_log(e.wlog, "barrier passed", 6000);
	vt_expect_log(e.wlog, "3 watchdog pings sent", 3000);
	vt_env_expect_state(&e, "fwd", "alive", w, 1000);
	vt_expect_log(got, "'READY=1\\nSTATUS=a libsystemd program' fds=0", 2000);
	vt_expect_log(got, "'BARRIER=1' fds=1", 2000);
	vt_expect_log(got, "'WATCHDOG=1\\nFDSTORE=1' fds=2", 2000);
	vt_expect_log(got, "'RELOADING=1' fds=0", 2000);
	cr_expect(!vt_file_contains(got, "MAINPID"), "MAINPID= was passed on: the worker is main");
	unsetenv("NOTIFY_SOCKET");
	vt_env_end(&e);
#endif
}

/*
 * --stop-timeout: a program that ignores TERM is KILLed that long after
 * the worker passed the TERM on; the worker says STOPPING=1 at once, so the
 * supervisor shows stopped, never dead.
 */
Test(exec, a_program_ignoring_term_is_killed_at_the_stop_timeout)
{
	vt_env_start_supervisor(&e, "--timeout", "300ms", NULL);
	pid_t w = exec_worker("stubborn", "--stop-timeout", "1s",
			      "trap '' TERM; while :; do sleep 0.05; done");
	vt_env_expect_state(&e, "stubborn", "alive", w, 3000);
	pid_t prog = program_pid();
	uint64_t t0 = vt_now_ms();
	cr_assert_eq(kill(w, SIGTERM), 0);
	vt_env_expect_state(&e, "stubborn", "stopped", 0, 500);
	int ws = vt_wait_exit(w, 3000);
	uint64_t took = vt_now_ms() - t0;
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "worker status %d", ws);
	cr_expect_eq(kill(prog, 0), -1, "the program outlived the worker");
	cr_expect_geq(took, 950, "KILLed after %llu ms, before --stop-timeout",
		      (unsigned long long)took);
	cr_expect_lt(took, 1500, "KILLed after %llu ms", (unsigned long long)took);
	vt_expect_log(e.wlog, "still runs 1s after it was told to stop (--stop-timeout)", 1000);
	usleep(500 * 1000);
	vt_env_expect_state(&e, "stubborn", "stopped", 0, 100);
	vt_env_end(&e);
}

/* Whether pid is gone: no such process, or a zombie (dead, not yet reaped by its new parent). */
static int
process_gone(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* The program dies with the worker, even when the worker is SIGKILLed (PR_SET_PDEATHSIG). */
Test(exec, a_program_dies_with_a_killed_worker)
{
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t w = exec_worker("orphan", NULL, NULL, "trap '' TERM; while :; do sleep 0.05; done");
	vt_env_expect_state(&e, "orphan", "alive", w, 3000);
	pid_t prog = program_pid();
	uint64_t t0 = vt_now_ms();
	vt_stop(w, SIGKILL, 2000);
	/* Not our child: dead (a zombie until its new parent reaps it), or gone. */
	while (!process_gone(prog) && vt_now_ms() - t0 < 3000)
		usleep(10000);
	uint64_t took = vt_now_ms() - t0;
	cr_expect(process_gone(prog), "the program outlived its SIGKILLed worker");
	cr_expect_lt(took, 1000, "the program went %llu ms after the worker",
		     (unsigned long long)took);
	vt_env_end(&e);
}

Test(exec, bad_flags_exit_2)
{
	static const char *const bad[][4] = {
	    {"--name", "a", "--timeout", "10s"}, /* no --exec */
	    {"--name", "a", "--stop-timeout", "1s"},
	    {"--name", "a", "--timeout", "0s"},
	    {"--name", "a", "--stop-timeout", "forever"},
	};
	char out[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {VIGIL_WORKER_BIN, (char *)bad[i][0], (char *)bad[i][1],
				(char *)bad[i][2], (char *)bad[i][3], NULL};
		cr_expect_eq(vt_run(argv, out, sizeof(out), 1), 2, "%s %s: %s", bad[i][2],
			     bad[i][3], out);
	}
}

/* ---- the supervisor's socket ---- */

/* --socket-mode and --socket-group set who may send, outside systemd. */
Test(socket, mode_and_group)
{
	struct stat st;

	vt_env_start_supervisor(&e, "--socket-mode", "0666", "--socket-group", "65534", NULL);
	cr_assert_eq(stat(e.sock, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0666, "mode %o", st.st_mode & 07777);
	cr_expect_eq(st.st_gid, 65534, "group %u", (unsigned)st.st_gid);
	vt_env_end(&e);
	vt_env_start_supervisor(&e, NULL);
	cr_assert_eq(stat(e.sock, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0660, "default mode %o", st.st_mode & 07777);
	vt_env_end(&e);

	char out[1024];
	static const char *const bad[][2] = {
	    {"--socket-mode", "0777"}, {"--socket-mode", "4660"}, {"--socket-mode", "660x"},
	    {"--socket-mode", "0060"}, {"--socket-group", "no-such-group-here"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {VIGIL_SUPERVISOR_BIN, "--check-config", (char *)bad[i][0],
				(char *)bad[i][1], NULL};
		cr_expect_eq(vt_run(argv, out, sizeof(out), 1), 2, "%s %s: %s", bad[i][0],
			     bad[i][1], out);
		cr_expect(strstr(out, bad[i][0]) != NULL, "the error names the option: %s", out);
	}
}

/* Started from a shell whose NOTIFY_SOCKET is its own socket, it does not supervise itself. */
Test(socket, own_notify_socket_is_ignored)
{
	setenv("NOTIFY_SOCKET", e.sock, 1);
	vt_env_start_supervisor(&e, "--timeout", "300ms", NULL);
	unsetenv("NOTIFY_SOCKET");
	vt_expect_log(e.log, "is our own heartbeat socket, not a service manager's: ignored", 2000);
	usleep(500 * 1000);
	cr_expect_eq(counter("workers"), 0, "the supervisor registered itself");
	vt_env_end(&e);
}

/*
 * The proxy's NOTIFY_SOCKET is abstract, so any process in the network
 * namespace can reach it: pings from another uid are dropped, and cannot
 * keep a silent program alive.
 */
Test(exec, another_users_pings_to_the_proxy_are_dropped)
{
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t w = exec_worker("guarded", "--timeout", "500ms",
			      "echo \"sock=$NOTIFY_SOCKET.\"; systemd-notify WATCHDOG=1 || exit 9; "
			      "exec sleep 60");
	vt_env_expect_state(&e, "guarded", "alive", w, 3000);
	vt_expect_log(e.wlog, "sock=@", 1000);
	char text[8192];
	FILE *f = fopen(e.wlog, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *at = strstr(text, "sock=@") + strlen("sock=@");
	const char *dot = strchr(at, '.');
	cr_assert_not_null(dot);
	char code[512];
	snprintf(code, sizeof(code),
		 "import socket, time\n"
		 "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
		 "for i in range(20):\n"
		 "    s.sendto(b'WATCHDOG=1', '\\x00%.*s'); time.sleep(0.1)\n",
		 (int)(dot - at), at);
	char *argv[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			PYTHON, "-c", code, NULL};
	pid_t stranger = vt_env_spawn(&e, e.wlog, argv);
	/* Its one ping, then silence: dead, whatever the stranger sends meanwhile. */
	vt_env_expect_state(&e, "guarded", "dead", w, 1500);
	vt_expect_log(e.wlog, "NOTIFY_SOCKET from another user", 1000);
	vt_stop(stranger, SIGKILL, 2000);
	vt_env_end(&e);
}

/*
 * Relayed as they are: the program's WATCHDOG_USEC=0 (unwatched),
 * WATCHDOG=trigger (dead at once) and STOPPING=1 (stopped, though it runs on).
 */
Test(exec, watchdog_usec_trigger_and_stopping_are_relayed)
{
	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	pid_t w = exec_worker("relayed", "--timeout", "400ms",
			      "systemd-notify WATCHDOG=1 || exit 9; sleep 0.2; "
			      "systemd-notify WATCHDOG_USEC=0 || exit 9; echo off; sleep 1; "
			      "systemd-notify WATCHDOG=trigger || exit 9; exec sleep 60");
	vt_env_expect_state(&e, "relayed", "alive", w, 3000);
	vt_env_expect_state(&e, "relayed", "unwatched", w, 2000);
	usleep(500 * 1000); /* past its 400 ms, silent: still unwatched */
	vt_env_expect_state(&e, "relayed", "unwatched", w, 100);
	vt_env_expect_state(&e, "relayed", "dead", w, 2000);
	vt_expect_log(e.log, "worker relayed asked to be declared dead (WATCHDOG=trigger)", 1000);
	vt_env_end(&e);

	vt_env_start_supervisor(&e, "--timeout", "10s", NULL);
	w = exec_worker("leaving", "--timeout", "300ms",
			"systemd-notify WATCHDOG=1 || exit 9; sleep 0.2; "
			"systemd-notify STOPPING=1 || exit 9; exec sleep 60");
	vt_env_expect_state(&e, "leaving", "stopped", w, 3000);
	usleep(600 * 1000);
	vt_env_expect_state(&e, "leaving", "stopped", w, 100);
	cr_expect_eq(vt_env_worker_int(&e, "leaving", "timeouts"), 0);
	vt_env_end(&e);
}
