/*
 * test_fdbudget.c: --detect-exit under a low descriptor limit, with the
 * real vigil-supervisor (under prlimit), 80 vigil-worker processes, vigilctl
 * and curl: pidfds stop at the budget, so the control socket, /metrics and a
 * reload keep working; the workers beyond it are counted, and those watched
 * are still reported exited at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"

#define NWORKERS 80     /* more than a limit of 64 descriptors could watch */
#define NFIRST 4        /* started, and watched, before the others */
#define INTERVAL "200ms"
#define NOFILE "--nofile=64:64"

static struct {
	char dir[256];
	char sock[300], ctl[300], conf[300], addr[64];
	char sup_log[300], wrk_log[300];
	pid_t sup;
	pid_t wrk[NWORKERS];
} t;

static void
setup(void)
{
	memset(&t, 0, sizeof(t));
	vt_tmpdir(t.dir, sizeof(t.dir));
	snprintf(t.sock, sizeof(t.sock), "%s/supervisor.sock", t.dir);
	snprintf(t.ctl, sizeof(t.ctl), "%s/control.sock", t.dir);
	snprintf(t.conf, sizeof(t.conf), "%s/vigil.conf", t.dir);
	snprintf(t.sup_log, sizeof(t.sup_log), "%s/supervisor.log", t.dir);
	snprintf(t.wrk_log, sizeof(t.wrk_log), "%s/workers.log", t.dir);
}

static void
teardown(void)
{
	for (int i = 0; i < NWORKERS; i++)
		vt_stop(t.wrk[i], SIGKILL, 2000);
	vt_stop(t.sup, SIGKILL, 2000);
	vt_rmdir(t.dir);
}

TestSuite(fdbudget, .init = setup, .fini = teardown, .timeout = 90);

/* prlimit (util-linux) and curl are needed; without them skip, except under CI. */
static void
need_tool(const char *path)
{
	if (access(path, X_OK) == 0)
		return;
	if (getenv("CI") != NULL)
		cr_assert_fail("%s is not installed (scripts/deps test)", path);
	cr_skip_test("%s is not installed (scripts/deps test)", path);
}

static pid_t
start_worker(int i)
{
	char name[16], wsock[320];

	snprintf(name, sizeof(name), "w%02d", i);
	snprintf(wsock, sizeof(wsock), "%s/workers/%s.sock", t.dir, name);
	char *argv[] = {VIGIL_WORKER_BIN, "--name", name, "--supervisor", t.sock,
			"--socket", wsock, "--interval", INTERVAL, NULL};
	return vt_spawn(t.wrk_log, argv);
}

/* Workers from..to-1 each registered with at least two heartbeats (so: watched, if any is). */
struct span {
	int from, to;
};

static int
all_beat_twice(void *arg)
{
	struct span *s = arg;
	json_t *st = vt_status(t.ctl);
	int ok = st != NULL;

	for (int i = s->from; ok && i < s->to; i++) {
		char name[16];
		snprintf(name, sizeof(name), "w%02d", i);
		json_t *w = vt_worker(st, name);
		ok = w != NULL && json_integer_value(json_object_get(w, "heartbeats")) >= 2 &&
		     json_integer_value(json_object_get(w, "pid")) == t.wrk[i];
	}
	json_decref(st);
	return ok;
}

static void
expect_beats(int from, int to, int timeout_ms)
{
	struct span s = {from, to};

	if (!vt_wait_for(all_beat_twice, &s, timeout_ms)) {
		vt_dump(t.sup_log);
		cr_assert_fail("workers w%02d to w%02d did not all heartbeat twice within %d ms", from,
			       to - 1, timeout_ms);
	}
}

static json_int_t
sup_counter(const char *key)
{
	json_t *st = vt_status(t.ctl);
	cr_assert_not_null(st, "vigilctl status --json does not answer");
	json_int_t v = json_integer_value(json_object_get(json_object_get(st, "supervisor"), key));
	json_decref(st);
	return v;
}

static int
worker_exited(void *arg)
{
	json_t *st = vt_status(t.ctl);
	json_t *w = st ? vt_worker(st, arg) : NULL;
	const char *state = w ? json_string_value(json_object_get(w, "state")) : NULL;
	int ok = state != NULL && strcmp(state, "exited") == 0;
	json_decref(st);
	return ok;
}

/* N in the supervisor's "descriptor budget reached (N watched, limit L)"; -1 if not said. */
static long
budget_line(long *limit)
{
	FILE *fp = fopen(t.sup_log, "r");
	char line[1024];
	long n = -1;

	if (fp == NULL)
		return -1;
	while (n == -1 && fgets(line, sizeof(line), fp) != NULL) {
		const char *p = strstr(line, "descriptor budget reached (");
		if (p != NULL && sscanf(p, "descriptor budget reached (%ld watched, limit %ld)", &n,
					limit) != 2)
			n = -1;
	}
	fclose(fp);
	return n;
}

