/*
 * test_daemons_restore.c: nothing forgotten across a restart or a crash of the
 * supervisor, outside systemd: the real daemons with the registry kept in
 * a state file (--state-file, by default beside the heartbeat socket),
 * the supervisor ended with SIGTERM or SIGKILL and started again. Snapshots
 * that must be refused, and pids that must not be signalled, are crafted
 * with the format's own encoder (snapshot.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "identity.h"
#include "proc.h"
#include "snapshot.h"

#define TIMEOUT "600ms"

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

TestSuite(daemons_restore, .init = setup, .fini = teardown, .timeout = 60);

static json_int_t
wint(const char *name, const char *key)
{
	return vt_env_worker_int(&e, name, key);
}

/* Wait up to timeout_ms for worker name's key to reach at least value. */
static int
wait_at_least(const char *name, const char *key, json_int_t value, int timeout_ms)
{
	uint64_t end = vt_now_ms() + (uint64_t)timeout_ms;

	do {
		if (wint(name, key) >= value)
			return 1;
		usleep(20 * 1000);
	} while (vt_now_ms() < end);
	return 0;
}

static const char *
wstate(json_t *st, const char *name)
{
	json_t *w = vt_worker(st, name);
	return w != NULL ? json_string_value(json_object_get(w, "state")) : NULL;
}

/*
 * The scene of the issue: "up" alive with a restart behind it, "down"
 * killed (dead, timed out), "off" stopped cleanly. Its counts, before the
 * supervisor goes, into *restarts and *timeouts.
 */
static pid_t
scene(json_int_t *up_restarts, json_int_t *down_timeouts)
{
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, NULL);
	pid_t up = vt_env_start_worker(&e, "up", NULL);
	pid_t down = vt_env_start_worker(&e, "down", NULL);
	pid_t off = vt_env_start_worker(&e, "off", NULL);
	vt_env_expect_state(&e, "up", "alive", up, 3000);
	vt_env_expect_state(&e, "down", "alive", down, 3000);
	vt_env_expect_state(&e, "off", "alive", off, 3000);
	/* A new process behind "up": a restart, no timeout. */
	vt_stop(up, SIGKILL, 2000);
	up = vt_env_start_worker(&e, "up", NULL);
	vt_env_expect_state(&e, "up", "alive", up, 3000);
	cr_assert_eq(wint("up", "restarts"), 1);
	vt_stop(down, SIGKILL, 2000);
	vt_env_expect_state(&e, "down", "dead", 0, 3000);
	vt_stop(off, SIGTERM, 2000);
	vt_env_expect_state(&e, "off", "stopped", 0, 3000);
	*up_restarts = wint("up", "restarts");
	*down_timeouts = wint("down", "timeouts");
	return up;
}

/* After the new supervisor started: what the "Done when" asks. */
static void
expect_remembered(pid_t up, json_int_t up_restarts, json_int_t down_timeouts, json_int_t beats)
{
	/* At once, before any heartbeat could register anyone. */
	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st);
	cr_expect_str_eq(wstate(st, "down"), "dead");
	cr_expect_str_eq(wstate(st, "off"), "stopped");
	cr_expect_geq(json_integer_value(json_object_get(vt_worker(st, "down"), "timeouts")),
		      down_timeouts);
	json_decref(st);
	vt_expect_log(e.log, "worker down restored (dead", 2000);
	vt_expect_log(e.log, "worker up restored (", 2000);
	vt_expect_log(e.log, "worker off restored (stopped", 2000);
	/* The alive one goes on: its counters continued, its pid the same. */
	vt_env_expect_state(&e, "up", "alive", up, 3000);
	cr_expect_eq(wint("up", "restarts"), up_restarts);
	cr_expect(vt_env_wait_beats(&e, "up", beats + 5, 3000), "up's heartbeats did not go on from %lld",
		  (long long)beats);
	/* The dead one goes on being reported, every timeout. */
	json_int_t t = wint("down", "timeouts");
	cr_expect(wait_at_least("down", "timeouts", t + 2, 3000),
		  "down not reported again after the restart (timeouts %lld)", (long long)t);
	/* Two timeouts later, the healthy one has not been convicted, nor the stopped one. */
	usleep(1300 * 1000);
	cr_expect_eq(wint("up", "timeouts"), 0, "a false timeout of a healthy worker");
	st = vt_env_status(&e);
	cr_expect_str_eq(wstate(st, "off"), "stopped");
	cr_expect_str_eq(wstate(st, "up"), "alive");
	json_decref(st);
}

