/*
 * test_daemons.c: the real vigil-supervisor, vigil-worker and vigilctl,
 * started in a private temporary directory. Everything is observed the way
 * a user would: through `vigilctl status --json`, exit codes and logs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "proc.h"

#define TIMEOUT_MS 600
#define INTERVAL_MS 100

static struct vt_env e;
static char wsock[300]; /* worker w1's socket */

static void
setup(void)
{
	vt_env_init(&e);
	vt_env_worker_sock(&e, "w1", wsock, sizeof(wsock));
}

/* After a failed test: end whatever is left, keep nothing. */
static void
teardown(void)
{
	vt_env_fini(&e);
}

TestSuite(daemons, .init = setup, .fini = teardown, .timeout = 30);

/* A supervisor with --timeout and up to two more options (NULL for none: the list ends there). */
static pid_t
start_supervisor_with2(const char *timeout, const char *extra, const char *extra2)
{
	return vt_env_start_supervisor(&e, "--timeout", timeout, extra, extra2, NULL);
}

static pid_t
start_supervisor_with(const char *timeout, const char *extra)
{
	return start_supervisor_with2(timeout, extra, NULL);
}

static pid_t
start_supervisor(const char *timeout)
{
	return start_supervisor_with(timeout, NULL);
}

/* A worker heartbeating every INTERVAL_MS, with one more option (or NULL). */
static pid_t
start_worker(const char *name, const char *extra)
{
	return vt_env_start_worker(&e, name, extra, NULL);
}

static void
expect_state(const char *name, const char *state, pid_t pid, int timeout_ms)
{
	vt_env_expect_state(&e, name, state, pid, timeout_ms);
}

static json_int_t
sup_counter(const char *key)
{
	return vt_env_counter(&e, key);
}

Test(daemons, worker_registers_and_heartbeats)
{
	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);

	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, "w1");
	cr_expect_geq(json_integer_value(json_object_get(w, "last_seq")), 1);
	cr_expect_geq(json_integer_value(json_object_get(w, "heartbeats")), 1);
	cr_expect_eq(json_integer_value(json_object_get(w, "missed")), 0);
	cr_expect_eq(json_integer_value(json_object_get(w, "timeouts")), 0);
	cr_expect_eq(json_integer_value(json_object_get(w, "timeout_ms")), TIMEOUT_MS);
	cr_expect_eq(json_integer_value(json_object_get(w, "interval_ms")), INTERVAL_MS);
	cr_expect_lt(json_number_value(json_object_get(w, "silent_s")), 0.5);
	json_decref(st);
	vt_expect_log(e.log, "worker w1 registered", 1000);
	vt_env_end(&e);
}

/*
 * SIGKILL: the supervisor must call the timeout no earlier than TIMEOUT_MS
 * after the last heartbeat, and not much later.
 */
Test(daemons, killed_worker_is_reported_dead_on_time_then_recovers)
{
	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);

	uint64_t killed = vt_now_ms();
	vt_stop(wrk, SIGKILL, 2000);
	double silent_s = 0;
	cr_assert(vt_env_wait_state(&e, "w1", "dead", 0, TIMEOUT_MS + 2000, &silent_s),
		  "never reported dead");
	uint64_t seen = vt_now_ms() - killed;

	/* Not early: the silence when first seen dead is at least the timeout. */
	cr_expect_geq(silent_s, TIMEOUT_MS / 1000.0, "dead after only %.3fs of silence",
		      silent_s);
	/* On time: the last heartbeat was at most one interval before the kill. */
	cr_expect_geq(seen, TIMEOUT_MS - INTERVAL_MS - 20, "dead %llu ms after the kill: too early",
		      (unsigned long long)seen);
	cr_expect_leq(seen, TIMEOUT_MS + 400, "dead %llu ms after the kill: too late",
		      (unsigned long long)seen);
	vt_expect_log(e.log, "worker w1 timed out", 1000);

	/* MISSED counts up while it stays silent. */
	vt_expect_log(e.log, "missed 2", 3 * TIMEOUT_MS);

	/* Started again: alive with the new pid, counted as a restart. */
	pid_t old = wrk;
	wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	cr_expect_neq(wrk, old);
	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, "w1");
	cr_expect_eq(json_integer_value(json_object_get(w, "restarts")), 1);
	cr_expect_eq(json_integer_value(json_object_get(w, "missed")), 0);
	cr_expect_geq(json_integer_value(json_object_get(w, "timeouts")), 2);
	json_decref(st);
	vt_expect_log(e.log, "worker w1 recovered", 1000);
	vt_env_end(&e);
}

Test(daemons, stalled_worker_receives_timeout_and_recovers)
{
	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);

	kill(wrk, SIGUSR1); /* stall: alive but silent */
	vt_expect_log(e.wlog, "supervisor declared us unresponsive: missed 1", 3000);
	expect_state("w1", "dead", wrk, 1000);
	cr_expect_geq(sup_counter("timeouts_sent"), 1);

	kill(wrk, SIGUSR1); /* resume */
	expect_state("w1", "alive", wrk, 2000);
	vt_expect_log(e.log, "worker w1 recovered", 1000);
	vt_env_end(&e);
}

Test(daemons, worker_exits_on_timeout_when_asked)
{
	start_supervisor("300ms");
	pid_t wrk = start_worker("w1", "--on-timeout=exit");
	expect_state("w1", "alive", wrk, 3000);
	kill(wrk, SIGUSR1);
	int status = vt_wait_exit(wrk, 3000);
	cr_assert_neq(status, -1, "worker did not exit after a TIMEOUT");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d", status);
	cr_expect(vt_file_contains(e.wlog, "exiting so that the service manager restarts us"));
	vt_env_end(&e);
}

Test(daemons, stopping_worker_is_stopped_not_dead)
{
	start_supervisor("300ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	int status = vt_stop(wrk, SIGTERM, 3000);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker exit status %d", status);
	expect_state("w1", "stopped", 0, 2000);
	usleep(3 * 300 * 1000); /* three timeouts' worth of silence must change nothing */
	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, "w1");
	cr_expect_str_eq(json_string_value(json_object_get(w, "state")), "stopped");
	cr_expect_eq(json_integer_value(json_object_get(w, "timeouts")), 0);
	json_decref(st);
	cr_expect(access(wsock, F_OK) == -1, "worker left its socket %s behind", wsock);
	vt_env_end(&e);
}

Test(daemons, supervisor_restart_is_noticed_by_worker)
{
	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);

	vt_stop(e.sv, SIGKILL, 2000); /* leaves stale socket files behind */
	vt_expect_log(e.wlog, "cannot reach supervisor", 3000);
	cr_expect_eq(kill(wrk, 0), 0, "worker died with its supervisor");

	start_supervisor("600ms");
	expect_state("w1", "alive", wrk, 3000);
	vt_expect_log(e.wlog, "reachable again", 2000);
	/* The new supervisor learns the worker's current sequence, not 1. */
	json_t *st = vt_env_status(&e);
	cr_expect_gt(json_integer_value(json_object_get(vt_worker(st, "w1"), "last_seq")), 1);
	json_decref(st);
	vt_env_end(&e);
}

Test(daemons, garbage_datagrams_are_dropped_and_counted)
{
	static const struct {
		const char *data;
		size_t len;
	} garbage[] = {
	    {"", 0},
	    {"hello", 5},
	    {"HEARTBEAT=1\nWORKER=bad/name\n", 28},
	    {"HEARTBEAT=1\nWORKER=w\nWATCHDOG=no\n", 33},
	    {"HEARTBEAT=1\nWORKER=w\nSEQ=x\n", 27},
	    {"HEARTBEAT=1\0WORKER=w\n", 21},
	    {"heartbeat=1\nWORKER=w\n", 21}, /* a line ignored: nothing left to do */
	    {"HEARTBEAT=1\n", 12},        /* no WORKER */
	    {"FOO=1\nWORKER=w\n", 15},    /* nothing we understand */
	    {"TIMEOUT=1\nWORKER=w\n", 19}, /* meant for workers */
	};
	static char big[5000];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = sizeof(garbage) / sizeof(garbage[0]);

	start_supervisor("600ms");
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_neq(fd, -1);
	cr_assert_lt(strlen(e.sock), sizeof(sun.sun_path));
	memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(sendto(fd, garbage[i].data, garbage[i].len, 0, (struct sockaddr *)&sun,
				    sizeof(sun)),
			     (ssize_t)garbage[i].len, "send #%zu: %s", i, strerror(errno));
	memset(big, 'A', sizeof(big));
	memcpy(big, "HEARTBEAT=1\nWORKER=big\nSTATUS=", 30);
	cr_assert_eq(sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&sun, sizeof(sun)),
		     (ssize_t)sizeof(big));
	close(fd);

	json_int_t want = (json_int_t)n + 1;
	uint64_t end = vt_now_ms() + 3000;
	while (sup_counter("invalid_datagrams") < want && vt_now_ms() < end)
		usleep(10000);
	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st, "supervisor stopped answering");
	json_t *sup = json_object_get(st, "supervisor");
	json_t *by = json_object_get(sup, "invalid_by_reason");
	cr_expect_eq(json_integer_value(json_object_get(sup, "invalid_datagrams")), want);
	cr_expect_eq(json_integer_value(json_object_get(by, "oversized")), 1);
	cr_expect_eq(json_integer_value(json_object_get(by, "empty")), 1);
	cr_expect_eq(json_integer_value(json_object_get(by, "nul_byte")), 1);
	cr_expect_eq(json_integer_value(json_object_get(by, "no_worker")), 1);
	cr_expect_eq(json_integer_value(json_object_get(by, "bad_value")), 3);
	cr_expect_eq(json_integer_value(json_object_get(by, "no_message")), 4);
	/* "hello", "heartbeat=1" and "FOO=1": lines ignored, as systemd ignores them. */
	cr_expect_eq(json_integer_value(json_object_get(sup, "ignored_lines")), 3);
	cr_expect_eq(json_array_size(json_object_get(st, "workers")), 0, "garbage registered a worker");
	json_decref(st);
	cr_expect_eq(kill(e.sv, 0), 0, "supervisor died");
	vt_expect_log(e.log, "dropped invalid datagram", 1000);
	vt_env_end(&e);
}

