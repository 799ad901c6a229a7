/*
 * test_monitor.c: the monitor through its interface (monitor.h): decoded
 * messages and timer expiries in, with the time passed in; out, what it
 * sends through a fake struct monitor_io, the events its subscribers see,
 * the counters and the workers' state. No socket and no running loop: the
 * event base only holds the timers, which the tests expire by hand.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <event2/event.h>

#include "duration.h"
#include "monitor.h"
#include "supervisor.h"

#define MS 1000ULL
#define T0 (1000 * 1000 * MS) /* a monotonic time far from 0 */

static struct supervisor sv;
static struct settings set; /* the settings in force: sv.set */

/* The fake socket: what was sent, and what sending does. */
static struct {
	int fail_errno; /* 0: sends succeed */
	int sent, drained;
	struct vigil_msg last; /* the last datagram sent, decoded */
	char to[108];
} io;

/* What the events' subscriber saw, in order. */
static struct {
	int n;
	enum sv_event_type type[64];
	char state[64][16];
} seen;

static int
fake_send(void *ctx, const struct sockaddr_un *to, socklen_t tolen, const char *buf, size_t len)
{
	struct vigil_wire_error err;
	static char copy[VIGIL_WIRE_MAX];

	(void)ctx;
	(void)tolen;
	if (io.fail_errno != 0) {
		errno = io.fail_errno;
		return -1;
	}
	memcpy(copy, buf, len);
	cr_assert_eq(vigil_wire_decode(copy, len, &io.last, &err), 0, "the monitor sent garbage");
	snprintf(io.to, sizeof(io.to), "%s", to->sun_path);
	io.sent++;
	return 0;
}

static void
fake_drain(void *ctx)
{
	(void)ctx;
	io.drained++;
}

static void
record(const struct sv_event *ev, void *arg)
{
	(void)arg;
	if (seen.n < 64) {
		seen.type[seen.n] = ev->type;
		snprintf(seen.state[seen.n], sizeof(seen.state[0]), "%s", ev->state);
		seen.n++;
	}
}

static void
setup(void)
{
	memset(&sv, 0, sizeof(sv));
	memset(&io, 0, sizeof(io));
	memset(&seen, 0, sizeof(seen));
	sv.base = event_base_new();
	cr_assert_not_null(sv.base);
	cr_assert_eq(event_base_priority_init(sv.base, SV_NPRIO), 0);
	ctimeout_init(&sv.ctimeouts, sv.base);
	cr_assert_eq(registry_init(&sv.registry, 16), 0);
	settings_init(&set);
	set.max_workers = 16;
	set.timeout = 500 * MS;
	sv.set = &set;
	snprintf(sv.socket_name, sizeof(sv.socket_name), "test.sock");
	sv.rl_timeouts.burst = 100;
	log_init("test_monitor", LOG_LEVEL_ERR);
	cr_assert_eq(events_subscribe(&sv.events, record, NULL), 0);
	struct monitor_io fake = {.send = fake_send, .drain = fake_drain};
	monitor_set_io(&sv, &fake);
}

static void
teardown(void)
{
	registry_free(&sv.registry);
	events_free(&sv.events);
	event_base_free(sv.base);
}

TestSuite(monitor, .init = setup, .fini = teardown);

/* A heartbeat for name from pid (uid 0), sent from the address "name.sock", at now. */
static void
heartbeat(const char *name, uint64_t pid, uint64_t seq, uint64_t now)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ,
			      .seq = seq};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(m.worker, sizeof(m.worker), "%s", name);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.sock", name);
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = pid, .uid = 0, .gid = 0,
				      .addr = &addr,
				      .addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
							     strlen(addr.sun_path) + 1)};
	monitor_message(&sv, &m, &from, now, now);
}

static struct worker *
find(const char *name)
{
	struct worker *w = registry_find(&sv.registry, name, strlen(name));
	cr_assert_not_null(w, "%s is not registered", name);
	return w;
}