Test(fdbudget, detect_exit_under_a_low_limit_keeps_the_control_plane)
{
	static char out[512 * 1024];
	char url[128], want[128];

	need_tool("/usr/bin/prlimit");
	need_tool("/usr/bin/curl");
	snprintf(t.addr, sizeof(t.addr), "127.0.0.1:%d", vt_free_port());
	FILE *fp = fopen(t.conf, "w");
	cr_assert_not_null(fp);
	fputs("[supervisor]\ntimeout = 5s\n", fp);
	cr_assert_eq(fclose(fp), 0);
	char *argv[] = {"/usr/bin/prlimit", NOFILE, "--", VIGIL_SUPERVISOR_BIN, "--socket",
			t.sock, "--control", t.ctl, "--config", t.conf, "--detect-exit",
			"--metrics", t.addr, NULL};
	t.sup = vt_start_supervisor(t.sup_log, t.ctl, argv);

	/* A few first, watched for sure; then the rest, beyond any budget of 64. */
	for (int i = 0; i < NFIRST; i++)
		t.wrk[i] = start_worker(i);
	expect_beats(0, NFIRST, 5000);
	for (int i = NFIRST; i < NWORKERS; i++)
		t.wrk[i] = start_worker(i);
	expect_beats(0, NWORKERS, 20000);

	/* The budget was reached, said once, and every worker beyond it counted once. */
	long limit = 0, watched = budget_line(&limit);
	cr_assert_gt(watched, NFIRST - 1, "no \"descriptor budget reached\" line, or too few "
					  "watched (%ld)", watched);
	cr_expect_eq(limit, 64);
	cr_expect_lt(watched, 64 / 2, "the reserve (half of 64) was not kept");
	/*
	 * Each worker beyond the budget is counted once, at a heartbeat that
	 * finds the budget spent: with pidfds from the kernel (SCM_PIDFD) a
	 * batch of datagrams holds one descriptor each for a moment, and under
	 * this tiny limit a worker's watch may fail for that first (tried again
	 * at its next heartbeat, not counted): wait for those next heartbeats.
	 */
	long unwatched = -1;
	for (uint64_t end = vt_now_ms() + 3000;
	     vt_now_ms() < end && (unwatched = (long)sup_counter("exits_unwatched")) != NWORKERS - watched;)
		usleep(50 * 1000);
	cr_expect_eq(unwatched, NWORKERS - watched, "%ld watched of %d, %ld counted unwatched",
		     watched, NWORKERS, unwatched);
	cr_expect_eq(sup_counter("workers"), NWORKERS);
	cr_log_info("under %s: %ld of %d workers watched for exit", NOFILE, watched, NWORKERS);

	/* The control socket, /metrics and a reload all answer. */
	snprintf(url, sizeof(url), "http://%s/metrics", t.addr);
	char *curl[] = {"/usr/bin/curl", "-sS", "--max-time", "5", url, NULL};
	cr_expect_eq(vt_run(curl, out, sizeof(out), 1), 0, "curl /metrics: %.300s", out);
	snprintf(want, sizeof(want), "\nvigil_exits_unwatched_total %ld\n", NWORKERS - watched);
	cr_expect(strstr(out, want) != NULL, "/metrics lacks \"%s\"", want + 1);
	char *reload[] = {VIGIL_CTL_BIN, "--control", t.ctl, "reload", NULL};
	cr_expect_eq(vt_run(reload, out, sizeof(out), 1), 0, "vigilctl reload: %s", out);
	cr_expect(strstr(out, "reloaded") != NULL, "vigilctl reload: %s", out);

	/* A watched worker killed is exited at once, not dead 5 s later. */
	uint64_t t0 = vt_now_ms();
	vt_stop(t.wrk[0], SIGKILL, 2000);
	t.wrk[0] = 0;
	if (!vt_wait_for(worker_exited, "w00", 2000)) {
		vt_dump(t.sup_log);
		cr_assert_fail("w00, watched, was not reported exited");
	}
	cr_log_info("w00 killed: exited after %llu ms", (unsigned long long)(vt_now_ms() - t0));
	json_t *st = vt_status(t.ctl);
	cr_expect_not_null(st, "status after the exit");
	json_decref(st);

	for (int i = 1; i < NWORKERS; i++) {
		vt_stop(t.wrk[i], SIGTERM, 3000);
		t.wrk[i] = 0;
	}
	vt_stop_clean(&t.sup, "supervisor");
	const char *logs[] = {t.sup_log, t.wrk_log};
	vt_expect_clean_logs(logs, 2);
}