Test(daemons, undeliverable_timeouts_never_block_the_supervisor)
{
	/*
	 * A worker that never reads, on a socket not connected back to the
	 * supervisor (as a socat or hand-made worker would be): its queue fills
	 * after max_dgram_qlen TIMEOUTs and further sends get EAGAIN.
	 */
	struct sockaddr_un sun = {.sun_family = AF_UNIX}, me = {.sun_family = AF_UNIX};
	static const char hb[] = "HEARTBEAT=1\nWORKER=deaf\nSEQ=1\n";
	char path[320];

	start_supervisor("20ms");
	snprintf(path, sizeof(path), "%s/deaf.sock", e.dir);
	memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
	memcpy(me.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	cr_assert_eq(sendto(fd, hb, sizeof(hb) - 1, 0, (struct sockaddr *)&sun, sizeof(sun)),
		     (ssize_t)sizeof(hb) - 1);
	uint64_t end = vt_now_ms() + 5000;
	while (sup_counter("timeouts_undelivered") == 0 && vt_now_ms() < end)
		usleep(20000);
	cr_expect_gt(sup_counter("timeouts_undelivered"), 0, "no TIMEOUT ever failed");
	cr_expect_gt(sup_counter("timeouts_sent"), 0);
	vt_expect_log(e.log, "cannot deliver TIMEOUT to worker deaf", 1000);
	vt_expect_log(e.log, "its queue is full", 1000);
	close(fd);
	vt_env_end(&e);
}

/* Connect to the control socket, send text, read until the supervisor closes. */
static void
control_exchange(const char *text, size_t len, char *out, size_t cap)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t used = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cr_assert_lt(strlen(e.ctl), sizeof(sun.sun_path));
	memcpy(sun.sun_path, e.ctl, strlen(e.ctl) + 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0, "connect %s: %s", e.ctl,
		     strerror(errno));
	/*
	 * A supervisor that refuses the connection (too many clients) writes
	 * why and closes it, perhaps before this send: that is EPIPE here, not
	 * a SIGPIPE to kill the test, and its answer is still there to read.
	 */
	ssize_t sent = send(fd, text, len, MSG_NOSIGNAL);
	cr_assert(sent == (ssize_t)len || (sent == -1 && (errno == EPIPE || errno == ECONNRESET)),
		  "send to %s: %s", e.ctl, sent == -1 ? strerror(errno) : "short");
	shutdown(fd, SHUT_WR);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (ssize_t n; used < cap - 1 && (n = read(fd, out + used, cap - 1 - used)) > 0;)
		used += (size_t)n;
	out[used] = '\0';
	close(fd);
}

Test(daemons, control_socket_speaks_lines_of_json)
{
	static char big[2000];
	char out[8192];

	start_supervisor("600ms");

	/* Several commands on one connection, blanks and CRLF forgiven, a last line without \n. */
	const char cmds[] = "version\r\n  help  \nbogus\nversion now\n\nstatus";
	control_exchange(cmds, sizeof(cmds) - 1, out, sizeof(out));
	char *line = strtok(out, "\n");
	cr_assert_not_null(line, "no reply at all");
	cr_expect(strstr(line, "\"version\":\"" VIGIL_VERSION "\"") != NULL, "version: %s", line);
	line = strtok(NULL, "\n");
	cr_assert_not_null(line);
	cr_expect(strstr(line, "\"commands\":{") != NULL, "help: %s", line);
	line = strtok(NULL, "\n");
	cr_assert_not_null(line);
	cr_expect(strstr(line, "unknown command 'bogus'") != NULL, "bogus: %s", line);
	line = strtok(NULL, "\n");
	cr_assert_not_null(line);
	cr_expect(strstr(line, "version takes no argument") != NULL, "version now: %s", line);
	line = strtok(NULL, "\n");
	cr_assert_not_null(line, "the unterminated last command got no reply");
	cr_expect(strncmp(line, "{\"workers\":[", 12) == 0, "status: %s", line);
	cr_expect_null(strtok(NULL, "\n"), "more replies than commands");

	/* An overlong line is refused and the connection closed; the supervisor carries on. */
	memset(big, 'x', sizeof(big));
	control_exchange(big, sizeof(big), out, sizeof(out));
	cr_expect(strstr(out, "line too long") != NULL, "overlong line: %s", out);
	json_t *st = vt_env_status(&e);
	cr_expect_not_null(st, "supervisor stopped answering after an overlong line");
	json_decref(st);
}

/* A client that pipelines commands gets every reply, in order, one at a time. */
Test(daemons, pipelined_commands_are_all_answered)
{
	static char cmds[50 * 8 + 1], out[50 * 64];

	start_supervisor("600ms");
	for (int i = 0; i < 50; i++)
		strcat(cmds, "version\n");
	control_exchange(cmds, strlen(cmds), out, sizeof(out));
	int replies = 0;
	for (char *l = strtok(out, "\n"); l != NULL; l = strtok(NULL, "\n")) {
		cr_expect_str_eq(l, "{\"version\":\"" VIGIL_VERSION "\"}", "reply %d", replies);
		replies++;
	}
	cr_expect_eq(replies, 50);
	vt_env_end(&e);
}

/* Past CONTROL_MAX_CLIENTS (32) a client is told why, and the others keep working. */
Test(daemons, too_many_control_clients_are_told_so)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fds[32];
	char out[256];

	start_supervisor("600ms");
	memcpy(sun.sun_path, e.ctl, strlen(e.ctl) + 1);
	for (int i = 0; i < 32; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)), 0);
	}
	json_t *st = NULL;
	/* The 33rd connection, once the supervisor has accepted the 32 idle ones. */
	for (int tries = 0; tries < 100 && st == NULL; tries++) {
		control_exchange("version\n", 8, out, sizeof(out));
		if (strstr(out, "too many control clients") != NULL)
			st = json_string("refused");
		else
			usleep(10000);
	}
	cr_expect_not_null(st, "the 33rd client was not told: %s", out);
	json_decref(st);
	close(fds[0]);
	json_t *ok = NULL;
	for (int tries = 0; tries < 100 && ok == NULL; tries++) {
		ok = vt_env_status(&e);
		if (ok == NULL)
			usleep(10000);
	}
	cr_expect_not_null(ok, "no room after one client left");
	json_decref(ok);
	for (int i = 1; i < 32; i++)
		close(fds[i]);
	vt_env_end(&e);
}

/* STATUS= text is stored as printable ASCII: no escape reaches a terminal or breaks JSON. */
Test(daemons, hostile_status_text_is_neutralised)
{
	static const char dgram[] = "HEARTBEAT=1\nWORKER=s\nSTATUS=\x1b[2J\xff ok";
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	start_supervisor("600ms");
	memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_eq(sendto(fd, dgram, sizeof(dgram) - 1, 0, (struct sockaddr *)&sun, sizeof(sun)),
		     (ssize_t)sizeof(dgram) - 1);
	close(fd);
	expect_state("s", "alive", 0, 2000);
	json_t *st = vt_env_status(&e);
	cr_expect_str_eq(json_string_value(json_object_get(vt_worker(st, "s"), "status")), "?[2J? ok");
	json_decref(st);
	vt_env_end(&e);
}

/* Only the supervisor may declare a worker late: a forged TIMEOUT is dropped. */
Test(daemons, forged_timeout_is_ignored_by_the_worker)
{
	static const char forged[] = "TIMEOUT=1\nWORKER=w1\nMISSED=1\nSILENT_MS=1\nLAST_SEQ=1\n";
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", "--on-timeout=exit");
	expect_state("w1", "alive", wrk, 3000);
	memcpy(sun.sun_path, wsock, strlen(wsock) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ssize_t r = sendto(fd, forged, sizeof(forged) - 1, 0, (struct sockaddr *)&sun, sizeof(sun));
	int saved = errno;
	close(fd);
	/*
	 * The worker's socket is connected to the supervisor's, so the kernel
	 * itself refuses other senders (EPERM); had it been delivered, the worker
	 * would drop it by address.
	 */
	if (r == -1)
		cr_expect_eq(saved, EPERM, "sendto: %s", strerror(saved));
	else
		vt_expect_log(e.wlog, "not from the supervisor", 2000);
	cr_expect_eq(kill(wrk, 0), 0, "a forged TIMEOUT made the worker exit");
	vt_env_end(&e);
}

static int
graced(void *arg)
{
	(void)arg;
	return sup_counter("pause_graces") > 0;
}

/*
 * The supervisor SIGSTOPped for several timeouts while 20 workers keep
 * heartbeating: the kernel queue (max_dgram_qlen, 10 on most hosts) cannot
 * hold a heartbeat from each, yet after SIGCONT nobody may be declared dead.
 *
 * Whether the heartbeaters' timers ever see the lateness depends on how fast
 * their blocked heartbeats reach the supervisor after SIGCONT (all of them
 * may be read before any timer is judged, which is the best case). So one
 * more worker is frozen just before the supervisor and thawed only once the
 * supervisor has counted a grace: its silence spans the pause, so it must
 * get the grace period, not a timeout, and be alive again after.
 */
Test(daemons, supervisor_pause_raises_no_false_timeout)
{
	enum { N = 20 };
	pid_t pids[N];
	char names[N][16];

	start_supervisor("500ms");
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "p%02d", i);
		pids[i] = start_worker(names[i], NULL);
	}
	pid_t wrk = start_worker("frozen", NULL);
	for (int i = 0; i < N; i++)
		expect_state(names[i], "alive", pids[i], 5000);
	expect_state("frozen", "alive", wrk, 5000);

	kill(wrk, SIGSTOP);
	/*
	 * A status round trip after the freeze: the supervisor has run its loop
	 * since, so the frozen worker's last heartbeat is read, not queued (a
	 * queued one would be drained after the pause and spare it the grace).
	 */
	expect_state("frozen", "alive", wrk, 1000);
	kill(e.sv, SIGSTOP);
	usleep(2000 * 1000); /* four timeouts' worth */
	kill(e.sv, SIGCONT);
	/*
	 * The frozen worker's timer is 1.5 s late: a grace of one period
	 * (500 ms). A status reply counting it comes after every expired timer
	 * was judged (they are run together, below the sockets' priority); only
	 * then may the worker speak, or its heartbeat could be read first.
	 */
	if (!vt_wait_for(graced, NULL, 400)) {
		vt_dump(e.log);
		cr_assert_fail("no grace counted within 400 ms of the supervisor's SIGCONT");
	}
	kill(wrk, SIGCONT);
	usleep(1500 * 1000); /* three more timeouts: time enough to convict wrongly */

	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st);
	json_t *w;
	size_t i;
	json_int_t timeouts = 0;
	json_array_foreach(json_object_get(st, "workers"), i, w)
	{
		timeouts += json_integer_value(json_object_get(w, "timeouts"));
		cr_expect_str_eq(json_string_value(json_object_get(w, "state")), "alive", "%s",
				 json_string_value(json_object_get(w, "name")));
	}
	cr_expect_eq(timeouts, 0, "%lld false timeouts after the supervisor's own pause",
		     (long long)timeouts);
	json_decref(st);
	vt_expect_log(e.log, "the supervisor itself was paused or starved", 1000);
	for (int k = 0; k < N; k++) {
		int ws = vt_stop(pids[k], SIGTERM, 3000);
		cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "worker %s exit %d", names[k], ws);
	}
	vt_env_end(&e);
}

/*
 * As uid/gid 65534 (nobody), send count copies of dgram to the supervisor,
 * every 50 ms, from a child process; returns once it is done.
 */
static void
send_as_nobody(const char *dgram, int count)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
		if (setgroups(0, NULL) == -1 || setresgid(65534, 65534, 65534) == -1 ||
		    setresuid(65534, 65534, 65534) == -1)
			_exit(3);
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		for (int i = 0; i < count; i++) {
			if (sendto(fd, dgram, strlen(dgram), 0, (struct sockaddr *)&sun,
				   sizeof(sun)) == -1)
				_exit(4);
			usleep(50000);
		}
		_exit(0);
	}
	int st = vt_wait_exit(pid, 10000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sender as nobody failed: %d", st);
}