Test(monitor, a_silent_worker_is_told_at_its_deadline_and_not_before)
{
	heartbeat("web", 42, 7, T0);
	struct worker *w = find("web");
	cr_expect_eq(w->core.state, WORKER_ALIVE);
	cr_expect_eq(w->core.due, T0 + 500 * MS);
	cr_expect(event_pending(w->timer, EV_TIMEOUT, NULL), "no timer armed");

	monitor_expire(&sv, w, T0 + 499 * MS); /* a timer that ran early */
	cr_expect_eq(io.sent, 0, "told before its deadline");
	cr_expect_eq(w->core.state, WORKER_ALIVE);

	monitor_expire(&sv, w, T0 + 500 * MS + 300);
	cr_assert_eq(io.sent, 1);
	cr_expect_eq(io.last.fields & VIGIL_F_TIMEOUT, VIGIL_F_TIMEOUT);
	cr_expect_str_eq(io.last.worker, "web");
	cr_expect_eq(io.last.missed, 1);
	cr_expect_eq(io.last.silent_ms, 500);
	cr_expect_eq(io.last.last_seq, 7);
	cr_expect_str_eq(io.to, "web.sock", "the TIMEOUT went to %s", io.to);
	cr_expect_eq(w->core.state, WORKER_DEAD);
	cr_expect_eq(sv.counters.timeouts_sent, 1);
	cr_expect_eq(sv.counters.timer_late_max, 300, "lateness %llu",
		     (unsigned long long)sv.counters.timer_late_max);
	cr_expect_eq(sv.by_state[WORKER_DEAD], 1);
	cr_expect_eq(sv.by_state[WORKER_ALIVE], 0);

	cr_assert_eq(seen.n, 2);
	cr_expect_eq(seen.type[0], SV_EVENT_REGISTERED);
	cr_expect_eq(seen.type[1], SV_EVENT_TIMEOUT);
	cr_expect_str_eq(seen.state[1], "dead");

	heartbeat("web", 42, 8, T0 + 700 * MS);
	cr_expect_eq(w->core.state, WORKER_ALIVE);
	cr_assert_eq(seen.n, 3);
	cr_expect_eq(seen.type[2], SV_EVENT_RECOVERED);
}

Test(monitor, a_timeout_the_socket_cannot_take_is_counted_undelivered)
{
	heartbeat("web", 42, 1, T0);
	io.fail_errno = EAGAIN;
	monitor_expire(&sv, find("web"), T0 + 500 * MS);
	cr_expect_eq(sv.counters.timeouts_sent, 0);
	cr_expect_eq(sv.counters.timeouts_undelivered, 1);
	cr_expect_eq(find("web")->core.state, WORKER_DEAD, "judged all the same");

	/* Without an installed socket at all: counted too, never a crash. */
	memset(&sv.io, 0, sizeof(sv.io));
	monitor_expire(&sv, find("web"), T0 + 1000 * MS);
	cr_expect_eq(sv.counters.timeouts_undelivered, 2);
}

Test(monitor, a_pause_of_ours_is_forgiven_once_per_silence)
{
	heartbeat("web", 42, 1, T0);
	struct worker *w = find("web");

	/* The loop stalled 300 ms past the deadline: not the worker's fault, once. */
	monitor_expire(&sv, w, T0 + 800 * MS);
	cr_expect_eq(io.sent, 0);
	cr_expect_eq(sv.counters.graces, 1);
	cr_expect_eq(sv.counters.stalls, 1);
	cr_expect_eq(w->core.state, WORKER_ALIVE);
	cr_expect_eq(w->core.due, T0 + 1300 * MS);

	/* Stalled again at its next deadline: judged now, with the true silence. */
	monitor_expire(&sv, w, T0 + 1600 * MS);
	cr_assert_eq(io.sent, 1);
	cr_expect_eq(io.last.silent_ms, 1600);
	cr_expect_eq(sv.counters.graces, 1, "a second grace in one silence");
	cr_expect_eq(sv.counters.stalls, 2);
	cr_expect_eq(w->core.state, WORKER_DEAD);
}

Test(monitor, another_uid_cannot_speak_for_a_name)
{
	heartbeat("web", 42, 1, T0);
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER};
	snprintf(m.worker, sizeof(m.worker), "web");
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = 99, .uid = 1234};
	monitor_message(&sv, &m, &from, T0 + 400 * MS, T0 + 400 * MS);
	cr_expect_eq(sv.counters.impersonations, 1);
	cr_expect_eq(find("web")->core.last_hb, T0, "its timer was reset by a stranger");
	cr_expect_eq(find("web")->core.pid, 42);
}

