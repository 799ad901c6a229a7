/*
 * test_config.c: the configuration file with the real vigil-supervisor,
 * vigil-worker and vigilctl, in a private temporary directory:
 * --check-config, expected workers (missing, then alive), SIGHUP reloads
 * that change a worker's timeout, or fail and change nothing, and reloads
 * of a path that names what must not be read (a FIFO, a device, a
 * directory, a huge file): refused at once, the loop never held.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proc.h"

#define INTERVAL_MS 100

static struct vt_env e;
static char conf[300];

static void
setup(void)
{
	vt_env_init(&e);
	vt_env_path(&e, "vigil.conf", conf, sizeof(conf));
}

static void
teardown(void)
{
	vt_env_fini(&e);
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 40);

/* Replace the configuration file (a new file renamed over it, as an editor would). */
static void
write_conf(const char *text)
{
	char tmp[320];
	snprintf(tmp, sizeof(tmp), "%s.new", conf);
	FILE *fp = fopen(tmp, "w");
	cr_assert_not_null(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(rename(tmp, conf), 0);
}

static pid_t
start_supervisor(void)
{
	return vt_env_start_supervisor(&e, "--config", conf, NULL);
}

/* A field of worker name's status, or -1. */
static long long
field(const char *name, const char *key)
{
	return vt_env_worker_int(&e, name, key);
}

static void
expect_state(const char *name, const char *state, int timeout_ms)
{
	vt_env_expect_state(&e, name, state, 0, timeout_ms);
}

static void
expect_num(const char *name, const char *key, long long value, int timeout_ms)
{
	if (!vt_env_wait_int(&e, name, key, value, timeout_ms)) {
		vt_dump(e.log);
		cr_assert_fail("worker %s: %s never became %lld within %d ms", name, key, value,
			       timeout_ms);
	}
}

/* How many times the supervisor's log holds needle. */
static int
log_count(const char *needle)
{
	FILE *fp = fopen(e.log, "r");
	char line[2048];
	int n = 0;

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

static int
check(const char *extra, char *out, size_t cap)
{
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--check-config", "--config", conf,
			(char *)extra, NULL};
	return vt_run(argv, out, cap, 1);
}

Test(config, check_config_exit_codes_and_messages)
{
	char out[4096], want[2048];

	write_conf("[supervisor]\ntimeout = 3s\n[worker web-1]\ntimeout = 500ms\n[worker db]\n"
		   "expected = no\n");
	cr_expect_eq(check(NULL, out, sizeof(out)), 0, "%s", out);
	snprintf(want, sizeof(want), "configuration OK: %s, 2 worker sections, 1 expected\n",
		 conf);
	cr_expect_str_eq(out, want);

	write_conf("[supervisor]\ntimeout = 3s\n\n[worker web-1]\ntimout = 500ms\n"
		   "[worker web-1]\n[supervisor]\nmax-workers = none\n");
	cr_expect_eq(check(NULL, out, sizeof(out)), 1, "%s", out);
	snprintf(want, sizeof(want),
		 "%s:5: unknown key 'timout' in [worker web-1]\n"
		 "%s:6: duplicate section [worker web-1] (first at line 4)\n"
		 "%s:7: duplicate section [supervisor] (first at line 1)\n",
		 conf, conf, conf);
	cr_expect_str_eq(out, want);

	/* Usage errors are still usage errors. */
	cr_expect_eq(check("--timeout=abc", out, sizeof(out)), 2, "%s", out);
	cr_expect(strstr(out, "invalid --timeout 'abc': not a number") != NULL, "%s", out);

	/* A file asked for must exist; the supervisor does not start without it. */
	unlink(conf);
	cr_expect_eq(check(NULL, out, sizeof(out)), 1, "%s", out);
	snprintf(want, sizeof(want), "cannot read %s: No such file or directory", conf);
	cr_expect(strstr(out, want) != NULL, "%s", out);
	char *argv[] = {VIGIL_SUPERVISOR_BIN, "--socket", e.sock, "--control", e.ctl,
			"--config", conf, NULL};
	cr_expect_eq(vt_run(argv, out, sizeof(out), 1), 1, "%s", out);
	cr_expect(strstr(out, want) != NULL, "%s", out);
	cr_expect(access(e.ctl, F_OK) == -1, "no socket made");
}

Test(config, an_expected_worker_is_missing_until_it_comes)
{
	write_conf("[supervisor]\nstartup-grace = 400ms\n[worker ghost]\n[worker w1]\n"
		   "timeout = 700ms\n[worker optional]\nexpected = no\n");
	uint64_t t0 = vt_now_ms();
	start_supervisor();

	/* In its grace: there, expected, not yet missing; a section without expected is not. */
	json_t *st = vt_env_status(&e);
	cr_assert_not_null(st);
	json_t *g = vt_worker(st, "ghost");
	cr_assert_not_null(g, "an expected worker is listed from the start");
	if (vt_now_ms() - t0 < 300)
		cr_expect_str_eq(json_string_value(json_object_get(g, "state")), "expected");
	cr_expect_null(vt_worker(st, "optional"));
	cr_expect_eq(json_integer_value(json_object_get(vt_worker(st, "w1"), "timeout_ms")), 700);
	json_decref(st);

	expect_state("ghost", "missing", 3000);
	uint64_t waited = vt_now_ms() - t0;
	cr_expect_geq(waited, 380, "missing after %llu ms, before its grace",
		      (unsigned long long)waited);
	vt_expect_log(e.log, "worker ghost is missing: expected, and no heartbeat within 400ms",
		      2000);

	vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive", 3000);
	cr_expect_eq(field("w1", "timeout_ms"), 700, "its section's timeout");
	usleep(500 * 1000);
	cr_expect_eq(log_count("is missing"), 2, "one line each for ghost and w1 (before it came)");
	cr_expect_str_eq(json_string_value(json_object_get(
			     vt_worker(st = vt_env_status(&e), "ghost"), "state")),
			 "missing");
	json_decref(st);
	cr_expect_eq(field("ghost", "timeouts"), 0, "a missing worker has no timeouts");
	cr_expect_eq(field("w1", "timeouts"), 0);
	vt_env_end(&e);
}

Test(config, a_reload_shortens_a_timeout_without_a_false_timeout)
{
	write_conf("[worker w1]\ntimeout = 2s\n");
	start_supervisor();
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive", 3000);
	cr_expect_eq(field("w1", "timeout_ms"), 2000);

	write_conf("[worker w1]\ntimeout = 400ms\n[worker ghost]\n");
	kill(e.sv, SIGHUP);
	expect_num("w1", "timeout_ms", 400, 2000);
	vt_expect_log(e.log, "reloaded", 2000);
	expect_state("ghost", "expected", 2000);
	/* Heartbeats every 100ms against 400ms: never late, so never a timeout. */
	usleep(1500 * 1000);
	cr_expect_eq(field("w1", "timeouts"), 0, "a false timeout after the reload");
	cr_expect_eq(field("w1", "heartbeats") > 15, 1);

	/* And it is the timeout in force: a stopped worker is dead 400ms after its last beat. */
	uint64_t t0 = vt_now_ms();
	kill(w, SIGSTOP);
	expect_state("w1", "dead", 3000);
	uint64_t took = vt_now_ms() - t0;
	cr_expect_lt(took, 1200, "dead after %llu ms: the 2s timeout still in force?",
		     (unsigned long long)took);
	kill(w, SIGCONT);
	expect_state("w1", "alive", 3000);

	/* Its section gone: the global default (3 x its interval), its counters kept. */
	long long beats = field("w1", "heartbeats");
	write_conf("[supervisor]\nlog-level = info\n");
	kill(e.sv, SIGHUP);
	expect_num("w1", "timeout_ms", 3 * INTERVAL_MS, 2000);
	cr_expect_geq(field("w1", "heartbeats"), beats, "counters kept");
	cr_expect_eq(field("w1", "timeouts"), 1, "counters kept");
	json_t *st = vt_env_status(&e);
	cr_expect_null(vt_worker(st, "ghost"), "a never-seen worker no longer expected goes");
	json_decref(st);
	vt_env_end(&e);
}

Test(config, a_reload_lengthens_the_timeout_of_a_stalled_worker)
{
	write_conf("[worker w1]\ntimeout = 400ms\n");
	start_supervisor();
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive", 3000);
	cr_expect_eq(field("w1", "timeout_ms"), 400);

	write_conf("[worker w1]\ntimeout = 3s\n");
	uint64_t t0 = vt_now_ms();
	kill(w, SIGSTOP); /* stalled: alive, but no more heartbeats */
	kill(e.sv, SIGHUP);
	expect_num("w1", "timeout_ms", 3000, 1000);
	cr_assert_lt(vt_now_ms() - t0, 350, "the reload came too late for this test");
	/* Past 400ms, not yet 3s: still alive, no timeout. */
	usleep(1500 * 1000);
	cr_expect_eq(field("w1", "timeouts"), 0, "the old 400ms timeout fired");
	expect_state("w1", "dead", 3000);
	uint64_t took = vt_now_ms() - t0;
	cr_expect(took >= 2800 && took < 3800, "dead after %llu ms, want about 3s",
		  (unsigned long long)took);
	vt_env_end(&e);
}

Test(config, a_broken_reload_changes_nothing)
{
	write_conf("[supervisor]\nstartup-grace = 10s\n[worker w1]\ntimeout = 2s\n[worker ghost]\n");
	start_supervisor();
	vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive", 3000);

	write_conf("[worker w1]\ntimeout = 400ms\n[worker other]\ntimout = 1s\n");
	kill(e.sv, SIGHUP);
	char want[512];
	snprintf(want, sizeof(want), "reload: %s:4: unknown key 'timout' in [worker other]", conf);
	vt_expect_log(e.log, want, 2000);
	vt_expect_log(e.log, "reload failed: 1 error in", 2000);
	usleep(200 * 1000);
	cr_expect_eq(field("w1", "timeout_ms"), 2000, "a broken file changed the timeout");
	json_t *st = vt_env_status(&e);
	cr_expect_not_null(vt_worker(st, "ghost"), "a broken file dropped an expected worker");
	cr_expect_null(vt_worker(st, "other"));
	json_decref(st);

	/* A setting that needs a restart keeps its old value; the rest applies. */
	write_conf("[supervisor]\nmax-workers = 5\n[worker w1]\ntimeout = 1s\n");
	kill(e.sv, SIGHUP);
	vt_expect_log(e.log, "'max-workers' changed, which needs a restart", 2000);
	expect_num("w1", "timeout_ms", 1000, 2000);
	vt_env_end(&e);
}

/* What --config's path may be replaced by, and what the supervisor must say of it. */
struct bad_path {
	const char *what;
	const char *error; /* after "PATH: " */
};

static const struct bad_path bad_paths[] = {
    {"fifo", "not a regular file (a FIFO)"},            /* open() would wait for a writer */
    {"zero", "not a regular file (a character device)"}, /* read() would never end */
    {"dir", "not a regular file (a directory)"},
    {"sparse", "too large (104857600 bytes; at most 1 MiB)"}, /* 100 MB: 0.7 s to read */
};

/* Put a bad_path at conf, in place of whatever is there. */
static void
replace_conf(const char *what)
{
	if (unlink(conf) == -1 && errno == EISDIR)
		cr_assert_eq(rmdir(conf), 0, "rmdir %s: %s", conf, strerror(errno));
	if (strcmp(what, "fifo") == 0) {
		cr_assert_eq(mkfifo(conf, 0600), 0, "mkfifo: %s", strerror(errno));
	} else if (strcmp(what, "zero") == 0) {
		cr_assert_eq(symlink("/dev/zero", conf), 0, "symlink: %s", strerror(errno));
	} else if (strcmp(what, "dir") == 0) {
		cr_assert_eq(mkdir(conf, 0700), 0, "mkdir: %s", strerror(errno));
	} else {
		int fd = open(conf, O_WRONLY | O_CREAT | O_EXCL, 0600);
		cr_assert_geq(fd, 0, "%s: %s", conf, strerror(errno));
		cr_assert_eq(ftruncate(fd, 100 << 20), 0); /* truncate -s 100M: sparse */
		close(fd);
	}
}

/* At start and with --check-config, the same paths are errors (exit 1), said at once. */
Test(config, a_start_on_what_is_not_a_small_regular_file_fails_at_once)
{
	char *start[] = {VIGIL_SUPERVISOR_BIN, "--socket", e.sock, "--control", e.ctl,
			 "--config", conf, NULL};
	char out[1024], want[512];

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		const struct bad_path *b = &bad_paths[i];
		replace_conf(b->what);
		snprintf(want, sizeof(want), "%s: %s\n", conf, b->error);
		uint64_t t0 = vt_now_ms();
		cr_expect_eq(check(NULL, out, sizeof(out)), 1, "%s: %s", b->what, out);
		cr_expect_str_eq(out, want, "--check-config on %s", b->what);
		cr_expect_eq(vt_run(start, out, sizeof(out), 1), 1, "%s: %s", b->what, out);
		cr_expect_str_eq(out, want, "the start on %s", b->what);
		cr_expect_lt(vt_now_ms() - t0, 1000, "%s: not at once", b->what);
		cr_expect(access(e.ctl, F_OK) == -1, "%s: a socket made", b->what);
	}
}