Test(daemons_restore, across_sigterm)
{
	json_int_t restarts, timeouts;
	pid_t up = scene(&restarts, &timeouts);
	json_int_t beats = wint("up", "heartbeats");
	json_int_t datagrams = vt_env_counter(&e, "datagrams");
	json_int_t off_beats = wint("off", "heartbeats");

	int status = vt_stop(e.sv, SIGTERM, 3000);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, NULL);
	/* A clean stop writes everything: the counts are exact. */
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_integer_value(json_object_get(vt_worker(st, "off"), "heartbeats")),
		     off_beats);
	cr_expect_geq(json_integer_value(json_object_get(json_object_get(st, "supervisor"), "datagrams")),
		      datagrams,
		      "the supervisor's own counters start again from 0");
	json_decref(st);
	expect_remembered(up, restarts, timeouts, beats);
	vt_env_end(&e);
}

Test(daemons_restore, across_sigkill)
{
	json_int_t restarts, timeouts;
	pid_t up = scene(&restarts, &timeouts);
	json_int_t beats = wint("up", "heartbeats");

	/* State changes are written within a second: let the last ones be. */
	usleep(1200 * 1000);
	vt_stop(e.sv, SIGKILL, 3000);
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, NULL);
	expect_remembered(up, restarts, timeouts, beats > 10 ? beats - 10 : 0);
	vt_env_end(&e);
}

Test(daemons_restore, state_file_option_and_none)
{
	char path[300];
	vt_env_path(&e, "elsewhere.state", path, sizeof(path));

	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, "--state-file", path, NULL);
	pid_t w = vt_env_start_worker(&e, "w", NULL);
	vt_env_expect_state(&e, "w", "alive", w, 3000);
	vt_stop(w, SIGKILL, 2000);
	vt_env_expect_state(&e, "w", "dead", 0, 3000);
	vt_stop(e.sv, SIGTERM, 3000);
	cr_expect_eq(access(path, F_OK), 0, "no snapshot in %s", path);
	/* none: nothing read, nothing written (not even a file called none where we started). */
	(void)unlink("none");
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, "--state-file", "none", NULL);
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_array_size(json_object_get(st, "workers")), 0);
	json_decref(st);
	vt_stop(e.sv, SIGTERM, 3000);
	cr_expect_eq(access("none", F_OK), -1, "--state-file none wrote a file called none");
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, "--state-file", path, NULL);
	st = vt_env_status(&e);
	cr_expect_str_eq(wstate(st, "w"), "dead");
	json_decref(st);
	vt_env_end(&e);
}

/* Write len bytes to path. */
static void
put_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* The default state file of e: beside its heartbeat socket. */
static void
state_path(char *out, size_t cap)
{
	vt_env_path(&e, "supervisor.state", out, cap);
}

static void
expect_refused(const char *why)
{
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, NULL);
	vt_expect_log(e.log, "refused", 2000);
	vt_expect_log(e.log, why, 100);
	json_t *st = vt_env_status(&e);
	cr_expect_eq(json_array_size(json_object_get(st, "workers")), 0);
	json_decref(st);
	vt_stop(e.sv, SIGTERM, 3000);
}

