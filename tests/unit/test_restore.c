/*
 * test_restore.c: the live registry into a snapshot and back (restore.h),
 * between two supervisor contexts in one process: captured in slices,
 * taken over whole, each worker judged from the moment the new one is
 * ready. No socket and no running loop: timers are only looked at.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "claim.h"
#include "duration.h"
#include "identity.h"
#include "monitor.h"
#include "restore.h"
#include "snapshot.h"
#include "store.h"
#include "supervisor.h"

#define MS 1000ULL

static struct supervisor src, dst;
static struct settings set;

static void
sv_init(struct supervisor *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->base = event_base_new();
	cr_assert_not_null(sv->base);
	cr_assert_eq(event_base_priority_init(sv->base, SV_NPRIO), 0);
	ctimeout_init(&sv->ctimeouts, sv->base);
	cr_assert_eq(registry_init(&sv->registry, 256), 0);
	sv->set = &set;
	snprintf(sv->socket_name, sizeof(sv->socket_name), "test.sock");
	sv->rl_timeouts.burst = 100;
}

static void
sv_fini(struct supervisor *sv)
{
	registry_free(&sv->registry);
	events_free(&sv->events);
	event_base_free(sv->base);
}

static void
setup(void)
{
	settings_init(&set);
	set.max_workers = 256;
	set.timeout = 500 * MS;
	log_init("test_restore", LOG_LEVEL_ERR);
	sv_init(&src);
	sv_init(&dst);
}

static void
teardown(void)
{
	sv_fini(&src);
	sv_fini(&dst);
}

TestSuite(restore, .init = setup, .fini = teardown);

/* A heartbeat for name from pid at now, into src. */
static void
heartbeat(const char *name, uint64_t pid, uint64_t seq, uint64_t now)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ,
			      .seq = seq};
	struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "w.sock"};
	snprintf(m.worker, sizeof(m.worker), "%s", name);
	struct monitor_sender from = {.has_creds = 1, .pid = pid, .addr = &addr,
				      .addrlen = sizeof(addr)};
	monitor_message(&src, &m, &from, now, now);
}

static struct worker *
find(struct supervisor *sv, const char *name)
{
	struct worker *w = registry_find(&sv->registry, name, strlen(name));
	cr_assert_not_null(w, "%s is not there", name);
	return w;
}

/* src captured in slices of budget usec (how many in *slices), then taken over by dst. */
static long
carry(uint64_t budget, int *slices, char *err, size_t errlen)
{
	struct snapshot_buf b;
	size_t bucket = 0;
	uint64_t gen = 0;

	restore_capture_begin(&src, 9, &b);
	for (*slices = 1; !restore_capture_more(&src, &b, &bucket, budget); (*slices)++)
		;
	cr_assert_eq(snapshot_finish(&b), 0);
	long n = restore_apply(&dst, b.data, b.len, vigil_now_usec(), &gen, err, errlen);
	if (n >= 0)
		cr_expect_eq(gen, 9);
	snapshot_buf_free(&b);
	return n;
}

Test(restore, captured_in_slices_everything_comes_back)
{
	uint64_t t = vigil_now_usec() - 2000 * MS;
	char name[16], err[256] = "";
	int slices;

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		heartbeat(name, 100 + (uint64_t)i, 1, t);
		heartbeat(name, 100 + (uint64_t)i, 2, t + 100 * MS);
	}
	heartbeat("w7", 999, 1, t + 200 * MS); /* a restart */
	src.counters.datagrams = 1234;
	cr_assert_eq(carry(0, &slices, err, sizeof(err)), 40, "%s", err);
	cr_expect_gt(slices, 1, "a budget of 0 still took the whole registry in one slice");
	cr_expect_eq(dst.registry.count, 40);
	struct worker *w = find(&dst, "w7");
	cr_expect_eq(w->core.pid, 999);
	cr_expect_eq(w->core.restarts, 1);
	cr_expect_eq(w->core.heartbeats, 3);
	cr_expect_eq(find(&dst, "w3")->core.last_seq, 2);
	cr_expect_eq(dst.counters.datagrams, 1234, "the supervisor's counters start again");
	cr_expect_eq(dst.events.total[SV_EVENT_REGISTERED], 40);
	cr_expect_eq(dst.events.total[SV_EVENT_RESTARTED], 1);
	cr_expect_eq(dst.events.total[SV_EVENT_RESTORED], 40);
	cr_expect_eq(dst.by_state[WORKER_ALIVE], 40);
	/* The history too: w7's restart, then its restored event. */
	const struct sv_event *evs[8];
	size_t n = events_find(&dst.events, "w7", SV_EVENT_NTYPES, evs, 8);
	cr_assert_geq(n, 3);
	cr_expect_eq(evs[0]->type, SV_EVENT_RESTORED);
	cr_expect_eq(evs[1]->type, SV_EVENT_RESTARTED);
}