Test(config, a_reload_of_what_is_not_a_small_regular_file_answers_at_once)
{
	char *reload[] = {VIGIL_CTL_BIN, "--control", e.ctl, "reload", NULL};
	char out[1024], want[512];

	write_conf("[worker w1]\ntimeout = 2s\n");
	start_supervisor();
	vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive", 3000);
	/*
	 * What a good reload takes on this machine now (vigilctl's start, the
	 * round trip): the bad ones must answer about as soon, not after a read
	 * of 100 MB (0.7 s) or never (a FIFO).
	 */
	uint64_t t0 = vt_now_ms();
	cr_assert_eq(vt_run(reload, out, sizeof(out), 1), 0, "a good reload: %s", out);
	uint64_t base = vt_now_ms() - t0;

	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		const struct bad_path *b = &bad_paths[i];
		replace_conf(b->what);
		t0 = vt_now_ms();
		int rc = vt_run(reload, out, sizeof(out), 1);
		uint64_t took = vt_now_ms() - t0;
		cr_log_info("vigilctl reload with --config %s: answered in %llu ms", b->what,
			    (unsigned long long)took);
		snprintf(want, sizeof(want), "%s: %s", conf, b->error);
		cr_expect_eq(rc, 1, "%s: vigilctl reload exited %d: %s", b->what, rc, out);
		cr_expect(strstr(out, want) != NULL, "%s: want \"%s\" in the answer, got: %s",
			  b->what, want, out);
		cr_expect(strstr(out, "nothing changed") != NULL, "%s: %s", b->what, out);
		cr_expect_lt(took, base + 300, "%s: the reload answered after %llu ms (a good one: %llu)",
			     b->what, (unsigned long long)took, (unsigned long long)base);

		/* The loop still runs, under the configuration in force. */
		json_t *st = vt_env_status(&e);
		cr_expect_not_null(st, "%s: vigilctl status does not answer after the reload",
				   b->what);
		json_decref(st);
		cr_expect_eq(field("w1", "timeout_ms"), 2000, "%s: the configuration changed",
			     b->what);
	}

	/* SIGHUP reads the path the same way: an error logged, the loop free. */
	replace_conf("zero");
	kill(e.sv, SIGHUP);
	snprintf(want, sizeof(want), "reload: %s: not a regular file (a character device)", conf);
	vt_expect_log(e.log, want, 2000);
	cr_expect_eq(field("w1", "timeout_ms"), 2000);

	/* And a regular file again is read again. */
	unlink(conf);
	write_conf("[worker w1]\ntimeout = 1s\n");
	kill(e.sv, SIGHUP);
	expect_num("w1", "timeout_ms", 1000, 2000);
	vt_env_end(&e);
}

