/*
 * test_restore.c: the live registry into a snapshot and back (restore.h),
 * between two supervisor contexts in one process: captured in slices,
 * taken over whole, each worker judged from the moment the new one is
 * ready. No socket and no running loop: timers are only looked at.
 */
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "duration.h"
#include "monitor.h"
#include "restore.h"
#include "snapshot.h"
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