Test(daemons_restore, bad_snapshots_are_refused_and_the_supervisor_starts_empty)
{
	char path[300], buf[8192];
	vt_env_start_supervisor(&e, "--timeout", TIMEOUT, NULL);
	pid_t w = vt_env_start_worker(&e, "w", NULL);
	vt_env_expect_state(&e, "w", "alive", w, 3000);
	vt_stop(w, SIGKILL, 2000);
	vt_stop(e.sv, SIGTERM, 3000);
	state_path(path, sizeof(path));
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_gt(len, 32);

	put_file(path, buf, len / 2);
	expect_refused("truncated");
	buf[len - 3] ^= 0x40;
	put_file(path, buf, len);
	expect_refused("checksum mismatch");
	put_file(path, "hello\n", 6);
	expect_refused("not a vigil registry snapshot");
	/* Another supervisor's, on another socket. */
	buf[len - 3] ^= 0x40;
	put_file(path, buf, len);
	char other[300], ctl[300];
	vt_env_path(&e, "other.sock", other, sizeof(other));
	vt_env_path(&e, "other-control.sock", ctl, sizeof(ctl));
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--socket", other, "--control", ctl, "--timeout",
			TIMEOUT, "--state-file", path, NULL};
	char log[300];
	vt_env_path(&e, "other.log", log, sizeof(log));
	pid_t o = vt_start_supervisor(log, ctl, argv);
	vt_expect_log(log, "it was written for the heartbeat socket", 2000);
	int status = vt_stop(o, SIGTERM, 3000);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	vt_env_end(&e);
}

/*
 * A snapshot with one alive worker "x" whose recorded pid is that of a
 * process of ours (a sleep), with the start time recorded as given.
 */
static void
craft(pid_t pid, uint64_t start_time)
{
	char path[300], boot[SNAPSHOT_BOOT_ID_MAX + 1] = ""; /* 36 characters and a newline */
	struct registry r;
	struct snapshot_buf b;
	struct snapshot_head h = {.socket = e.sock, .socket_len = strlen(e.sock), .generation = 1};
	struct timespec ts;

	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(boot, sizeof(boot), f));
	fclose(f);
	boot[strcspn(boot, "\n")] = '\0';
	snprintf(h.boot_id, sizeof(h.boot_id), "%s", boot);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	cr_assert_eq(registry_init(&r, 4), 0);
	struct worker *w = registry_add(&r, "x", 1);
	w->core.state = WORKER_ALIVE;
	w->core.pid = (uint64_t)pid;
	w->pid_vouched = 1;
	w->start_time = start_time;
	w->owner = getuid();
	w->core.last_hb = now;
	w->core.timeout = 300000;
	struct snapshot_worker sw;
	cr_assert(snapshot_worker_of(w, &sw));
	snapshot_begin(&b, &h);
	snapshot_add_worker(&b, &sw);
	cr_assert_eq(snapshot_finish(&b), 0);
	state_path(path, sizeof(path));
	put_file(path, b.data, b.len);
	snapshot_buf_free(&b);
	registry_free(&r);
}

static pid_t
sleeper(void)
{
	char log[300];
	char *argv[] = {"/bin/sleep", "30", NULL};
	vt_env_path(&e, "sleep.log", log, sizeof(log));
	pid_t p = vt_env_spawn(&e, log, argv);
	for (int i = 0; i < 100 && identity_start_time((uint64_t)p) == 0; i++)
		usleep(10000);
	return p;
}

Test(daemons_restore, a_pid_not_proven_the_same_process_is_never_signalled)
{
	pid_t p = sleeper();
	craft(p, identity_start_time((uint64_t)p) + 1); /* as if the pid had been reused */
	vt_env_start_supervisor(&e, "--timeout", "300ms", "--on-timeout", "signal:KILL@1", NULL);
	vt_expect_log(e.log, "not proven", 2000);
	vt_expect_log(e.log, "did not send SIGKILL", 3000);
	cr_expect_eq(kill(p, 0), 0, "a process that merely has the pid was killed");
	vt_env_end(&e);
}

Test(daemons_restore, a_pid_proven_the_same_process_is_signalled)
{
	pid_t p = sleeper();
	craft(p, identity_start_time((uint64_t)p));
	vt_env_start_supervisor(&e, "--timeout", "300ms", "--on-timeout", "signal:KILL@1", NULL);
	vt_expect_log(e.log, "sent SIGKILL", 3000);
	int status = vt_wait_exit(p, 2000);
	cr_expect(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "the proven process was not killed (status %d)", status);
	vt_env_end(&e);
}