/* Let uid 65534 reach the supervisor's socket at all, as a group member would. */
static void
open_socket_to_all(void)
{
	cr_assert_eq(chmod(e.dir, 0755), 0);
	cr_assert_eq(chmod(e.sock, 0666), 0);
}

/* Another uid cannot heartbeat under a registered name: the owner's timer is untouched. */
Test(daemons, impersonation_is_refused)
{
	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	open_socket_to_all();

	kill(wrk, SIGUSR1); /* the real w1 hangs; an impostor keeps "heartbeating" for it */
	send_as_nobody("HEARTBEAT=1\nWORKER=w1\nSEQ=999\n", 30);

	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, "w1");
	cr_expect_str_eq(json_string_value(json_object_get(w, "state")), "dead",
			 "the impostor kept the hung worker alive");
	cr_expect_eq(json_integer_value(json_object_get(w, "pid")), wrk);
	cr_expect_neq(json_integer_value(json_object_get(w, "last_seq")), 999);
	cr_expect_eq(json_integer_value(json_object_get(w, "restarts")), 0);
	cr_expect_geq(json_integer_value(json_object_get(json_object_get(st, "supervisor"),
							"impersonations")),
		      30);
	json_decref(st);
	vt_expect_log(e.log, "the name belongs to uid 0", 1000);
	vt_env_end(&e);
}

/* A sender off the allow-list cannot register a name, until it is allowed. */
Test(daemons, allow_list_decides_who_registers)
{
	start_supervisor("600ms");
	open_socket_to_all();
	send_as_nobody("HEARTBEAT=1\nWORKER=x1\n", 1);
	json_t *st = vt_env_status(&e);
	cr_expect_null(vt_worker(st, "x1"), "nobody registered a worker");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(st, "supervisor"),
						       "senders_refused")),
		     1);
	json_decref(st);
	vt_expect_log(e.log, "not on the allow-list", 1000);
	vt_env_end(&e);

	start_supervisor_with("600ms", "--allow-user=65534");
	open_socket_to_all();
	send_as_nobody("HEARTBEAT=1\nWORKER=x1\n", 1);
	expect_state("x1", "alive", 0, 2000);
	vt_env_end(&e);
}

/* Out of descriptors, accept() fails with EMFILE: no busy loop, and it recovers. */
Test(daemons, descriptor_exhaustion_on_the_control_socket)
{
	char *argv[] = {"/usr/bin/prlimit", "--nofile=24:24", "--", VIGIL_SUPERVISOR_BIN,
			"--socket", e.sock, "--control", e.ctl, "--timeout", "1s", NULL};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fds[40];

	vt_env_start_supervisor_argv(&e, argv);
	memcpy(sun.sun_path, e.ctl, strlen(e.ctl) + 1);
	for (int i = 0; i < 40; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)); /* queued if not accepted */
	}
	vt_expect_log(e.log, "Too many open files", 3000);
	long before = vt_cpu_ticks(e.sv);
	usleep(1000 * 1000);
	long used = vt_cpu_ticks(e.sv) - before;
	cr_expect_lt(used, 30, "the supervisor spun: %ld ticks of CPU in one second", used);

	for (int i = 0; i < 40; i++)
		close(fds[i]);
	json_t *st = NULL;
	for (int tries = 0; tries < 200 && st == NULL; tries++) {
		st = vt_env_status(&e);
		if (st == NULL)
			usleep(20000);
	}
	cr_expect_not_null(st, "the control socket never recovered");
	json_decref(st);
	vt_env_end(&e);
}

/* A SIGSTOPped supervisor: the worker's sends fail with EAGAIN, it never blocks, and recovers. */
Test(daemons, worker_survives_a_stopped_supervisor)
{
	start_supervisor("10s");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	kill(e.sv, SIGSTOP);
	/* Ten datagrams fill the queue on most hosts; 100 ms heartbeats do that in a second. */
	vt_expect_log(e.wlog, "cannot reach supervisor", 10000);
	cr_expect(vt_file_contains(e.wlog, "Resource temporarily unavailable"),
		  "the worker did not see EAGAIN");
	/* Never blocked: it still answers SIGUSR1 at once while the supervisor is stopped. */
	kill(wrk, SIGUSR1);
	vt_expect_log(e.wlog, "stalling: heartbeats paused", 1000);
	kill(wrk, SIGUSR1);
	kill(e.sv, SIGCONT);
	vt_expect_log(e.wlog, "reachable again", 3000);
	expect_state("w1", "alive", wrk, 2000);
	vt_env_end(&e);
}

/* The worker's socket file deleted under it: TIMEOUTs fail, the supervisor logs and carries on. */
Test(daemons, worker_socket_deleted_under_it)
{
	start_supervisor("300ms");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	cr_assert_eq(unlink(wsock), 0);
	kill(wrk, SIGUSR1);
	vt_expect_log(e.log, "cannot deliver TIMEOUT to worker w1", 3000);
	cr_expect(vt_file_contains(e.log, "No such file or directory"));
	cr_expect_gt(sup_counter("timeouts_undelivered"), 0);
	kill(wrk, SIGUSR1); /* heartbeats still go out from the (unlinked) socket */
	expect_state("w1", "alive", wrk, 2000);
	vt_env_end(&e);
}

/* Resident memory of pid in kB, from /proc/PID/status. */
static long
rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *fp = fopen(path, "r");
	cr_assert_not_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/*
 * A flood of garbage at full speed from another sender while real workers
 * heartbeat: the flood is counted, memory stays flat, and no real worker is
 * declared dead (their connected sockets wait for room instead of losing
 * heartbeats to the flooder).
 */
Test(daemons, garbage_flood_causes_no_false_timeout)
{
	char out[1024];

	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", NULL);
	pid_t w2 = start_worker("w2", NULL);
	expect_state("w1", "alive", wrk, 3000);
	expect_state("w2", "alive", w2, 3000);
	long before = rss_kb(e.sv);

	char *argv[] = {VIGIL_LOAD_BIN, "--supervisor", e.sock, "--garbage", "--flood",
			"--duration", "3s", "--sockets", "4", NULL};
	cr_assert_eq(vt_run(argv, out, sizeof(out), 1), 0, "vigil-load: %s", out);
	cr_log_info("%s", out);

	long after = rss_kb(e.sv);
	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st, "the supervisor stopped answering");
	json_t *sup = json_object_get(st, "supervisor");
	cr_expect_gt(json_integer_value(json_object_get(sup, "invalid_datagrams")), 10000,
		     "the flood was not counted: %s", out);
	for (int i = 1; i <= 2; i++) {
		char name[8];
		snprintf(name, sizeof(name), "w%d", i);
		json_t *w = vt_worker(st, name);
		cr_expect_eq(json_integer_value(json_object_get(w, "timeouts")), 0,
			     "%s was declared dead during the flood", name);
		cr_expect_str_eq(json_string_value(json_object_get(w, "state")), "alive");
	}
	json_decref(st);
	cr_expect_lt(after - before, 1024, "RSS grew from %ld to %ld kB under the flood", before,
		     after);
	int ws = vt_stop(w2, SIGTERM, 3000);
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	vt_env_end(&e);
}

Test(daemons, sighup_is_not_fatal)
{
	start_supervisor("600ms");
	kill(e.sv, SIGHUP);
	vt_expect_log(e.log, "received SIGHUP", 2000);
	json_t *st = vt_env_status(&e);
	cr_expect_not_null(st, "the supervisor died of SIGHUP");
	json_decref(st);
	vt_env_end(&e);
}

Test(daemons, sigterm_shuts_down_cleanly_and_unlinks_sockets)
{
	start_supervisor("600ms");
	int status = vt_stop(e.sv, SIGTERM, 3000);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	cr_expect(access(e.sock, F_OK) == -1, "%s left behind", e.sock);
	cr_expect(access(e.ctl, F_OK) == -1, "%s left behind", e.ctl);
	vt_env_end(&e);
}

Test(daemons, second_supervisor_refuses_a_live_socket)
{
	char out[4096];
	start_supervisor("600ms");
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--socket", e.sock, "--control", e.ctl, NULL};
	int rc = vt_run(argv, out, sizeof(out), 1);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
	cr_expect(strstr(out, e.sock) != NULL && strstr(out, "another process") != NULL, "%s", out);
	cr_expect_eq(kill(e.sv, 0), 0, "the first supervisor was disturbed");
	cr_expect(access(e.sock, F_OK) == 0, "the first supervisor's socket was removed");
	vt_env_end(&e);
}

Test(daemons, unusable_runtime_directory_names_the_path)
{
	char out[4096], file[320], sock[400];
	snprintf(file, sizeof(file), "%s/not-a-dir", e.dir);
	FILE *fp = fopen(file, "w");
	cr_assert_not_null(fp);
	fclose(fp);
	snprintf(sock, sizeof(sock), "%s/supervisor.sock", file);
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--socket", sock, "--control", e.ctl, NULL};
	int rc = vt_run(argv, out, sizeof(out), 1);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
	cr_expect(strstr(out, file) != NULL, "error does not name %s: %s", file, out);
	vt_env_end(&e);
}

