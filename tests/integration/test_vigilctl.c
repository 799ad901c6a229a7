/*
 * test_vigilctl.c: vigilctl's commands against the real supervisor and
 * workers, in a private temporary directory: status NAME and its history,
 * events (as a user runs it, a separate process writing to a file), forget
 * and who may run it, and the usage errors. `watch` is driven in tmux by
 * tests/scripts/test_watch_tmux.sh.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "proc.h"

static struct vt_env e;
static char ev_log[300];

static void
setup(void)
{
	vt_env_init(&e);
	vt_env_path(&e, "events.out", ev_log, sizeof(ev_log));
}

static void
teardown(void)
{
	vt_env_fini(&e);
}

TestSuite(vigilctl, .init = setup, .fini = teardown, .timeout = 30);

static void
start_supervisor(void)
{
	vt_env_start_supervisor(&e, "--timeout", "500ms", NULL);
}

static void
wait_state(const char *name, const char *state, int ms)
{
	vt_env_expect_state(&e, name, state, 0, ms);
}

/* Run vigilctl with args; its output (stdout and stderr) in out; its exit status. */
static int
ctl(char *out, size_t cap, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {VIGIL_CTL_BIN, "--control", e.ctl, (char *)a1, (char *)a2, (char *)a3, NULL};
	return vt_run(argv, out, cap, 1);
}

/* The JSON lines of the events file, parsed. */
static size_t
read_events(json_t **out, size_t cap)
{
	FILE *fp = fopen(ev_log, "r");
	char line[1024];
	size_t n = 0;

	if (fp == NULL)
		return 0;
	while (n < cap && fgets(line, sizeof(line), fp) != NULL) {
		json_error_t jerr;
		json_t *o = json_loads(line, 0, &jerr);
		cr_assert_not_null(o, "events --json printed a line that is not JSON: %s", line);
		out[n++] = o;
	}
	fclose(fp);
	return n;
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

struct seen_event {
	const char *event;
	const char *state;
};

/* Whether the events file holds the sequence want (other events may come between). */
static int
events_in_order(void *arg)
{
	const struct seen_event *want = arg;
	json_t *evs[64];
	size_t n = read_events(evs, 64), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (want[k].event != NULL && strcmp(str(evs[i], "worker"), "w1") == 0 &&
		    strcmp(str(evs[i], "event"), want[k].event) == 0 &&
		    strcmp(str(evs[i], "state"), want[k].state) == 0)
			k++;
		json_decref(evs[i]);
	}
	return want[k].event == NULL;
}

/* The sequence: a worker killed is dead, and alive again when restarted. */
Test(vigilctl, events_json_streams_kill_dead_alive_in_order)
{
	start_supervisor();
	char *argv[] = {VIGIL_CTL_BIN, "--control", e.ctl, "events", "--json", NULL};
	pid_t events = vt_env_spawn(&e, ev_log, argv);
	/*
	 * The worker may register before the subscription is ready; by the time
	 * it has been killed and silent for its timeout (0.5 s), it is listening.
	 */
	pid_t first = vt_env_start_worker(&e, "w1", NULL);
	wait_state("w1", "alive", 3000);
	kill(first, SIGKILL);
	vt_wait_exit(first, 2000);
	wait_state("w1", "dead", 3000);
	pid_t second = vt_env_start_worker(&e, "w1", NULL);
	wait_state("w1", "alive", 3000);

	static const struct seen_event want[] = {
	    {"timeout", "dead"}, {"restarted", "alive"}, {NULL, NULL}};
	cr_expect(vt_wait_for(events_in_order, (void *)want, 3000),
		  "events --json did not show timeout (dead), then restarted (alive)");

	json_t *evs[64];
	size_t n = read_events(evs, 64);
	cr_assert_geq(n, 2);
	/* The timeout says what a person needs: the pid that went silent, MISSED, silence. */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(str(evs[i], "event"), "timeout") == 0 &&
		    json_integer_value(json_object_get(evs[i], "missed")) == 1) {
			cr_expect_eq(json_integer_value(json_object_get(evs[i], "pid")), first);
			cr_expect_geq(json_integer_value(json_object_get(evs[i], "silent_ms")), 500);
			cr_expect_eq(strlen(str(evs[i], "time")), strlen("2026-11-29T08:37:30.384Z"),
				     "time %s", str(evs[i], "time"));
		}
		if (strcmp(str(evs[i], "event"), "restarted") == 0)
			cr_expect_eq(json_integer_value(json_object_get(evs[i], "pid")), second);
		json_decref(evs[i]);
	}
	/* SIGINT ends it cleanly, exit 0. */
	int ws = vt_stop(events, SIGINT, 2000);
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "events exit status %d", ws);
	vt_env_end(&e);
}