Test(restore, an_alive_worker_gets_a_whole_timeout_from_the_restart)
{
	char err[256] = "";
	int slices;

	heartbeat("up", 10, 1, vigil_now_usec() - 10000 * MS); /* silent for 10 s, as recorded */
	uint64_t before = vigil_now_usec();
	cr_assert_eq(carry(1000, &slices, err, sizeof(err)), 1, "%s", err);
	struct worker *w = find(&dst, "up");
	cr_expect_eq(w->core.state, WORKER_ALIVE);
	cr_expect_geq(w->core.due, before + 500 * MS, "judged on its old silence");
	cr_expect_leq(w->core.due, vigil_now_usec() + 500 * MS);
	cr_expect(event_pending(w->timer, EV_TIMEOUT, NULL), "no timer armed");
}

Test(restore, a_dead_worker_stays_dead_and_is_reported_on)
{
	char err[256] = "";
	int slices;
	uint64_t t = vigil_now_usec() - 3000 * MS;

	heartbeat("down", 20, 1, t);
	struct worker *s = find(&src, "down");
	for (int i = 1; i <= 3; i++)
		monitor_expire(&src, s, t + (uint64_t)i * 500 * MS);
	cr_assert_eq(s->core.timeouts, 3);
	uint64_t before = vigil_now_usec();
	cr_assert_eq(carry(1000, &slices, err, sizeof(err)), 1, "%s", err);
	struct worker *w = find(&dst, "down");
	cr_expect_eq(w->core.state, WORKER_DEAD);
	cr_expect_eq(w->core.timeouts, 3);
	cr_expect_eq(w->core.missed, 3);
	cr_expect_geq(w->core.due, before + 500 * MS);
	cr_expect(event_pending(w->timer, EV_TIMEOUT, NULL), "a dead worker no longer reported");
	monitor_expire(&dst, w, w->core.due);
	cr_expect_eq(w->core.timeouts, 4);
	cr_expect_eq(w->core.missed, 4);
}

Test(restore, a_stopped_worker_stays_stopped_without_a_timer)
{
	char err[256] = "";
	int slices;
	struct vigil_msg m = {.fields = VIGIL_F_STOPPING | VIGIL_F_WORKER, .worker = "off"};
	struct monitor_sender from = {.has_creds = 1, .pid = 30};

	heartbeat("off", 30, 1, vigil_now_usec() - 100 * MS);
	monitor_message(&src, &m, &from, vigil_now_usec(), vigil_now_usec());
	cr_assert_eq(carry(1000, &slices, err, sizeof(err)), 1, "%s", err);
	struct worker *w = find(&dst, "off");
	cr_expect_eq(w->core.state, WORKER_STOPPED);
	cr_expect_not(event_pending(w->timer, EV_TIMEOUT, NULL));
	cr_expect_eq(dst.by_state[WORKER_STOPPED], 1);
}