/*
 * Senders' pidfds are asked of the kernel only while a policy signals (each
 * costs about 1.5 us a datagram): off without one, on after a reload that
 * brings a worker's signal step, and that worker is then signalled through
 * its pidfd; off again when the step goes.
 */
Test(config, pidfds_are_taken_only_while_a_policy_signals)
{
	write_conf("[worker w1]\ntimeout = 300ms\n");
	start_supervisor();
	vt_expect_log(e.log, "sender identity: pidfds from the kernel", 2000);
	cr_expect_eq(log_count("senders' pidfds with datagrams: on"), 0);
	pid_t w = vt_env_start_worker(&e, "w1", NULL);
	expect_state("w1", "alive", 3000);
	/*
	 * Without pidfds a process is told by its start time, which its first
	 * heartbeat (sent as it starts, within the same 10 ms tick) cannot vouch
	 * for: the next one does.
	 */
	cr_assert(vt_env_wait_beats(&e, "w1", 3, 3000), "w1 never heartbeat thrice");

	write_conf("[worker w1]\ntimeout = 300ms\non-timeout = signal:TERM@1\n");
	kill(e.sv, SIGHUP);
	vt_expect_log(e.log, "senders' pidfds with datagrams: on", 2000);
	kill(w, SIGUSR1); /* stall: alive, silent */
	int ws = vt_wait_exit(w, 3000);
	cr_expect(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "w1 did not exit on SIGTERM: %d", ws);
	vt_expect_log(e.log, "--on-timeout, through its pidfd)", 1000);

	write_conf("[worker w1]\ntimeout = 300ms\n");
	kill(e.sv, SIGHUP);
	vt_expect_log(e.log, "senders' pidfds with datagrams: off", 2000);
	vt_env_end(&e);
}