/* status NAME: the row, the inter-arrival times and the timeouts, newest first. */
Test(vigilctl, status_name_shows_history)
{
	char out[8192];

	start_supervisor();
	pid_t w1 = vt_env_start_worker(&e, "w1", NULL);
	wait_state("w1", "alive", 3000);
	/* 4 intervals: the history fills */
	cr_assert(vt_env_wait_beats(&e, "w1", 5, 3000), "w1 never heartbeat 5 times");
	kill(w1, SIGUSR1); /* a stall: one timeout, then it heartbeats again */
	wait_state("w1", "dead", 3000);
	kill(w1, SIGUSR1);
	wait_state("w1", "alive", 3000);

	cr_assert_eq(ctl(out, sizeof(out), "status", "--json", "w1"), 0, "%s", out);
	json_error_t jerr;
	json_t *doc = json_loads(out, 0, &jerr);
	cr_assert_not_null(doc, "not JSON: %s", out);
	json_t *w = json_object_get(doc, "worker"), *h = json_object_get(w, "history");
	cr_expect_str_eq(str(w, "name"), "w1");
	cr_expect_str_eq(str(w, "state"), "alive");
	cr_expect_eq(json_integer_value(json_object_get(h, "intervals")), 4);
	double mn = json_real_value(json_object_get(h, "interval_min_ms"));
	double mean = json_real_value(json_object_get(h, "interval_mean_ms"));
	double mx = json_real_value(json_object_get(h, "interval_max_ms"));
	cr_expect(mn > 0 && mn <= mean && mean <= mx, "min %f mean %f max %f", mn, mean, mx);
	json_t *tos = json_object_get(h, "timeouts");
	cr_assert_geq(json_array_size(tos), 1);
	cr_expect_str_eq(str(json_array_get(tos, 0), "event"), "timeout");
	json_t *evs = json_object_get(h, "events");
	cr_expect_str_eq(str(json_array_get(evs, 0), "event"), "recovered", "newest first");
	json_decref(doc);

	/* The same for people. */
	cr_assert_eq(ctl(out, sizeof(out), "status", "w1", NULL), 0, "%s", out);
	cr_expect(strstr(out, "intervals    last 4: min ") != NULL, "%s", out);
	cr_expect(strstr(out, "recent timeouts (newest first):") != NULL, "%s", out);
	cr_expect(strstr(out, "timeout    w1") != NULL, "%s", out);
	cr_expect(strstr(out, "recovered  w1") != NULL, "%s", out);

	cr_expect_eq(ctl(out, sizeof(out), "status", "nobody", NULL), 1);
	cr_expect(strstr(out, "no worker called 'nobody'") != NULL, "%s", out);
	vt_env_end(&e);
}

/* forget: an unwatched worker (WATCHDOG_USEC=0) is alive, only not timed: refused. */
Test(vigilctl, forget_refuses_an_unwatched_worker)
{
	char out[4096];

	start_supervisor();
	vt_env_send(&e, "WORKER=u1\nWATCHDOG=1\nWATCHDOG_USEC=0\n");
	wait_state("u1", "unwatched", 3000);
	cr_expect_eq(ctl(out, sizeof(out), "forget", "u1", NULL), 1);
	cr_expect(strstr(out, "worker u1 is unwatched (alive)") != NULL, "%s", out);
	json_t *st = vt_env_status(&e);
	cr_expect_not_null(vt_worker(st, "u1"), "u1 was forgotten");
	json_decref(st);
	vt_env_end(&e);
}

/* forget: not an alive worker; a dead one goes, history and all; only root or our uid. */
Test(vigilctl, forget_drops_a_dead_worker_only)
{
	char out[4096];

	start_supervisor();
	pid_t w1 = vt_env_start_worker(&e, "w1", NULL);
	vt_env_start_worker(&e, "w2", NULL);
	wait_state("w1", "alive", 3000);
	wait_state("w2", "alive", 3000);
	cr_expect_eq(ctl(out, sizeof(out), "forget", "w1", NULL), 1);
	cr_expect(strstr(out, "worker w1 is alive") != NULL, "%s", out);

	kill(w1, SIGKILL);
	vt_wait_exit(w1, 2000);
	wait_state("w1", "dead", 3000);

	/* Another user who can reach the socket may look, not change. */
	cr_assert_eq(chmod(e.dir, 0755), 0);
	cr_assert_eq(chmod(e.ctl, 0666), 0);
	char *nobody[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			  VIGIL_CTL_BIN, "--control", e.ctl, "forget", "w1", NULL};
	cr_expect_eq(vt_run(nobody, out, sizeof(out), 1), 1, "%s", out);
	cr_expect(strstr(out, "permission denied: forget changes state") != NULL, "%s", out);
	/* Who may: the supervisor runs as root here, and says so once ("root and uid 0" before). */
	cr_expect(strstr(out, "which only root may do") != NULL, "%s", out);
	char *look[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			VIGIL_CTL_BIN, "--control", e.ctl, "status", "w1", NULL};
	cr_expect_eq(vt_run(look, out, sizeof(out), 1), 0, "%s", out);

	cr_expect_eq(ctl(out, sizeof(out), "forget", "w1", NULL), 0, "%s", out);
	cr_expect_str_eq(out, "forgot w1\n");
	json_t *st = vt_env_status(&e);
	cr_expect_null(vt_worker(st, "w1"), "w1 is gone");
	cr_expect_not_null(vt_worker(st, "w2"), "w2 is untouched");
	json_decref(st);
	cr_expect(vt_file_contains(e.log, "worker w1 forgotten (was dead)"));

	/* The name can register again, from scratch. */
	vt_env_start_worker(&e, "w1", NULL);
	wait_state("w1", "alive", 3000);
	st = vt_env_status(&e);
	cr_expect_eq(json_integer_value(json_object_get(vt_worker(st, "w1"), "timeouts")), 0);
	json_decref(st);
	vt_env_end(&e);
}