Test(restore, another_sockets_snapshot_is_refused_whole)
{
	char err[256] = "";
	int slices;

	heartbeat("a", 1, 1, vigil_now_usec());
	snprintf(dst.socket_name, sizeof(dst.socket_name), "other.sock");
	cr_expect_eq(carry(1000, &slices, err, sizeof(err)), -1);
	cr_expect(strstr(err, "written for the heartbeat socket test.sock, not other.sock") != NULL,
		  "%s", err);
	cr_expect_eq(dst.registry.count, 0);
	cr_expect_eq(dst.events.total[SV_EVENT_RESTORED], 0);
}

/*
 * A child that sleeps, its real uid ruid and effective uid euid (if they
 * are not 0: not dumpable then, /proc/PID/status owned by root).
 */
static pid_t
child_as(uid_t ruid, uid_t euid)
{
	int p[2];
	char c;

	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if ((ruid != 0 || euid != 0) && (setresgid(ruid, euid, euid) == -1 ||
						 setresuid(ruid, euid, euid) == -1))
			_exit(1);
		(void)!write(p[1], "x", 1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &c, 1), 1, "the child did not start");
	close(p[0]);
	return pid;
}

static pid_t
child(uid_t uid)
{
	return child_as(uid, uid);
}

static void
reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* name's process in src is pid, its start time confirmed, owned by uid. */
static struct worker *
held(const char *name, pid_t pid, uid_t uid)
{
	heartbeat(name, (uint64_t)pid, 1, vigil_now_usec());
	struct worker *s = find(&src, name);
	s->start_time = identity_start_time((uint64_t)pid);
	s->owner = uid;
	cr_assert_neq(s->start_time, 0);
	cr_assert(s->pid_vouched);
	return s;
}

Test(restore, a_process_that_dropped_privileges_is_still_proven)
{
	char err[256] = "";
	int slices;

	if (geteuid() != 0)
		cr_skip_test("needs root to run a process as another uid");
	pid_t pid = child(65534);
	struct worker *s = held("dropped", pid, 65534);
	long n = carry(1000, &slices, err, sizeof(err));
	struct worker *w = find(&dst, "dropped");
	cr_expect_eq(n, 1, "%s", err);
	cr_expect(w->pid_vouched, "its /proc/PID is root's (not dumpable), its uids are 65534");
	cr_expect_eq(w->start_time, s->start_time);
	reap(pid);
}

Test(restore, a_pid_of_another_uid_is_not_proven)
{
	char err[256] = "";
	int slices;

	if (geteuid() != 0)
		cr_skip_test("needs root to run a process as another uid");
	pid_t pid = child(65534);
	held("other", pid, 1234);
	cr_assert_eq(carry(1000, &slices, err, sizeof(err)), 1, "%s", err);
	struct worker *w = find(&dst, "other");
	cr_expect_not(w->pid_vouched);
	cr_expect_eq(w->start_time, 0);
	reap(pid);
}

static void
stop_loop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* As claim_signal would refuse it: /proc/PID is the effective uid's, the real uid is root. */
Test(restore, a_process_whose_real_uid_is_another_is_not_proven)
{
	char err[256] = "";
	int slices;

	if (geteuid() != 0)
		cr_skip_test("needs root to run a process as another uid");
	pid_t pid = child_as(0, 65534);
	held("half", pid, 65534);
	cr_assert_eq(carry(1000, &slices, err, sizeof(err)), 1, "%s", err);
	struct worker *w = find(&dst, "half");
	cr_expect_not(w->pid_vouched, "a process whose real uid is root was proven the name's");
	reap(pid);
}