/* A runtime directory the supervisor's user may not write: the error names the path and why. */
Test(daemons, unwritable_runtime_directory_names_the_path)
{
	char out[4096], rundir[320], sock[400], ctl[400];

	snprintf(rundir, sizeof(rundir), "%s/run", e.dir);
	cr_assert_eq(mkdir(rundir, 0755), 0); /* root's; nobody may enter but not write */
	cr_assert_eq(chmod(e.dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/supervisor.sock", rundir);
	snprintf(ctl, sizeof(ctl), "%s/control.sock", rundir);
	char *argv[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			VIGIL_SUPERVISOR_BIN, "--socket", sock, "--control", ctl, NULL};
	int rc = vt_run(argv, out, sizeof(out), 1);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
	cr_expect(strstr(out, sock) != NULL && strstr(out, "Permission denied") != NULL,
		  "the error does not name %s and the reason: %s", sock, out);
}

struct usage_case {
	const char *bin;
	const char *args[4];
	const char *needle;
};

static const struct usage_case usage_cases[] = {
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "abc"}, "--timeout 'abc'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "-1s"}, "--timeout '-1s'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "5"}, "missing unit"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "200h"}, "at most 168h"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout"}, "needs a value: '--timeout'"},
    {VIGIL_SUPERVISOR_BIN, {"--max-workers", "0"}, "--max-workers '0'"},
    {VIGIL_SUPERVISOR_BIN, {"--bogus"}, "unknown option '--bogus'"},
    {VIGIL_SUPERVISOR_BIN, {"--log-level", "loud"}, "--log-level 'loud'"},
    {VIGIL_SUPERVISOR_BIN, {"extra"}, "unexpected argument 'extra'"},
    {VIGIL_SUPERVISOR_BIN, {"--allow-user", "no-such-user-x"}, "no such user 'no-such-user-x'"},
    {VIGIL_SUPERVISOR_BIN, {"--allow-group", "no-such-group-x"}, "no such group"},
    {VIGIL_WORKER_BIN, {"--interval", "1s"}, "--name is required"},
    {VIGIL_WORKER_BIN, {"--name", "a/b"}, "--name 'a/b'"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--interval", "fast"}, "--interval 'fast'"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--interval", "25h"}, "from 1ms to 24h"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--jitter", "80"}, "--jitter '80'"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--on-timeout", "panic"}, "--on-timeout 'panic'"},
    {VIGIL_SUPERVISOR_BIN, {"--on-timeout", "signal:FOO@2"}, "unknown signal 'FOO'"},
    {VIGIL_SUPERVISOR_BIN, {"--on-timeout", "signal:TERM@2,signal:KILL@1"}, "higher MISSED"},
    {VIGIL_SUPERVISOR_BIN, {"--on-timeout", "exec:/no/such/hook"}, "/no/such/hook: No such file"},
    {VIGIL_SUPERVISOR_BIN, {"--on-timeout", "reboot"}, "unknown step 'reboot'"},
    {VIGIL_SUPERVISOR_BIN, {"--hook-timeout", "0s"}, "--hook-timeout '0s'"},
    {VIGIL_SUPERVISOR_BIN, {"--intensity", "5"}, "--intensity '5': need R/W"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:0.5"}, "--timeout 'phi:0.5': need phi:T"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:17"}, "--timeout 'phi:17'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:8x"}, "--timeout 'phi:8x'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:nan"}, "--timeout 'phi:nan'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:"}, "--timeout 'phi:'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:8", "--phi-min-stddev", "0ms"},
     "--phi-min-stddev '0ms'"},
    {VIGIL_SUPERVISOR_BIN, {"--timeout", "phi:8", "--phi-pause", "soon"}, "--phi-pause 'soon'"},
    {VIGIL_SUPERVISOR_BIN, {"--phi-pause", "1s"}, "need '--timeout phi:T'"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--exec"}, "--exec needs a program"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--check", ""}, "--check '': an empty command"},
    {VIGIL_WORKER_BIN, {"--name", "w", "--check-timeout", "soon"}, "--check-timeout 'soon'"},
    {VIGIL_CTL_BIN, {"frobnicate"}, "unknown command frobnicate"},
    {VIGIL_CTL_BIN, {"status", "--yaml"}, "--yaml"},
    {VIGIL_CTL_BIN, {NULL}, "missing command"},
};

/*
 * Criterion runs each parameter in a fresh process where pointers into the
 * parent's data are not valid: pass the index into usage_cases instead.
 */
ParameterizedTestParameters(usage, bad_flags_exit_2)
{
	static size_t idx[sizeof(usage_cases) / sizeof(usage_cases[0])];
	for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, sizeof(idx) / sizeof(idx[0]));
}

ParameterizedTest(size_t *idx, usage, bad_flags_exit_2)
{
	const struct usage_case *c = &usage_cases[*idx];
	char out[4096];
	char *argv[6] = {(char *)c->bin};
	for (int i = 0; i < 4 && c->args[i]; i++)
		argv[i + 1] = (char *)c->args[i];
	int rc = vt_run(argv, out, sizeof(out), 1);
	cr_expect_eq(rc, 2, "%s %s: exit %d, want 2: %s", c->bin, c->args[0], rc, out);
	cr_expect(strstr(out, c->needle) != NULL, "%s: output lacks \"%s\": %s", c->bin, c->needle,
		  out);
}

Test(usage, help_and_version_exit_0)
{
	const char *bins[] = {VIGIL_SUPERVISOR_BIN, VIGIL_WORKER_BIN, VIGIL_CTL_BIN};
	char out[8192];
	for (size_t i = 0; i < 3; i++) {
		char *h[] = {(char *)bins[i], "--help", NULL};
		char *v[] = {(char *)bins[i], "--version", NULL};
		cr_expect_eq(vt_run(h, out, sizeof(out), 0), 0, "%s --help", bins[i]);
		cr_expect(strstr(out, "Usage:") != NULL, "%s --help: %s", bins[i], out);
		cr_expect_eq(vt_run(v, out, sizeof(out), 0), 0, "%s --version", bins[i]);
		cr_expect(strstr(out, VIGIL_VERSION) != NULL, "%s --version: %s", bins[i], out);
	}
}

Test(usage, vigilctl_without_supervisor_says_which_socket)
{
	char out[4096];
	char *argv[] = {VIGIL_CTL_BIN, "--control", "/nonexistent/vigil/control.sock", "status",
			NULL};
	int rc = vt_run(argv, out, sizeof(out), 1);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
	cr_expect(strstr(out, "cannot connect to /nonexistent/vigil/control.sock") != NULL, "%s", out);

	/* A directory is named for what it is, not "Connection refused (is it running?)". */
	char *dir[] = {VIGIL_CTL_BIN, "--control", "/tmp", "status", NULL};
	rc = vt_run(dir, out, sizeof(out), 1);
	cr_expect_eq(rc, 1, "exit %d: %s", rc, out);
	cr_expect(strstr(out, "cannot connect to /tmp: not a socket (a directory") != NULL, "%s", out);
}

/*
 * sd_notify compatibility: programs written for systemd's watchdog, pointed
 * at the supervisor with NOTIFY_SOCKET and unchanged otherwise. They send
 * no WORKER=, so the supervisor names them by their service (none here:
 * the tests run outside one) or their pid, as the kernel vouches for it.
 */

static void
stop_notifier(pid_t pid)
{
	vt_stop(pid, SIGKILL, 2000);
}

/* The real systemd-notify: WATCHDOG=1 keeps a nameless program alive, its silence times it out. */
Test(daemons, systemd_notify_watchdog_keeps_alive_then_silence_times_out)
{
	start_supervisor("600ms");
	/* --pid=$$: the pings speak for the shell (root may name another pid in its credentials). */
	pid_t sh = vt_env_notifier(&e, "i=0; while [ $i -lt 12 ]; do i=$((i+1)); "
				  "systemd-notify --pid=$$ WATCHDOG=1 \"STATUS=round $i\" || exit 9; "
				  "sleep 0.1; done; exec sleep 60");
	const char *name = vt_pid_name(sh);
	expect_state(name, "alive", sh, 3000);
	/* Past the 600 ms timeout while it keeps pinging: still alive, never timed out. */
	usleep(700 * 1000);
	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, name);
	cr_assert_not_null(w, "%s not in status", name);
	cr_expect_str_eq(json_string_value(json_object_get(w, "state")), "alive");
	cr_expect_eq(json_integer_value(json_object_get(w, "timeouts")), 0);
	cr_expect_geq(json_integer_value(json_object_get(w, "heartbeats")), 5);
	cr_expect_eq(strncmp(json_string_value(json_object_get(w, "status")), "round ", 6), 0,
		     "STATUS= from systemd-notify: '%s'", json_string_value(json_object_get(w, "status")));
	json_decref(st);
	/* The loop ends, the shell lives on silently: dead one timeout later. */
	expect_state(name, "dead", sh, 3000);
	vt_expect_log(e.log, "timed out", 1000);
	if (sup_counter("invalid_datagrams") != 0)
		vt_dump(e.log);
	cr_expect_eq(sup_counter("invalid_datagrams"), 0, "systemd-notify's datagrams were refused");
	stop_notifier(sh);
	vt_env_end(&e);
}

/* WATCHDOG=trigger: dead at once, long before the timeout. */
Test(daemons, systemd_notify_trigger_declares_dead_at_once)
{
	start_supervisor("20s");
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ WATCHDOG=1 || exit 9; sleep 0.3; "
				  "systemd-notify --pid=$$ WATCHDOG=trigger || exit 9; exec sleep 60");
	const char *name = vt_pid_name(sh);
	expect_state(name, "alive", sh, 3000);
	uint64_t t0 = vt_now_ms();
	expect_state(name, "dead", sh, 3000);
	cr_expect_lt(vt_now_ms() - t0, 2000, "a trigger must not wait for the 20 s timeout");
	vt_expect_log(e.log, "asked to be declared dead (WATCHDOG=trigger)", 1000);
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_integer_value(json_object_get(vt_worker(st, name), "timeouts")), 1);
	json_decref(st);
	stop_notifier(sh);
	vt_env_end(&e);
}

/* WATCHDOG_USEC=: the program's own timeout wins over --timeout, counted from its last ping. */
Test(daemons, watchdog_usec_sets_the_timeout)
{
	start_supervisor("20s");
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ WATCHDOG=1 WATCHDOG_USEC=400000 || exit 9; "
				  "exec sleep 60");
	const char *name = vt_pid_name(sh);
	expect_state(name, "alive", sh, 3000);
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_integer_value(json_object_get(vt_worker(st, name), "timeout_ms")), 400);
	json_decref(st);
	expect_state(name, "dead", sh, 2000);
	vt_expect_log(e.log, "timeout 400ms", 1000);
	/* No claim makes a timer spin: WATCHDOG_USEC=1 is held to --min-timeout, 10 ms. */
	char pidarg[32], *out = NULL;
	snprintf(pidarg, sizeof(pidarg), "--pid=%d", (int)sh);
	cr_assert_neq(asprintf(&out, "NOTIFY_SOCKET=%s", e.sock), -1);
	putenv(out); /* for systemd-notify; this test's process ends with the test */
	char *argv[] = {"/usr/bin/systemd-notify", pidarg, "WATCHDOG_USEC=1", NULL};
	char buf[256];
	cr_assert_eq(vt_run(argv, buf, sizeof(buf), 1), 0, "systemd-notify: %s", buf);
	uint64_t end = vt_now_ms() + 2000;
	json_int_t ms = -1;
	while (vt_now_ms() < end && ms != 10) {
		st = vt_env_status(&e);
		ms = json_integer_value(json_object_get(vt_worker(st, name), "timeout_ms"));
		json_decref(st);
		usleep(20000);
	}
	cr_expect_eq(ms, 10, "WATCHDOG_USEC=1 gave a timeout of %lld ms", (long long)ms);
	stop_notifier(sh);
	vt_env_end(&e);
}