Test(monitor, a_message_with_nothing_to_do_is_counted_invalid)
{
	struct vigil_msg m = {.fields = VIGIL_F_WORKER};
	snprintf(m.worker, sizeof(m.worker), "web");
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = 42};
	monitor_message(&sv, &m, &from, T0, T0);
	cr_expect_eq(sv.counters.invalid[VIGIL_WIRE_NO_MESSAGE], 1);
	cr_expect_eq(sv.registry.count, 0, "registered on a message that asks nothing");
}

Test(monitor, stopping_disarms_and_forget_drops_the_worker)
{
	heartbeat("web", 42, 1, T0);
	struct worker *w = find("web");
	struct vigil_msg m = {.fields = VIGIL_F_WORKER | VIGIL_F_STOPPING};
	snprintf(m.worker, sizeof(m.worker), "web");
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = 42};
	monitor_message(&sv, &m, &from, T0 + 100 * MS, T0 + 100 * MS);
	cr_expect_eq(w->core.state, WORKER_STOPPED);
	cr_expect_not(event_pending(w->timer, EV_TIMEOUT, NULL), "a stopped worker's timer runs");
	monitor_forget(&sv, w);
	cr_expect_eq(sv.registry.count, 0);
	cr_expect_eq(sv.by_state[WORKER_STOPPED], 0);
	cr_assert_eq(seen.n, 3);
	cr_expect_eq(seen.type[2], SV_EVENT_FORGOTTEN);
}

Test(monitor, drain_goes_through_the_installed_socket)
{
	monitor_drain(&sv);
	cr_expect_eq(io.drained, 1);
	memset(&sv.io, 0, sizeof(sv.io));
	monitor_drain(&sv); /* nothing installed: nothing happens */
	cr_expect_eq(io.drained, 1);
}

/* A heartbeat for name from pid 42 that arrived at arrived and was read at read. */
static void
heartbeat_read(const char *name, uint64_t seq, uint64_t arrived, uint64_t read)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ,
			      .seq = seq};
	struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "web.sock"};
	snprintf(m.worker, sizeof(m.worker), "%s", name);
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = 42, .addr = &addr,
				      .addrlen = (socklen_t)sizeof(addr)};
	monitor_message(&sv, &m, &from, arrived, read);
}

/*
 * A heartbeat's silence counts from when it arrived; one that waited for
 * us 100 ms or more (our pause) is judged a timeout after we read it, as a
 * timer we ran that late would be: our pause convicts nobody.
 */
Test(monitor, silence_counts_from_arrival_and_our_pause_convicts_nobody)
{
	heartbeat_read("web", 1, T0, T0 + 5 * MS);
	struct worker *w = find("web");
	cr_expect_eq(w->core.last_hb, T0, "stamped when read, not when it came");
	cr_expect_eq(w->core.due, T0 + 500 * MS, "a short wait: the deadline from the arrival");

	heartbeat_read("web", 2, T0 + 100 * MS, T0 + 400 * MS);
	cr_expect_eq(w->core.last_hb, T0 + 100 * MS);
	cr_expect_eq(w->core.due, T0 + 900 * MS, "waited 300 ms for us: a timeout after the read");
	monitor_expire(&sv, w, T0 + 900 * MS);
	cr_assert_eq(io.sent, 1);
	cr_expect_eq(io.last.silent_ms, 800, "the whole silence, from the arrival");
}

/*
 * One live process behind a name (claim.h): another live process of the
 * same uid heartbeating for a WORKER= name is a rival, a conflict event with
 * both pids, never a restart; once the first is gone, the next one takes the
 * name as a restart. Real pids: this process and its parent are alive.
 */