Test(restore, an_unwatched_worker_is_watched_for_its_exit_again)
{
	char err[256] = "";
	int slices;
	pid_t pid = child(0);
	struct vigil_msg m = {.fields = VIGIL_F_WATCHDOG_USEC | VIGIL_F_WORKER, .worker = "quiet"};
	struct monitor_sender from = {.has_creds = 1, .pid = (uint64_t)pid, .pidfd = -1};

	held("quiet", pid, 0);
	monitor_message(&src, &m, &from, vigil_now_usec(), vigil_now_usec());
	cr_assert_eq(find(&src, "quiet")->core.state, WORKER_UNWATCHED);
	set.detect_exit = 1;
	cr_assert_eq(carry(1000, &slices, err, sizeof(err)), 1, "%s", err);
	struct worker *w = find(&dst, "quiet");
	cr_assert_eq(w->core.state, WORKER_UNWATCHED);
	cr_expect_neq(registry_pidfd(w), -1, "no pidfd held for the restored process");
	cr_assert(w->claim != NULL && w->claim->exit_ev != NULL &&
		      event_pending(w->claim->exit_ev, EV_READ, NULL),
		  "not watched for its exit");
	reap(pid);
	struct timeval tv = {.tv_sec = 1};
	struct event *stop = evtimer_new(dst.base, stop_loop, dst.base);
	evtimer_add(stop, &tv);
	event_base_loop(dst.base, EVLOOP_ONCE);
	event_free(stop);
	cr_expect_eq(w->core.state, WORKER_EXITED, "its exit went unseen");
	cr_expect_eq(dst.by_state[WORKER_EXITED], 1);
	cr_expect_eq(dst.by_state[WORKER_UNWATCHED], 0);
}

Test(restore, systemd_hears_one_status_for_the_whole_registry)
{
	char err[256] = "", path[64], buf[256];
	int slices, fd, statuses = 0;
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "w%d", i);
		heartbeat(name, 100 + (uint64_t)i, 1, vigil_now_usec());
	}
	snprintf(path, sizeof(path), "/tmp/test_restore.%d.notify", (int)getpid());
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	long n = carry(1000, &slices, err, sizeof(err));
	unsetenv("NOTIFY_SOCKET");
	cr_expect_eq(n, 20, "%s", err);
	for (ssize_t got; (got = recv(fd, buf, sizeof(buf) - 1, 0)) > 0;) {
		buf[got] = '\0';
		if (strncmp(buf, "STATUS=", 7) == 0)
			statuses++;
		if (statuses == 1)
			cr_expect_str_eq(buf, "STATUS=20 workers: 20 alive");
	}
	close(fd);
	unlink(path);
	cr_expect_eq(statuses, 1, "one STATUS= a restored worker");
}

/*
 * A start time confirmed at a later heartbeat raises no event: the store
 * still writes it, so that the next supervisor proves the pid.
 */
Test(restore, a_start_time_confirmed_later_is_written)
{
	char path[64], err[256] = "";
	pid_t pid = child(0);
	uint64_t now = vigil_now_usec();

	snprintf(path, sizeof(path), "/tmp/test_restore.%d.state", (int)getpid());
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
	snprintf(set.state_file, sizeof(set.state_file), "%s", path);
	src.store = store_new(&set);
	cr_assert_not_null(src.store);
	cr_assert_eq(store_start(src.store, &src, err, sizeof(err)), 0, "%s", err);
	heartbeat("late", (uint64_t)pid, 1, now);
	struct worker *s = find(&src, "late");
	s->start_time = 0; /* as claim_join leaves it within the process's first clock tick */
	cr_assert_eq(store_save(src.store), 0);
	/* Its next heartbeat, well after it started: the start time is taken now. */
	heartbeat("late", (uint64_t)pid, 2, vigil_now_usec() + 50 * MS);
	cr_assert_neq(s->start_time, 0);
	cr_assert_neq(s->start_time, CLAIM_GONE);
	/* The store's ticks, for 2.5 s (a tick is 1 s), the heartbeats counted alike. */
	struct timeval tv = {.tv_sec = 2, .tv_usec = 500000};
	struct event *stop = evtimer_new(src.base, stop_loop, src.base);
	evtimer_add(stop, &tv);
	event_base_dispatch(src.base);
	event_free(stop);
	store_free(src.store);
	src.store = NULL;

	struct store *st = store_new(&set);
	cr_assert_eq(store_load(st, &dst), 1);
	store_free(st);
	unlink(path);
	struct worker *w = find(&dst, "late");
	cr_expect_eq(w->start_time, s->start_time, "the snapshot kept no start time");
	cr_expect(w->pid_vouched);
	reap(pid);
}