/* A child of ours that has not ended (a killed one is a zombie, which kill(pid, 0) still finds). */
static int
child_running(pid_t pid)
{
	siginfo_t info = {0};
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

/* Descriptors the supervisor holds open, from /proc. */
static int
open_fds(pid_t pid)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	cr_assert_not_null(d, "%s: %s", path, strerror(errno));
	for (struct dirent *ent; (ent = readdir(d)) != NULL;)
		n += ent->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * The supervisor's descriptors once its control connections have closed:
 * a connection a client closed is closed on the supervisor's side a few
 * loop turns later. Waits (up to 2 s) until the count stops falling.
 */
static int
settled_fds(pid_t pid)
{
	int n = open_fds(pid);

	for (int i = 0; i < 40; i++) {
		usleep(50 * 1000);
		int m = open_fds(pid);
		if (m == n && i >= 2)
			break;
		n = m;
	}
	return n;
}

/*
 * libsystemd's own client: READY=1, then sd_notify_barrier(), which waits
 * until the receiver closes the descriptor sent with BARRIER=1 (it fails
 * after 5 s otherwise), then pings carrying descriptors that must not leak.
 */
Test(daemons, libsystemd_client_is_supervised_and_its_fds_closed)
{
#ifndef VIGIL_SDCLIENT_BIN
	if (getenv("CI") != NULL)
		cr_assert_fail("sd-client was not built: libsystemd-dev is missing (scripts/deps test)");
	cr_skip_test("libsystemd-dev is not installed: sd-client was not built");
#else
	start_supervisor("600ms");
	int before = settled_fds(e.sv);
	char *argv[] = {VIGIL_SDCLIENT_BIN, "20", "50", "3", NULL};
	char *cmd = NULL;
	cr_assert_neq(asprintf(&cmd, "NOTIFY_SOCKET=%s", e.sock), -1);
	putenv(cmd); /* inherited by the child; this test process ends with the test */
	pid_t pid = vt_env_spawn(&e, e.wlog, argv);
	const char *name = vt_pid_name(pid);
	expect_state(name, "alive", pid, 3000);
	vt_expect_log(e.wlog, "barrier passed", 6000);
	vt_expect_log(e.wlog, "20 watchdog pings sent", 5000);
	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, name);
	cr_expect_str_eq(json_string_value(json_object_get(w, "status")), "a libsystemd program");
	cr_expect_geq(json_integer_value(json_object_get(w, "heartbeats")), 20);
	cr_expect_eq(json_integer_value(json_object_get(w, "timeouts")), 0);
	json_decref(st);
	int after = settled_fds(e.sv);
	cr_expect_eq(after, before, "60 descriptors came with the pings: %d open, %d before", after,
		     before);
	cr_expect_eq(sup_counter("invalid_datagrams"), 0);
	stop_notifier(pid);
	vt_env_end(&e);
#endif
}

/* Nameless news from a stranger, or a nameless HEARTBEAT=1 (ours needs WORKER=), registers nobody. */
Test(daemons, nameless_messages_that_register_nobody)
{
	start_supervisor("600ms");
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ STATUS=hello || exit 9; "
				  "systemd-notify --pid=$$ WATCHDOG=trigger || exit 9; "
				  "systemd-notify --pid=$$ STOPPING=1 || exit 9; "
				  "printf 'HEARTBEAT=1\\n' | socat -u - UNIX-SENDTO:$NOTIFY_SOCKET; "
				  "echo sent; exec sleep 60");
	vt_expect_log(e.wlog, "sent", 3000);
	uint64_t end = vt_now_ms() + 2000;
	while (sup_counter("invalid_datagrams") < 1 && vt_now_ms() < end)
		usleep(10000);
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_array_size(json_object_get(st, "workers")), 0, "a worker was registered");
	json_t *by = json_object_get(json_object_get(st, "supervisor"), "invalid_by_reason");
	cr_expect_eq(json_integer_value(json_object_get(by, "no_worker")), 1,
		     "HEARTBEAT=1 without WORKER= is ours, and needs a name");
	json_decref(st);
	stop_notifier(sh);
	vt_env_end(&e);
}

/*
 * --detect-exit: a killed worker is "exited" at once (a pidfd per worker),
 * not "dead" a timeout later; restarted, it is watched again; a clean stop
 * (STOPPING=1, then exit) stays "stopped".
 */
Test(daemons, detect_exit_reports_a_killed_worker_at_once)
{
	start_supervisor_with("20s", "--detect-exit");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	/* The watch is set at a pid's second heartbeat. */
	cr_assert(vt_env_wait_beats(&e, "w1", 2, 3000), "w1 never heartbeat twice");
	uint64_t t0 = vt_now_ms();
	vt_stop(wrk, SIGKILL, 2000);
	expect_state("w1", "exited", 0, 2000);
	cr_expect_lt(vt_now_ms() - t0, 1000, "exit seen only after %llu ms",
		     (unsigned long long)(vt_now_ms() - t0));
	vt_expect_log(e.log, "worker w1 exited", 1000);
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_integer_value(json_object_get(vt_worker(st, "w1"), "timeouts")), 0);
	json_decref(st);

	/* Started again: a new pid, alive, and watched again. */
	wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	json_t *st0 = vt_env_status(&e);
	json_int_t n = json_integer_value(json_object_get(vt_worker(st0, "w1"), "heartbeats")) + 1;
	json_decref(st0);
	cr_assert(vt_env_wait_beats(&e, "w1", n, 3000), "the new w1 never heartbeat twice");
	vt_stop(wrk, SIGKILL, 2000);
	expect_state("w1", "exited", 0, 2000);

	/* A clean stop is not an exit to report. */
	wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	int ws = vt_stop(wrk, SIGTERM, 3000);
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	expect_state("w1", "stopped", 0, 2000);
	usleep(300 * 1000);
	expect_state("w1", "stopped", 0, 100);
	vt_env_end(&e);
}

/*
 * --on-timeout signal:KILL@2: a stalled worker (alive, silent) is killed
 * when MISSED reaches 2, not before; a heartbeating one never is.
 */
Test(daemons, policy_kills_a_stalled_worker_at_missed_2)
{
	start_supervisor_with("300ms", "--on-timeout=signal:KILL@2");
	pid_t wrk = start_worker("w1", NULL);
	pid_t w2 = start_worker("w2", NULL);
	expect_state("w1", "alive", wrk, 3000);
	expect_state("w2", "alive", w2, 3000);

	uint64_t t0 = vt_now_ms();
	kill(wrk, SIGUSR1); /* stall: alive, no heartbeats */
	int ws = vt_wait_exit(wrk, 3000);
	uint64_t took = vt_now_ms() - t0;
	cr_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "w1 was not killed: status %d", ws);
	/* Two periods of 300 ms from its last heartbeat, at most 100 ms before the stall. */
	cr_expect_geq(took, 450, "killed after %llu ms: before MISSED reached 2",
	              (unsigned long long)took);
	cr_expect_lt(took, 1500, "killed only after %llu ms", (unsigned long long)took);
	vt_expect_log(e.log, "worker w1: sent SIGKILL to pid", 1000);
	cr_expect_eq(sup_counter("signals_sent"), 1);
	cr_expect_eq(sup_counter("signals_refused"), 0);
	cr_expect(child_running(w2), "the heartbeating worker was signalled");
	expect_state("w2", "alive", w2, 100);
	int ws2 = vt_stop(w2, SIGTERM, 3000);
	cr_expect(WIFEXITED(ws2) && WEXITSTATUS(ws2) == 0);
	vt_env_end(&e);
}

/* Whether this test may steer pids (/proc/sys/kernel/ns_last_pid, root only); else skip. */
static void
need_ns_last_pid(void)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r+");
	if (f == NULL) {
		if (getenv("CI") != NULL)
			cr_assert_fail("/proc/sys/kernel/ns_last_pid: %s (needs root)",
				       strerror(errno));
		cr_skip_test("cannot write /proc/sys/kernel/ns_last_pid (needs root)");
	}
	fclose(f);
}

/*
 * Start argv (output to the workers' log) with the pid `want` (gone by
 * now), steering the kernel with ns_last_pid. Whatever else forks on the
 * machine between the write and our spawn takes the pid first: so the
 * write and a posix_spawn (a vfork, microseconds even under the
 * sanitizers, where a fork of the test copies its whole shadow memory)
 * follow each other closely, and up to 500 times. The caller ends it.
 */
static pid_t
spawn_with_pid(pid_t want, char *const argv[])
{
	char last[32];
	int n = snprintf(last, sizeof(last), "%d", (int)want - 1);
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	posix_spawn_file_actions_t fa;
	pid_t got = -1;

	cr_assert_neq(fd, -1, "ns_last_pid: %s", strerror(errno));
	cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
	posix_spawn_file_actions_addopen(&fa, 1, e.wlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	for (int attempt = 0; attempt < 500 && got != want; attempt++) {
		if (got > 0) {
			kill(got, SIGKILL);
			waitpid(got, NULL, 0);
		}
		if (pwrite(fd, last, (size_t)n, 0) != n ||
		    posix_spawn(&got, argv[0], &fa, NULL, argv, environ) != 0)
			got = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	return got;
}

/*
 * A pid that now belongs to another process is never signalled: a nameless
 * sd_notify sender registers with its shell's pid and exits; a new process
 * is given that very pid (ns_last_pid); at MISSED 1 the supervisor must see
 * the start time differ and refuse.
 */
Test(daemons, policy_never_signals_a_reused_pid)
{
	need_ns_last_pid();
	start_supervisor_with("300ms", "--on-timeout=signal:KILL@1");
	/* The shell registers as pid-$$ and exits at once. */
	pid_t sh = vt_env_notifier(&e, "systemd-notify --pid=$$ WATCHDOG=1 || exit 9; exit 0");
	int ws = vt_wait_exit(sh, 3000);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "the notifier failed: %d", ws);
	expect_state(vt_pid_name(sh), "alive", sh, 1000);

	/* Hand its pid to a new process. */
	char *argv[] = {"/bin/sleep", "30", NULL};
	pid_t reuse = spawn_with_pid(sh, argv);
	cr_assert_eq(reuse, sh, "could not start a process with pid %d", (int)sh);

	/* Its pidfd names the dead shell; without pidfds, the start time differs. */
	vt_expect_log(e.log, "did not send SIGKILL to pid", 3000);
	cr_expect(child_running(reuse), "the process that reused the pid was signalled");
	cr_expect_eq(sup_counter("signals_sent"), 0);
	cr_expect_geq(sup_counter("signals_refused"), 1);
	vt_stop(reuse, SIGKILL, 2000);
	vt_env_end(&e);
}

/*
 * With --detect-exit the signal goes through the worker's pidfd
 * (pidfd_send_signal), which names that very process: a stalled vigil-worker
 * gets SIGTERM at MISSED 1, says STOPPING=1 and exits cleanly.
 */
Test(daemons, policy_signals_through_the_pidfd)
{
	start_supervisor_with2("300ms", "--detect-exit", "--on-timeout=signal:TERM@1");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	/* Watched from its second heartbeat. */
	cr_assert(vt_env_wait_beats(&e, "w1", 2, 3000), "w1 never heartbeat twice");
	kill(wrk, SIGUSR1);
	int ws = vt_wait_exit(wrk, 3000);
	cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "w1 did not exit cleanly on SIGTERM: %d",
	          ws);
	vt_expect_log(e.log, "worker w1: sent SIGTERM to pid", 1000);
	vt_expect_log(e.log, "--on-timeout, through its pidfd)", 1000);
	expect_state("w1", "stopped", 0, 2000);
	cr_expect_eq(sup_counter("signals_sent"), 1);
	vt_env_end(&e);
}

/*
 * From a child process that then exits: as uid 65534 if nobody, from a socket
 * bound at dir/bind_name if that is not NULL (unlinked before it exits),
 * send each of the datagrams dg (NULL-terminated) to the supervisor. Returns
 * the child's pid once it has exited cleanly.
 */