Test(monitor, a_second_live_process_is_a_rival_not_a_restart)
{
	uint64_t now = vigil_now_usec(), me = (uint64_t)getpid(), parent = (uint64_t)getppid();

	heartbeat("twin", me, 1, now);
	struct worker *w = find("twin");
	cr_assert_neq(w->start_time, 0, "our own start time, long before the heartbeat, not taken");
	heartbeat("twin", parent, 1, now + MS);
	cr_expect_eq(w->core.pid, me, "the rival took the name");
	cr_expect_eq(w->core.restarts, 0);
	cr_expect_eq(w->core.heartbeats, 1, "the rival's heartbeat counted");
	cr_assert_not_null(w->claim);
	cr_expect_eq(w->claim->rival_pid, parent);
	cr_expect_eq(sv.counters.conflict_beats, 1);
	int conflicts = 0;
	for (int i = 0; i < seen.n; i++)
		conflicts += seen.type[i] == SV_EVENT_CONFLICT;
	cr_expect_eq(conflicts, 1);
	heartbeat("twin", parent, 2, now + 2 * MS);
	cr_expect_eq(sv.counters.conflict_beats, 2);
	conflicts = 0;
	for (int i = 0; i < seen.n; i++)
		conflicts += seen.type[i] == SV_EVENT_CONFLICT;
	cr_expect_eq(conflicts, 1, "a known conflict reported again");

	/* A name whose process is gone (no such pid) passes on as a restart. */
	heartbeat("solo", 4194304 + 7, 1, now);
	heartbeat("solo", me, 1, now + MS);
	cr_expect_eq(find("solo")->core.pid, me);
	cr_expect_eq(find("solo")->core.restarts, 1);
}

/*
 * sd_notify's keys that ask nothing of us are quiet (no invalid count, no
 * worker); ignored lines are counted; a nameless ping whose sender's cgroup
 * cannot be read is no_cgroup, not no_worker.
 */
Test(monitor, quiet_keys_ignored_lines_and_unreadable_cgroups)
{
	struct vigil_msg m = {.fields = VIGIL_F_MAINPID | VIGIL_F_ERRNO | VIGIL_F_WORKER,
			      .ignored = 3};
	snprintf(m.worker, sizeof(m.worker), "web");
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = 42};
	monitor_message(&sv, &m, &from, T0, T0);
	cr_expect_eq(sv.counters.invalid[VIGIL_WIRE_NO_MESSAGE], 0, "MAINPID=, ERRNO= refused");
	cr_expect_eq(sv.counters.ignored_lines, 3);
	cr_expect_eq(sv.registry.count, 0);
	/* No WORKER=, from a pid no process has (above pid_max): its cgroup cannot be read. */
	struct vigil_msg ping = {.fields = VIGIL_F_WATCHDOG};
	struct monitor_sender gone = {.has_creds = 1, .pidfd = -1, .pid = 4194304 + 7};
	monitor_message(&sv, &ping, &gone, T0, T0);
	cr_expect_eq(sv.counters.invalid[VIGIL_WIRE_NO_CGROUP], 1);
	cr_expect_eq(sv.counters.invalid[VIGIL_WIRE_NO_WORKER], 0);
}

/* WATCHDOG_USEC=0: unwatched, no timer; WATCHDOG_USEC=N: alive, armed from the last heartbeat. */
Test(monitor, watchdog_usec_0_unwatches_and_n_watches_again)
{
	heartbeat("web", 42, 1, T0);
	struct vigil_msg m = {.fields = VIGIL_F_WORKER | VIGIL_F_WATCHDOG_USEC, .watchdog_usec = 0};
	snprintf(m.worker, sizeof(m.worker), "web");
	struct monitor_sender from = {.has_creds = 1, .pidfd = -1, .pid = 42};
	monitor_message(&sv, &m, &from, T0 + 100 * MS, T0 + 100 * MS);
	cr_expect_eq(find("web")->core.state, WORKER_UNWATCHED);
	cr_expect_not(event_pending(find("web")->timer, EV_TIMEOUT, NULL), "still armed");
	cr_expect_eq(sv.by_state[WORKER_UNWATCHED], 1);
	cr_expect_eq(sv.by_state[WORKER_ALIVE], 0);
	m.watchdog_usec = 2000 * MS;
	monitor_message(&sv, &m, &from, T0 + 200 * MS, T0 + 200 * MS);
	cr_expect_eq(find("web")->core.state, WORKER_ALIVE);
	cr_expect_eq(find("web")->core.timeout, 2000 * MS);
	cr_expect_eq(find("web")->core.due, T0 + 2000 * MS, "from its last heartbeat");
	cr_expect(event_pending(find("web")->timer, EV_TIMEOUT, NULL), "not armed");
}