/* Usage errors exit 2 with a message naming what was wrong; unreachable exits 1. */
Test(vigilctl, usage_errors)
{
	char out[4096];

	start_supervisor();
	cr_expect_eq(ctl(out, sizeof(out), "forget", NULL, NULL), 2, "%s", out);
	cr_expect(strstr(out, "forget needs one worker name") != NULL, "%s", out);
	cr_expect_eq(ctl(out, sizeof(out), "status", "a", "b"), 2, "%s", out);
	cr_expect(strstr(out, "one worker name at most") != NULL, "%s", out);
	cr_expect_eq(ctl(out, sizeof(out), "status", "--bogus", NULL), 2);
	cr_expect_eq(ctl(out, sizeof(out), "events", "--bogus", NULL), 2);
	cr_expect_eq(ctl(out, sizeof(out), "reload", "now", NULL), 2);
	cr_expect_eq(ctl(out, sizeof(out), "watch", "--interval", "1ms"), 2, "%s", out);
	/* vt_run's stdout is a pipe, not a terminal. */
	cr_expect_eq(ctl(out, sizeof(out), "watch", NULL, NULL), 2, "%s", out);
	cr_expect(strstr(out, "watch needs a terminal") != NULL, "%s", out);
	cr_expect_eq(ctl(out, sizeof(out), "frobnicate", NULL, NULL), 2);
	cr_expect_eq(ctl(out, sizeof(out), "--help", NULL, NULL), 0);
	for (const char *c = "status\0watch\0events\0forget\0reload\0"; *c; c += strlen(c) + 1)
		cr_expect(strstr(out, c) != NULL, "--help lists %s: %s", c, out);
	char *argv[] = {VIGIL_CTL_BIN, "--control", "/nonexistent/c.sock", "status", NULL};
	cr_expect_eq(vt_run(argv, out, sizeof(out), 1), 1);
	cr_expect(strstr(out, "/nonexistent/c.sock") != NULL, "%s", out);
	vt_env_end(&e);
}

/* Subscribers are never closed for idleness: they may hold only 8 of the 32 client slots. */
Test(vigilctl, event_subscribers_are_capped)
{
	int fds[9];
	char buf[256];

	start_supervisor();
	for (int i = 0; i < 9; i++) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		cr_assert_lt(strlen(e.ctl), sizeof(sun.sun_path));
		memcpy(sun.sun_path, e.ctl, strlen(e.ctl) + 1);
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		cr_assert_eq(connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)), 0);
		cr_assert_eq(write(fds[i], "events\n", 7), 7);
		struct timeval tv = {.tv_sec = 3};
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ssize_t n = read(fds[i], buf, sizeof(buf) - 1);
		cr_assert_gt(n, 0, "no answer to events #%d", i + 1);
		buf[n] = '\0';
		if (i < 8)
			cr_expect_str_eq(buf, "{\"subscribed\":true}\n", "subscriber #%d", i + 1);
		else
			cr_expect_str_eq(buf, "{\"error\":\"too many event subscribers (8)\"}\n");
	}
	/* A subscriber that goes frees its slot: asking again succeeds once its close is seen. */
	close(fds[0]);
	int subscribed = 0;
	for (uint64_t end = vt_now_ms() + 3000; !subscribed && vt_now_ms() < end;) {
		cr_assert_eq(write(fds[8], "events\n", 7), 7);
		ssize_t n = read(fds[8], buf, sizeof(buf) - 1);
		cr_assert_gt(n, 0);
		buf[n] = '\0';
		subscribed = strcmp(buf, "{\"subscribed\":true}\n") == 0;
		if (!subscribed)
			usleep(10000);
	}
	cr_expect(subscribed, "the slot of a subscriber that went was never freed: %s", buf);
	for (int i = 1; i < 9; i++)
		close(fds[i]);
	vt_env_end(&e);
}

/* A name is checked before it is sent: no second command can ride on it. */
Test(vigilctl, names_cannot_carry_a_command)
{
	char out[1024];

	start_supervisor();
	cr_expect_eq(ctl(out, sizeof(out), "status", "a\nforget\tb", NULL), 2, "%s", out);
	cr_expect(strstr(out, "invalid worker name") != NULL, "%s", out);
	cr_expect_eq(ctl(out, sizeof(out), "forget", "a b", NULL), 2, "%s", out);
	cr_expect_eq(ctl(out, sizeof(out), "forget", "", NULL), 2, "%s", out);
	vt_env_end(&e);
}