static pid_t
send_from_child(const char *const dg[], int nobody, const char *bind_name)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX}, me = {.sun_family = AF_UNIX};
		char path[400];
		memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
		if (nobody && (setgroups(0, NULL) == -1 || setresgid(65534, 65534, 65534) == -1 ||
			       setresuid(65534, 65534, 65534) == -1))
			_exit(3);
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (bind_name != NULL) {
			int n = snprintf(path, sizeof(path), "%s/%s", e.dir, bind_name);
			if (n < 0 || (size_t)n >= sizeof(me.sun_path))
				_exit(5);
			memcpy(me.sun_path, path, (size_t)n + 1);
			if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == -1)
				_exit(6);
		}
		for (int i = 0; dg[i] != NULL; i++)
			if (sendto(fd, dg[i], strlen(dg[i]), 0, (struct sockaddr *)&sun,
				   sizeof(sun)) == -1)
				_exit(4);
		if (bind_name != NULL)
			unlink(me.sun_path);
		_exit(0);
	}
	int st = vt_wait_exit(pid, 10000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the sending child failed: %d", st);
	return pid;
}

struct recycle_case {
	int start_time; /* --identity start-time, else auto (pidfds: this kernel has them) */
	int detect_exit;
};

ParameterizedTestParameters(daemons, recycled_pid_signals_nobody)
{
	static struct recycle_case cases[] = {
	    {0, 0}, {1, 0}, {0, 1}, {1, 1}};
	return cr_make_param_array(struct recycle_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * The hostile sequence (issue 13): uid 65534 sends two heartbeats for evil
 * and exits while the supervisor is not reading (stopped here); its pid goes
 * to another process of the same uid before the supervisor reads them. The
 * policy's SIGTERM must reach nobody, whether the supervisor holds the
 * sender by the pidfd the kernel passed (SCM_PIDFD) or checks start times
 * against the datagrams' arrival, with and without --detect-exit.
 */
ParameterizedTest(struct recycle_case *c, daemons, recycled_pid_signals_nobody)
{
	char ident[64];

	need_ns_last_pid();
	snprintf(ident, sizeof(ident), "--identity=%s", c->start_time ? "start-time" : "auto");
	vt_env_start_supervisor(&e, "--timeout", "300ms", "--allow-user=65534",
				"--on-timeout=signal:TERM@1", ident,
				c->detect_exit ? "--detect-exit" : NULL, NULL);
	open_socket_to_all();
	vt_expect_log(e.log,
		      c->start_time ? "sender identity: start times"
				    : "sender identity: pidfds from the kernel",
		      1000);

	kill(e.sv, SIGSTOP);
	const char *const evil_dg[] = {"HEARTBEAT=1\nWORKER=evil\n", "HEARTBEAT=1\nWORKER=evil\n",
				       NULL};
	pid_t evil = send_from_child(evil_dg, 1, NULL);
	char *argv[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"/bin/sleep", "30", NULL};
	pid_t reuse = spawn_with_pid(evil, argv);
	usleep(100 * 1000); /* setpriv has become the sleep */
	kill(e.sv, SIGCONT);
	cr_assert_eq(reuse, evil, "could not start a process with pid %d", (int)evil);

	vt_expect_log(e.log, "worker evil: did not send SIGTERM to pid", 3000);
	cr_expect(child_running(reuse), "the process that reused the pid was signalled");
	cr_expect_eq(sup_counter("signals_sent"), 0);
	cr_expect_geq(sup_counter("signals_refused"), 1);
	vt_stop(reuse, SIGKILL, 2000);
	vt_env_end(&e);
}

/*
 * The process signalled belongs to the name's uid: a root worker that
 * dropped to uid 65534 after registering is not signalled in its name.
 */
Test(daemons, policy_signals_only_the_names_uid)
{
	start_supervisor_with("300ms", "--on-timeout=signal:TERM@1");
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		const char *hb = "HEARTBEAT=1\nWORKER=dropper\n";
		if (sendto(fd, hb, strlen(hb), 0, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    setgroups(0, NULL) == -1 || setresgid(65534, 65534, 65534) == -1 ||
		    setresuid(65534, 65534, 65534) == -1)
			_exit(3);
		pause();
		_exit(0);
	}
	vt_expect_log(e.log, "worker dropper: did not send SIGTERM", 3000);
	vt_expect_log(e.log, "it runs as uid 65534 (effective 65534), not as the name's uid 0", 100);
	cr_expect(child_running(pid), "the process of another uid was signalled");
	cr_expect_eq(sup_counter("signals_sent"), 0);
	vt_stop(pid, SIGKILL, 2000);
	vt_env_end(&e);
}

/*
 * A sender whose address is gone (its socket closed and unlinked) is told
 * once that it timed out: the next periods send nothing (a spray of names
 * claiming the floor costs no sendto each), until it heartbeats again.
 */
Test(daemons, timeouts_to_a_gone_address_are_tried_once)
{
	start_supervisor("50ms");
	const char *const hb[] = {"HEARTBEAT=1\nWORKER=gone\n", NULL};
	send_from_child(hb, 0, "gone.sock");
	expect_state("gone", "dead", 0, 1000);
	usleep(1000 * 1000);
	cr_expect_geq(vt_env_worker_int(&e, "gone", "timeouts"), 10);
	cr_expect_eq(sup_counter("timeouts_undelivered"), 1);
	vt_expect_log(e.log, "no more TIMEOUTs to it until it heartbeats from an address", 100);
	vt_env_end(&e);
}

/* A SEQ that goes back for the same process (2^63-1, then 0, then 5) is counted and logged. */
Test(daemons, seq_going_back_is_counted)
{
	start_supervisor("10s");
	const char *const dg[] = {"HEARTBEAT=1\nWORKER=s\nSEQ=9223372036854775807\n",
				  "HEARTBEAT=1\nWORKER=s\nSEQ=0\n", "HEARTBEAT=1\nWORKER=s\nSEQ=5\n",
				  NULL};
	send_from_child(dg, 0, NULL);
	cr_assert(vt_env_wait_int(&e, "s", "last_seq", 5, 2000));
	cr_expect_eq(sup_counter("seq_resets"), 1);
	vt_expect_log(e.log, "worker s: SEQ went back from 9223372036854775807 to 0", 1000);
	vt_env_end(&e);
}

/*
 * Two live processes heartbeat for one WORKER= name: the second is a rival
 * claimant, reported once as a conflict (no restarts), shown in status; the
 * death of either is reported within the timeout while the other heartbeats.
 */
Test(daemons, two_claimants_are_a_conflict)
{
	char sock2[320], sock3[320];

	snprintf(sock2, sizeof(sock2), "%s/twin-2.sock", e.dir);
	snprintf(sock3, sizeof(sock3), "%s/twin-3.sock", e.dir);
	start_supervisor("600ms");
	pid_t a = start_worker("twin", NULL);
	expect_state("twin", "alive", a, 3000);
	/* Its start time is taken at its second heartbeat when the first came within a tick. */
	cr_assert(vt_env_wait_beats(&e, "twin", 3, 3000), "twin never heartbeat thrice");

	uint64_t t0 = vt_now_ms();
	pid_t b = vt_env_start_worker(&e, "twin", "--socket", sock2, NULL);
	cr_assert(vt_env_wait_int(&e, "twin", "conflict_pid", b, 600 + 1000),
		  "no conflict shown in status within a period");
	char want[128];
	snprintf(want, sizeof(want), "worker twin: conflict: pid %d heartbeats for the name while "
				     "pid %d holds it", (int)b, (int)a);
	vt_expect_log(e.log, want, 100);
	cr_log_info("conflict seen %llu ms after the second claimant started",
		    (unsigned long long)(vt_now_ms() - t0));
	usleep(500 * 1000);
	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, "twin");
	cr_expect_eq(json_integer_value(json_object_get(w, "pid")), a);
	cr_expect_eq(json_integer_value(json_object_get(w, "restarts")), 0, "a rival counted as a restart");
	cr_expect_geq(json_integer_value(json_object_get(json_object_get(st, "supervisor"),
							"conflict_heartbeats")),
		      3);
	json_decref(st);
	cr_expect_eq(vt_file_contains(e.log, "restarted"), 0, "a restart was logged");

	/* The rival dies: reported within its timeout, though the holder heartbeats on. */
	uint64_t killed = vt_now_ms();
	vt_stop(b, SIGKILL, 2000);
	snprintf(want, sizeof(want), "worker twin: its rival claimant pid %d timed out", (int)b);
	vt_expect_log(e.log, want, 600 + 400);
	uint64_t took = vt_now_ms() - killed;
	cr_expect_leq(took, 600 + 400, "the rival's death reported after %llu ms",
		      (unsigned long long)took);
	expect_state("twin", "alive", a, 100);
	cr_expect(vt_env_wait_int(&e, "twin", "conflict_pid", 0, 500));

	/* A new rival; then the holder dies: the rival takes the name, as a restart. */
	pid_t c = vt_env_start_worker(&e, "twin", "--socket", sock3, NULL);
	cr_assert(vt_env_wait_int(&e, "twin", "conflict_pid", c, 1600), "no second conflict");
	killed = vt_now_ms();
	vt_stop(a, SIGKILL, 2000);
	expect_state("twin", "alive", c, 600 + 400);
	took = vt_now_ms() - killed;
	cr_expect_leq(took, 600 + 400, "the holder's death reported after %llu ms",
		      (unsigned long long)took);
	snprintf(want, sizeof(want), "worker twin restarted (new pid %d", (int)c);
	vt_expect_log(e.log, want, 100);
	vt_env_end(&e);
}

/*
 * NotifyAccess=main: a service's shell loop calling the real systemd-notify
 * as a non-root user (each ping from a new, short-lived pid) is one worker
 * named after its unit, with the shell's pid and no restarts; the helpers'
 * pings count for it; SIGSTOP of the shell is reported.
 */
Test(daemons, service_helpers_are_not_restarts)
{
	char cg[256], unit[64], script[1024];

	if (access("/sys/fs/cgroup/systemd/cgroup.procs", W_OK) != 0 &&
	    access("/sys/fs/cgroup/cgroup.procs", W_OK) != 0)
		cr_skip_test("no writable systemd cgroup hierarchy to make a service's cgroup in");
	snprintf(unit, sizeof(unit), "vigil-helpers-%d.service", (int)getpid());
	snprintf(cg, sizeof(cg), "%s/%s",
		 access("/sys/fs/cgroup/systemd/cgroup.procs", W_OK) == 0 ? "/sys/fs/cgroup/systemd"
									  : "/sys/fs/cgroup",
		 unit);
	cr_assert(mkdir(cg, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", cg, strerror(errno));
	start_supervisor_with("600ms", "--allow-user=65534");
	open_socket_to_all();
	snprintf(script, sizeof(script),
		 "echo $$ > %s/cgroup.procs && exec /usr/bin/setpriv --reuid=65534 --regid=65534 "
		 "--clear-groups /bin/sh -c 'while :; do systemd-notify WATCHDOG=1; sleep 0.1; done'",
		 cg);
	pid_t sh = vt_env_notifier(&e, script);
	expect_state(unit, "alive", sh, 3000);
	usleep(2000 * 1000);
	json_t *st = vt_env_status(&e);
	json_t *w = vt_worker(st, unit);
	cr_expect_eq(json_integer_value(json_object_get(w, "pid")), sh, "the helper's pid was kept");
	cr_expect_eq(json_integer_value(json_object_get(w, "restarts")), 0, "helpers counted as restarts");
	cr_expect_geq(json_integer_value(json_object_get(w, "heartbeats")), 10);
	cr_expect_geq(json_integer_value(json_object_get(json_object_get(st, "supervisor"),
							"helper_pings")),
		      10);
	json_decref(st);

	kill(sh, SIGSTOP);
	expect_state(unit, "dead", sh, 600 + 500);
	kill(sh, SIGCONT);
	stop_notifier(sh);
	vt_env_end(&e);
	for (int i = 0; i < 100 && rmdir(cg) == -1 && errno == EBUSY; i++)
		usleep(20 * 1000);
}

/* Write an executable script at dir/name; returns its path (static storage). */
static const char *
write_hook(const char *name, const char *body)
{
	static char path[400];
	snprintf(path, sizeof(path), "%s/%s", e.dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
	return path;
}

/*
 * --on-timeout exec:PATH@1: the hook runs, without a shell of ours, with the
 * worker's facts in a clean environment, and its exit status is logged.
 */
Test(daemons, hook_runs_with_the_workers_facts)
{
	char policy[512], out[450], text[2048];
	const char *hook = write_hook("hook.sh", "{ env; echo \"NOFILE=$(ulimit -n)\"; echo \"CWD=$(pwd)\"; } > \"$0.out.tmp\" && "
						 "mv \"$0.out.tmp\" \"$0.out\"");
	/* The supervisor raises its soft descriptor limit; its hooks get the one it was given. */
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_gt(rl.rlim_max, 777, "the hard descriptor limit is too low for this test");
	rl.rlim_cur = 777;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);

	snprintf(policy, sizeof(policy), "--on-timeout=exec:%s@1", hook);
	snprintf(out, sizeof(out), "%s.out", hook);
	start_supervisor_with("300ms", policy);
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	kill(wrk, SIGUSR1); /* stall */
	vt_expect_log(e.log, "exited 0", 3000);
	FILE *f = fopen(out, "r");
	cr_assert_not_null(f, "the hook wrote no %s", out);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	char want[64];
	snprintf(want, sizeof(want), "VIGIL_PID=%d\n", (int)wrk);
	cr_expect(strstr(text, "VIGIL_WORKER=w1\n") != NULL, "%s", text);
	cr_expect(strstr(text, "VIGIL_EVENT=timeout\n") != NULL, "%s", text);
	cr_expect(strstr(text, "VIGIL_MISSED=1\n") != NULL, "%s", text);
	cr_expect(strstr(text, want) != NULL, "want %s in %s", want, text);
	const char *silent = strstr(text, "VIGIL_SILENT_MS=");
	cr_assert_not_null(silent, "%s", text);
	cr_expect_geq(atoi(silent + 16), 300, "%s", text);
	cr_expect_null(strstr(text, "HOME="), "the hook inherited our environment: %s", text);
	cr_expect(strstr(text, "NOFILE=777\n") != NULL, "the hook's descriptor limit: %s", text);
	cr_expect(strstr(text, "CWD=/\n") != NULL, "the hook runs from our start directory: %s", text);
	vt_expect_log(e.log, "for worker w1 (timeout, missed 1) exited 0", 1000);
	cr_expect_eq(sup_counter("hooks_started"), 1, "the hook ran at MISSED 1 only");
	kill(wrk, SIGUSR1); /* resume, for a clean end */
	expect_state("w1", "alive", wrk, 2000);
	vt_env_end(&e);
}

/* A hook that hangs is killed at --hook-timeout; the supervisor never waits for it. */
Test(daemons, hanging_hook_is_killed_at_its_limit)
{
	char policy[512];
	const char *hook = write_hook("hang.sh", "exec sleep 60");

	snprintf(policy, sizeof(policy), "--on-timeout=exec:%s@1", hook);
	start_supervisor_with2("300ms", policy, "--hook-timeout=700ms");
	pid_t wrk = start_worker("w1", NULL);
	pid_t w2 = start_worker("w2", NULL);
	expect_state("w1", "alive", wrk, 3000);
	expect_state("w2", "alive", w2, 3000);
	kill(wrk, SIGUSR1);
	uint64_t end = vt_now_ms() + 3000;
	while (sup_counter("hooks_started") < 1 && vt_now_ms() < end)
		usleep(10000);
	cr_assert_eq(sup_counter("hooks_started"), 1);
	/* While it hangs: status answers, the other worker is alive. */
	expect_state("w2", "alive", w2, 200);
	cr_expect_eq(sup_counter("hooks_killed"), 0, "killed before its limit");
	vt_expect_log(e.log, "still running after its 700ms limit: killed", 2000);
	cr_expect_eq(sup_counter("hooks_killed"), 1);
	kill(wrk, SIGUSR1);
	expect_state("w1", "alive", wrk, 2000);
	int ws2 = vt_stop(w2, SIGTERM, 3000);
	cr_expect(WIFEXITED(ws2) && WEXITSTATUS(ws2) == 0);
	vt_env_end(&e);
}

/*
 * --intensity 2/60s: a worker that goes silent a third time within the
 * window is failed, said so, shown "failed", and no longer escalated: the
 * signal:KILL@2 step does not fire for it.
 */
Test(daemons, intensity_stops_escalating_a_flapping_worker)
{
	start_supervisor_with2("500ms", "--on-timeout=signal:KILL@2", "--intensity=2/60s");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	for (int round = 1; round <= 2; round++) {
		kill(wrk, SIGUSR1); /* stall: MISSED 1 is an incident */
		expect_state("w1", "dead", wrk, 2000);
		kill(wrk, SIGUSR1); /* resume before MISSED 2 (and its SIGKILL) */
		expect_state("w1", "alive", wrk, 2000);
	}
	cr_expect(!vt_file_contains(e.log, "failed:"), "failed after only two incidents");
	kill(wrk, SIGUSR1); /* the third silence within the window */
	vt_expect_log(e.log, "worker w1 failed: more than 2 silences, restarts or exits", 2000);
	expect_state("w1", "failed", wrk, 1000);
	vt_expect_log(e.log, "missed 2", 2000); /* where the ladder would have killed it */
	usleep(200 * 1000);
	cr_expect(child_running(wrk), "a failed worker was still signalled");
	cr_expect_eq(sup_counter("signals_sent"), 0);
	kill(wrk, SIGUSR1);
	expect_state("w1", "alive", wrk, 2000);
	vt_env_end(&e);
}

/* vigil-worker --check: heartbeats only while the health command passes. */
Test(daemons, worker_check_gates_heartbeats)
{
	char flag[400], check[450];

	snprintf(flag, sizeof(flag), "%s/healthy", e.dir);
	snprintf(check, sizeof(check), "--check=test -e %s", flag);
	start_supervisor("600ms");
	pid_t wrk = start_worker("w1", check);
	/* Not one heartbeat, not even the first, before a check has passed. */
	vt_expect_log(e.wlog, "health check failing (exit status 1)", 3000);
	usleep(300 * 1000); /* three periods in which nothing may arrive */
	cr_expect_eq(sup_counter("workers"), 0, "a heartbeat went out before any check passed");
	FILE *f = fopen(flag, "w");
	cr_assert_not_null(f);
	fclose(f);
	expect_state("w1", "alive", wrk, 3000);
	vt_expect_log(e.wlog, "health check passing", 1000);
	cr_assert_eq(unlink(flag), 0);
	expect_state("w1", "dead", wrk, 3000);
	vt_expect_log(e.wlog, "health check failing (exit status 1)", 1000);
	cr_expect_eq(kill(wrk, 0), 0, "the worker itself keeps running");
	f = fopen(flag, "w");
	cr_assert_not_null(f);
	fclose(f);
	expect_state("w1", "alive", wrk, 3000);
	vt_expect_log(e.wlog, "heartbeats resume", 1000);
	vt_env_end(&e);
}

/* Start vigil-worker --exec -- argv...; returns its pid. */
static pid_t
start_exec_worker(const char *name, char *const prog[])
{
	char *opts[16] = {"--exec", "--"};
	size_t n = 2;

	for (size_t i = 0; prog[i] != NULL && n < 15; i++)
		opts[n++] = prog[i];
	opts[n] = NULL;
	return vt_env_start_worker_opts(&e, name, opts);
}

/* --exec: a program that fails ends the worker with its status, and no STOPPING=1. */
Test(daemons, worker_exec_ends_with_a_failing_program)
{
	char *prog[] = {"/bin/sh", "-c", "sleep 0.5; exit 3", NULL};

	start_supervisor("600ms");
	pid_t w = start_exec_worker("w1", prog);
	expect_state("w1", "alive", w, 3000);
	int ws = vt_wait_exit(w, 3000);
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 3, "worker status %d, want exit 3", ws);
	vt_expect_log(e.wlog, "ended (exit status 3): exiting with its status", 1000);
	expect_state("w1", "dead", 0, 3000); /* a failure: reported, not "stopped" */
	vt_env_end(&e);
}

/* --exec: TERM goes to the program first; when it ends, the worker stops cleanly. */
Test(daemons, worker_exec_passes_term_on_and_stops)
{
	char *prog[] = {"/bin/sleep", "60", NULL};

	start_supervisor("600ms");
	pid_t w = start_exec_worker("w1", prog);
	expect_state("w1", "alive", w, 3000);
	vt_expect_log(e.wlog, "running /bin/sleep as pid", 1000);
	char text[4096];
	FILE *f = fopen(e.wlog, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	const char *at = strstr(text, "running /bin/sleep as pid ");
	cr_assert_not_null(at);
	pid_t prog_pid = (pid_t)atoi(at + strlen("running /bin/sleep as pid "));
	cr_assert_gt(prog_pid, 0);

	int ws = vt_stop(w, SIGTERM, 3000);
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "worker status %d", ws);
	vt_expect_log(e.wlog, "passing it on to /bin/sleep", 1000);
	cr_expect_eq(kill(prog_pid, 0), -1, "the program outlived the worker");
	expect_state("w1", "stopped", 0, 2000);
	vt_env_end(&e);
}

/*
 * --detect-exit with a one-shot sender (socat: a new pid every datagram)
 * never mistakes the sender's end for the worker's: its silence still
 * times out.
 */
Test(daemons, detect_exit_leaves_one_shot_senders_to_the_timeout)
{
	start_supervisor_with("500ms", "--detect-exit");
	pid_t sh = vt_env_notifier(&e, "for i in 1 2 3; do printf 'HEARTBEAT=1\\nWORKER=cron\\n' | "
				  "socat -u - UNIX-SENDTO:$NOTIFY_SOCKET || exit 9; sleep 0.1; done; "
				  "echo sent; exec sleep 60");
	vt_expect_log(e.wlog, "sent", 3000);
	expect_state("cron", "dead", 0, 3000);
	json_t *st = vt_env_status(&e);
	cr_expect_geq(json_integer_value(json_object_get(vt_worker(st, "cron"), "timeouts")), 1);
	json_decref(st);
	cr_expect(!vt_file_contains(e.log, "worker cron exited"),
		  "a one-shot sender's end was taken for the worker's");
	stop_notifier(sh);
	vt_env_end(&e);
}

/* A worker's field from the status document, or -1 if it has none. */
static json_int_t
worker_int(const char *name, const char *key)
{
	return vt_env_worker_int(&e, name, key);
}

/*
 * --timeout phi:8: each worker's timeout follows its own heartbeats. A
 * jittery worker (+/-30% of 100 ms) runs for seconds without a timeout;
 * a steady one learns a timeout below the fixed default (3 x 100 ms) and,
 * killed, is declared dead no earlier than that timeout and well before
 * the default would have.
 */
Test(daemons, phi_timeout_adapts_per_worker)
{
	start_supervisor("phi:8");
	pid_t wrk = start_worker("w1", "--jitter=30");
	pid_t w2 = start_worker("w2", NULL);
	expect_state("w1", "alive", wrk, 3000);
	expect_state("w2", "alive", w2, 3000);
	vt_expect_log(e.log, "timeout phi 8 (min stddev 20ms, pause 0", 1000);

	/* Before 8 intervals: the first-heartbeat estimate, 100 ms + 5.226 x 25 ms. */
	json_int_t first = worker_int("w2", "timeout_ms");
	cr_expect(first == 230 || worker_int("w2", "heartbeats") > 8,
		  "bootstrap timeout %lld ms, want 230", (long long)first);

	/* About 3 s of heartbeats: far more than the 8 intervals phi needs. */
	cr_assert(vt_env_wait_beats(&e, "w1", 30, 6000), "w1 never heartbeat 30 times");
	cr_assert(vt_env_wait_beats(&e, "w2", 30, 2000), "w2 never heartbeat 30 times");
	cr_expect_eq(worker_int("w1", "timeouts"), 0, "the jittery worker timed out");
	cr_expect_eq(worker_int("w2", "timeouts"), 0, "the steady worker timed out");
	json_int_t tw1 = worker_int("w1", "timeout_ms"), tw2 = worker_int("w2", "timeout_ms");
	/*
	 * At least mean + 5.226 x the 20 ms floor (104.5 ms); a steady worker's
	 * mean is at least its 100 ms (a timer never fires early), a jittery
	 * one's, over 64 intervals of 100 ms +/- 30%, can dip a few ms under it
	 * (one run saw 199 ms): 170 ms leaves it room without accepting a
	 * timeout that ignored the floor.
	 */
	cr_expect(tw1 >= 170 && tw1 < 600, "w1's timeout %lld ms", (long long)tw1);
	cr_expect(tw2 >= 200 && tw2 < 300, "w2's timeout %lld ms: not below the fixed 300 ms",
		  (long long)tw2);

	uint64_t killed = vt_now_ms();
	vt_stop(w2, SIGKILL, 2000);
	double silent_s = 0;
	cr_assert(vt_env_wait_state(&e, "w2", "dead", 0, 2000, &silent_s),
		  "w2 never reported dead");
	uint64_t seen = vt_now_ms() - killed;
	json_int_t tdead = worker_int("w2", "timeout_ms");
	cr_expect_geq(silent_s * 1000, (double)tdead,
		      "dead after %.3f s of silence, before its timeout of %lld ms", silent_s,
		      (long long)tdead);
	cr_expect_lt(seen, 300 + 200, "dead only %llu ms after the kill",
		     (unsigned long long)seen);
	vt_expect_log(e.log, "worker w2 timed out", 1000);
	cr_expect_eq(worker_int("w1", "timeouts"), 0, "the jittery worker timed out");
	vt_env_end(&e);
}

/* `vigilctl status NAME --json`'s "worker" object (the caller decrefs *doc), or NULL. */
static json_t *
status_one(const char *name, json_t **doc)
{
	char out[16384];
	char *argv[] = {VIGIL_CTL_BIN, "--control", e.ctl, "status", "--json", (char *)name, NULL};
	json_error_t jerr;

	*doc = NULL;
	if (vt_run(argv, out, sizeof(out), 0) != 0 || (*doc = json_loads(out, 0, &jerr)) == NULL)
		return NULL;
	return json_object_get(*doc, "worker");
}

/*
 * A heartbeat's time is when it arrived, not when the supervisor read it.
 * The supervisor SIGSTOPped for 600 ms while a worker heartbeats every
 * 100 ms (2 s timeout): its heartbeats wait in the socket, and once read they
 * must keep their own times, about 100 ms apart. Stamped when read, they
 * would all share one time after a gap of 600 ms or more, and the last 4
 * intervals that status NAME keeps would hold that gap for 400 ms after.
 */
Test(daemons, heartbeats_queued_during_a_pause_keep_their_arrival_times)
{
	start_supervisor("2s");
	pid_t wrk = start_worker("w1", NULL);
	expect_state("w1", "alive", wrk, 3000);
	cr_assert(vt_env_wait_beats(&e, "w1", 6, 3000), "w1 never heartbeat 6 times");

	json_int_t before = worker_int("w1", "heartbeats");
	kill(e.sv, SIGSTOP);
	usleep(600 * 1000);
	kill(e.sv, SIGCONT);
	json_t *doc;
	json_t *w = status_one("w1", &doc);
	cr_assert_not_null(w, "vigilctl status w1 --json failed");
	json_t *h = json_object_get(w, "history");
	json_int_t after = json_integer_value(json_object_get(w, "heartbeats"));
	double mx = json_real_value(json_object_get(h, "interval_max_ms"));
	double mn = json_real_value(json_object_get(h, "interval_min_ms"));
	/* Five or six were sent during the pause; the queue (max_dgram_qlen, 10) held them. */
	cr_expect_geq(after - before, 4, "only %lld heartbeats read after the pause",
		      (long long)(after - before));
	cr_expect_eq(json_integer_value(json_object_get(h, "intervals")), 4);
	cr_expect_lt(mx, 450, "an interval of %.1f ms: stamped when read, not when they came", mx);
	cr_expect_gt(mn, 20, "an interval of %.1f ms between heartbeats 100 ms apart", mn);
	json_decref(doc);
	cr_expect_eq(worker_int("w1", "timeouts"), 0);
	vt_env_end(&e);
}

/*
 * A hand-made sender, "lone", on a bound socket of its own: it heartbeats
 * (SEQ=1) to a supervisor with a 1 s timeout, waits until it is alive, then
 * stops the supervisor (SIGSTOP) and heartbeats again (SEQ=2), when *sent.
 * The supervisor stays stopped: the caller continues it. Returns the socket.
 */
static int
lone_heartbeat_during_a_stop(uint64_t *sent)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX}, me = {.sun_family = AF_UNIX};
	static const char hb1[] = "HEARTBEAT=1\nWORKER=lone\nSEQ=1\n";
	static const char hb2[] = "HEARTBEAT=1\nWORKER=lone\nSEQ=2\n";
	char path[320];

	start_supervisor("1s");
	vt_env_path(&e, "lone.sock", path, sizeof(path));
	memcpy(sun.sun_path, e.sock, strlen(e.sock) + 1);
	memcpy(me.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	cr_assert_eq(sendto(fd, hb1, sizeof(hb1) - 1, 0, (struct sockaddr *)&sun, sizeof(sun)),
		     (ssize_t)sizeof(hb1) - 1);
	expect_state("lone", "alive", 0, 3000);

	kill(e.sv, SIGSTOP);
	*sent = vt_now_ms();
	cr_assert_eq(sendto(fd, hb2, sizeof(hb2) - 1, 0, (struct sockaddr *)&sun, sizeof(sun)),
		     (ssize_t)sizeof(hb2) - 1);
	return fd;
}

/*
 * The silence is counted from the arrival, and a pause of the supervisor
 * still convicts nobody early nor late. A heartbeat sent while the
 * supervisor is stopped, then nothing: once the supervisor runs again its
 * silence is the 600 ms it truly waited, and it times out one timeout after
 * the supervisor read it (as before), not one grace period later, with a
 * TIMEOUT whose SILENT_MS is the whole silence.
 */
Test(daemons, silence_counts_from_a_queued_heartbeats_arrival)
{
	char buf[512];
	uint64_t sent;
	int fd = lone_heartbeat_during_a_stop(&sent);
	usleep(600 * 1000);
	uint64_t resumed = vt_now_ms();
	kill(e.sv, SIGCONT);

	uint64_t asked = vt_now_ms();
	json_t *doc;
	json_t *w = status_one("lone", &doc);
	uint64_t answered = vt_now_ms();
	cr_assert_not_null(w, "vigilctl status lone --json failed");
	cr_expect_eq(json_integer_value(json_object_get(w, "last_seq")), 2);
	double silent = json_number_value(json_object_get(w, "silent_s")) * 1000;
	cr_expect(silent >= (double)(asked - sent) - 5 && silent <= (double)(answered - sent) + 5,
		  "silent for %.1f ms, but the heartbeat was sent %llu-%llu ms before", silent,
		  (unsigned long long)(asked - sent), (unsigned long long)(answered - sent));
	json_decref(doc);

	/* Its TIMEOUT: a timeout after the read (SIGCONT), with the whole silence in it. */
	struct timeval tv = {.tv_sec = 4};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	uint64_t got = vt_now_ms();
	cr_assert_gt(n, 0, "no TIMEOUT within 4 s: %s", strerror(errno));
	buf[n] = '\0';
	const char *s = strstr(buf, "SILENT_MS=");
	cr_assert_not_null(s, "TIMEOUT without SILENT_MS: %s", buf);
	unsigned long long silent_ms = strtoull(s + strlen("SILENT_MS="), NULL, 10);
	cr_expect_geq(got - sent, 1000, "TIMEOUT %llu ms after the heartbeat: early",
		      (unsigned long long)(got - sent));
	cr_expect_lt(got - resumed, 1000 + 400, "TIMEOUT %llu ms after SIGCONT: a grace period late",
		     (unsigned long long)(got - resumed));
	cr_expect(silent_ms >= 1000 + 550 && silent_ms <= got - sent + 5,
		  "SILENT_MS=%llu, but the heartbeat was sent %llu ms before the TIMEOUT came",
		  silent_ms, (unsigned long long)(got - sent));
	cr_expect_eq(sup_counter("pause_graces"), 0, "a grace for a heartbeat read late");
	close(fd);
	vt_env_end(&e);
}

/*
 * A heartbeat that waited a little in the socket (60 ms: less than a
 * timeout, less than a pause) keeps its deadline: arrival + timeout, not
 * the read + timeout that a timer armed when it was read would give.
 */
Test(daemons, a_heartbeat_read_late_keeps_its_deadline)
{
	char buf[512];
	uint64_t sent;
	int fd = lone_heartbeat_during_a_stop(&sent);
	usleep(60 * 1000);
	kill(e.sv, SIGCONT);

	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	uint64_t got = vt_now_ms();
	cr_assert_gt(n, 0, "no TIMEOUT within 3 s: %s", strerror(errno));
	buf[n] = '\0';
	cr_expect_not_null(strstr(buf, "LAST_SEQ=2"), "TIMEOUT about another heartbeat: %s", buf);
	cr_expect_geq(got - sent, 1000, "TIMEOUT %llu ms after the heartbeat: early",
		      (unsigned long long)(got - sent));
	cr_expect_lt(got - sent, 1000 + 40,
		     "TIMEOUT %llu ms after the heartbeat: its deadline counted from the read",
		     (unsigned long long)(got - sent));
	cr_expect_eq(sup_counter("pause_graces"), 0);
	close(fd);
	vt_env_end(&e);
}
