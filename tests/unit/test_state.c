/*
 * test_state.c: the worker state machine, driven with a fake clock (a time
 * the test advances by hand). No libevent, no sockets: state_apply() only.
 */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "state.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MS 1000ULL
#define TIMEOUT (600 * MS)
#define START (1000000 * MS) /* an arbitrary start, far from zero */

static struct worker_core w;
static uint64_t now; /* the fake clock, in microseconds */

static void
fresh(void)
{
	memset(&w, 0, sizeof(w));
	w.timeout = TIMEOUT;
	now = START;
}

TestSuite(state, .init = fresh);

static unsigned
beat(uint64_t pid, uint64_t seq)
{
	struct state_event ev = {
	    .type = STATE_EV_HEARTBEAT, .now = now, .pid = pid, .seq = seq, .has_seq = 1};
	return state_apply(&w, &ev);
}

static unsigned
timer(void)
{
	struct state_event ev = {.type = STATE_EV_TIMER, .now = now};
	return state_apply(&w, &ev);
}

static unsigned
stopping(uint64_t pid)
{
	struct state_event ev = {.type = STATE_EV_STOPPING, .now = now, .pid = pid};
	return state_apply(&w, &ev);
}

/* Let the timer fire exactly when it was armed for, as libevent would. */
static unsigned
fire_when_due(void)
{
	now = w.due;
	return timer();
}

Test(state, first_heartbeat_registers_and_arms)
{
	unsigned act = beat(100, 1);

	cr_expect_eq(act, STATE_ACT_REGISTERED | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.pid, 100);
	cr_expect_eq(w.last_seq, 1);
	cr_expect_eq(w.heartbeats, 1);
	cr_expect_eq(w.missed, 0);
	cr_expect_eq(w.timeouts, 0);
	cr_expect_eq(w.restarts, 0);
	cr_expect_eq(w.last_hb, now);
	cr_expect_eq(w.due, now + TIMEOUT);
	cr_expect_str_eq(state_name(&w, now), "alive");
}

Test(state, heartbeat_while_alive_only_rearms)
{
	beat(100, 1);
	for (uint64_t seq = 2; seq <= 4; seq++) {
		now += 200 * MS;
		unsigned act = beat(100, seq);

		cr_expect_eq(act, STATE_ACT_ARM, "seq %llu: actions 0x%x", (unsigned long long)seq,
		             act);
		cr_expect_eq(w.heartbeats, seq);
		cr_expect_eq(w.last_seq, seq);
		cr_expect_eq(w.last_hb, now);
		cr_expect_eq(w.due, now + TIMEOUT, "the deadline moves with every heartbeat");
	}
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.timeouts, 0);
	cr_expect_eq(w.restarts, 0);
}

Test(state, heartbeat_without_seq_keeps_last_seq)
{
	beat(100, 7);
	struct state_event ev = {.type = STATE_EV_HEARTBEAT, .now = now, .pid = 100, .seq = 99};
	state_apply(&w, &ev); /* has_seq = 0: seq is not to be read */
	cr_expect_eq(w.last_seq, 7);
	cr_expect_eq(w.heartbeats, 2);
}

/* A timer event for a name that never heartbeat: nothing to watch. */
Test(state, timer_before_any_heartbeat_disarms)
{
	now += 10 * TIMEOUT;
	unsigned act = timer();

	cr_expect_eq(act, STATE_ACT_DISARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_NEW);
	cr_expect_eq(w.timeouts, 0);
	cr_expect_str_eq(state_name(&w, now), "new");
}

struct early_case {
	uint64_t early_us; /* how long before its deadline the timer runs */
	int dead_first;    /* let one period go missed before */
};

ParameterizedTestParameters(state, early_timer_only_rearms)
{
	static struct early_case cases[] = {
	    {1, 0}, {40, 0}, {4 * MS, 0}, {TIMEOUT - 1, 0},
	    {1, 1}, {40, 1}, {4 * MS, 1}, {TIMEOUT - 1, 1},
	};
	return cr_make_param_array(struct early_case, cases, ARRAY_LEN(cases));
}

/* libevent may run a timer a little before its deadline: never convict early. */
ParameterizedTest(struct early_case *c, state, early_timer_only_rearms)
{
	beat(100, 1);
	if (c->dead_first)
		fire_when_due();
	struct worker_core before = w;
	now = w.due - c->early_us;
	unsigned act = timer();

	cr_expect_eq(act, STATE_ACT_ARM, "%llu us early (dead %d): actions 0x%x",
	             (unsigned long long)c->early_us, c->dead_first, act);
	cr_expect_eq(w.state, before.state, "%llu us early: state changed",
	             (unsigned long long)c->early_us);
	cr_expect_eq(w.missed, before.missed, "%llu us early: missed %llu",
	             (unsigned long long)c->early_us, (unsigned long long)w.missed);
	cr_expect_eq(w.timeouts, before.timeouts, "%llu us early: timeouts %llu",
	             (unsigned long long)c->early_us, (unsigned long long)w.timeouts);
	cr_expect_eq(w.due, before.due, "%llu us early: the deadline moved",
	             (unsigned long long)c->early_us);
}

Test(state, timer_at_deadline_declares_dead)
{
	beat(100, 5);
	uint64_t hb = now;
	unsigned act = fire_when_due();

	cr_expect_eq(act, STATE_ACT_TIMEOUT | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_DEAD);
	cr_expect_eq(w.missed, 1);
	cr_expect_eq(w.timeouts, 1);
	cr_expect_eq(w.due, hb + 2 * TIMEOUT, "next report one period later, on the grid");
	cr_expect_eq(w.last_hb, hb, "a timeout is not a heartbeat");
	cr_expect_eq(w.heartbeats, 1);
	cr_expect_eq(w.last_seq, 5, "a timeout does not touch the sequence");
	cr_expect_str_eq(state_name(&w, now), "dead");
}

struct lateness_case {
	uint64_t late_us; /* how late the timer callback runs each time */
};

ParameterizedTestParameters(state, repeated_reports_count_missed_on_the_grid)
{
	static struct lateness_case cases[] = {{0}, {1}, {250}, {5 * MS}, {STATE_PAUSE_USEC - 1}};
	return cr_make_param_array(struct lateness_case, cases, ARRAY_LEN(cases));
}

/* However late each callback runs, MISSED counts 1, 2, 3 and deadlines stay on the grid. */
ParameterizedTest(struct lateness_case *c, state, repeated_reports_count_missed_on_the_grid)
{
	beat(100, 1);
	uint64_t hb = now;
	for (uint64_t k = 1; k <= 5; k++) {
		now = w.due + c->late_us;
		unsigned act = timer();
		cr_expect_eq(act, STATE_ACT_TIMEOUT | STATE_ACT_ARM, "fire %llu: actions 0x%x",
		             (unsigned long long)k, act);
		cr_expect_eq(w.state, WORKER_DEAD);
		cr_expect_eq(w.missed, k, "fire %llu late by %llu us: missed %llu",
		             (unsigned long long)k, (unsigned long long)c->late_us,
		             (unsigned long long)w.missed);
		cr_expect_eq(w.timeouts, k);
		cr_expect_eq(w.due, hb + (k + 1) * TIMEOUT, "fire %llu late by %llu us: due %llu",
		             (unsigned long long)k, (unsigned long long)c->late_us,
		             (unsigned long long)w.due);
	}
}

Test(state, heartbeat_after_dead_recovers)
{
	beat(100, 1);
	fire_when_due();
	fire_when_due();
	cr_assert_eq(w.missed, 2);
	now += 10 * MS;
	unsigned act = beat(100, 2);

	cr_expect_eq(act, STATE_ACT_RECOVERED | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.missed, 0, "missed counts the current silence only");
	cr_expect_eq(w.timeouts, 2, "timeouts is a total");
	cr_expect_eq(w.heartbeats, 2);
	cr_expect_eq(w.last_hb, now);
	cr_expect_eq(w.due, now + TIMEOUT, "the grid starts again from the new heartbeat");
	cr_expect_str_eq(state_name(&w, now), "alive");

	/* The next silence counts from 1 again and adds to the total. */
	act = fire_when_due();
	cr_expect_eq(act, STATE_ACT_TIMEOUT | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.missed, 1);
	cr_expect_eq(w.timeouts, 3);
}

Test(state, new_pid_is_a_restart)
{
	beat(100, 10);
	fire_when_due();
	unsigned act = beat(200, 1);

	cr_expect_eq(act, STATE_ACT_RECOVERED | STATE_ACT_RESTARTED | STATE_ACT_ARM, "actions 0x%x",
	             act);
	cr_expect_eq(w.restarts, 1);
	cr_expect_eq(w.pid, 200);
	cr_expect_eq(w.last_seq, 1, "a new incarnation starts its sequence again");

	act = beat(300, 1); /* restarted again without ever missing */
	cr_expect_eq(act, STATE_ACT_RESTARTED | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.restarts, 2);
	cr_expect_eq(w.pid, 300);

	act = beat(300, 2); /* the same process again: no restart */
	cr_expect_eq(act, STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.restarts, 2);
}

Test(state, unknown_pid_is_never_a_restart)
{
	beat(100, 1);
	unsigned act = beat(0, 2);

	cr_expect_eq(act, STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.restarts, 0);
	cr_expect_eq(w.pid, 100, "an unknown pid does not erase the known one");

	fresh();
	beat(0, 1);
	cr_expect_eq(w.pid, 0);
	act = beat(100, 2);
	cr_expect_eq(act, STATE_ACT_ARM, "learning a pid is not a restart: 0x%x", act);
	cr_expect_eq(w.restarts, 0);
	cr_expect_eq(w.pid, 100);
}

Test(state, stopping_disarms_and_timer_does_nothing)
{
	beat(100, 3);
	uint64_t hb = now;
	unsigned act = stopping(100);

	cr_expect_eq(act, STATE_ACT_STOPPED | STATE_ACT_DISARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_STOPPED);
	cr_expect_str_eq(state_name(&w, now), "stopped");

	for (int i = 1; i <= 3; i++) {
		now = hb + (uint64_t)(10 * i) * TIMEOUT;
		act = timer();
		cr_expect_eq(act, STATE_ACT_DISARM, "stray timer %d after STOPPING: 0x%x", i, act);
	}
	cr_expect_eq(w.state, WORKER_STOPPED);
	cr_expect_eq(w.timeouts, 0);
	cr_expect_eq(w.missed, 0);
	cr_expect_str_eq(state_name(&w, now), "stopped", "however long the silence");
}

Test(state, stopping_while_dead_clears_missed)
{
	beat(100, 3);
	fire_when_due();
	unsigned act = stopping(100);

	cr_expect_eq(act, STATE_ACT_STOPPED | STATE_ACT_DISARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_STOPPED);
	cr_expect_eq(w.missed, 0);
	cr_expect_eq(w.timeouts, 1);
}

Test(state, heartbeat_after_stopped_resumes)
{
	beat(100, 3);
	stopping(100);
	now += 5 * TIMEOUT;
	unsigned act = beat(100, 4);

	cr_expect_eq(act, STATE_ACT_RESUMED | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.due, now + TIMEOUT);
	cr_expect_eq(w.heartbeats, 2);
	cr_expect_eq(w.timeouts, 0, "a stopped worker's silence is not a timeout");

	stopping(100);
	act = beat(101, 1); /* the service manager started a new process */
	cr_expect_eq(act, STATE_ACT_RESUMED | STATE_ACT_RESTARTED | STATE_ACT_ARM, "actions 0x%x",
	             act);
	cr_expect_eq(w.restarts, 1);
}

struct stall_case {
	uint64_t late_us; /* how long after its deadline the timer finally runs */
	int missed_first; /* periods already reported before the stall */
};

ParameterizedTestParameters(state, stalled_timer_gives_one_period_of_grace)
{
	static struct stall_case cases[] = {
	    {STATE_PAUSE_USEC, 0}, {TIMEOUT, 0},     {TIMEOUT + 1, 0}, {10 * TIMEOUT + 123, 0},
	    {1000 * TIMEOUT, 0},   {TIMEOUT, 3},     {7 * TIMEOUT + 5, 3},
	};
	return cr_make_param_array(struct stall_case, cases, ARRAY_LEN(cases));
}

/*
 * A timer that runs STATE_PAUSE_USEC or more after its deadline: the
 * supervisor itself was stopped or starved. Nobody is convicted for that
 * lateness; the worker gets one period from now, then is judged normally.
 */
ParameterizedTest(struct stall_case *c, state, stalled_timer_gives_one_period_of_grace)
{
	beat(100, 1);
	for (int i = 0; i < c->missed_first; i++)
		fire_when_due();
	uint64_t missed = w.missed, timeouts = w.timeouts;
	enum worker_state before = w.state;
	now = w.due + c->late_us;
	unsigned act = timer();

	cr_expect_eq(act, STATE_ACT_GRACE | STATE_ACT_ARM, "late by %llu us: actions 0x%x",
		     (unsigned long long)c->late_us, act);
	cr_expect_eq(w.missed, missed, "a pause of ours counted as a miss");
	cr_expect_eq(w.timeouts, timeouts);
	cr_expect_eq(w.state, before, "the state changed on our own lateness");
	cr_expect_eq(w.due, now + TIMEOUT, "late by %llu us: due %llu, now %llu",
		     (unsigned long long)c->late_us, (unsigned long long)w.due,
		     (unsigned long long)now);

	/* Still silent a period later, with the supervisor on time again: convicted. */
	act = fire_when_due();
	cr_expect_eq(act, STATE_ACT_TIMEOUT | STATE_ACT_ARM, "after the grace: actions 0x%x", act);
	cr_expect_eq(w.missed, missed + 1);
	cr_expect_eq(w.state, WORKER_DEAD);
}

Test(state, pause_threshold_boundary)
{
	beat(100, 1);
	now = w.due + STATE_PAUSE_USEC - 1;
	cr_expect_eq(timer(), STATE_ACT_TIMEOUT | STATE_ACT_ARM, "just under the threshold: judged");
	cr_expect_gt(w.due, now, "re-armed in the past");

	fresh();
	beat(100, 1);
	now = w.due + STATE_PAUSE_USEC;
	cr_expect_eq(timer(), STATE_ACT_GRACE | STATE_ACT_ARM, "at the threshold: grace");
}

/*
 * Repeated pauses of the supervisor (a slow render every period, once
 * upon a time) must not hide a death: the grace is once per silence, and
 * the next late expiry convicts, however late it runs.
 */
Test(state, a_second_pause_in_one_silence_gets_no_grace)
{
	beat(100, 1);
	now = w.due + 3 * STATE_PAUSE_USEC;
	cr_expect_eq(timer(), STATE_ACT_GRACE | STATE_ACT_ARM, "the first pause: grace");
	now = w.due + 3 * STATE_PAUSE_USEC;
	cr_expect_eq(timer(), STATE_ACT_TIMEOUT | STATE_ACT_ARM, "the second pause: judged");
	cr_expect_eq(w.state, WORKER_DEAD);
	cr_expect_eq(w.missed, 1);
	now = w.due + 3 * STATE_PAUSE_USEC;
	cr_expect_eq(timer(), STATE_ACT_TIMEOUT | STATE_ACT_ARM, "and every later one");
	cr_expect_eq(w.missed, 2);
}

Test(state, a_heartbeat_gives_the_next_silence_its_own_grace)
{
	beat(100, 1);
	now = w.due + STATE_PAUSE_USEC;
	cr_expect_eq(timer(), STATE_ACT_GRACE | STATE_ACT_ARM);
	now += 1000;
	beat(101, 2);
	now = w.due + STATE_PAUSE_USEC;
	cr_expect_eq(timer(), STATE_ACT_GRACE | STATE_ACT_ARM, "a new silence, a new grace");
}

struct name_case {
	uint64_t interval_ms;
	uint64_t silent_ms;
	char want[8];
};

ParameterizedTestParameters(state, alive_or_late)
{
	static struct name_case cases[] = {
	    {0, 0, "alive"},     {0, 590, "alive"},   /* no interval known: never late */
	    {100, 0, "alive"},   {100, 150, "alive"}, /* one heartbeat a little late */
	    {100, 200, "alive"}, {100, 201, "late"},  /* over two intervals */
	    {200, 500, "late"},  {250, 599, "late"},
	};
	return cr_make_param_array(struct name_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct name_case *c, state, alive_or_late)
{
	w.interval = c->interval_ms * MS;
	beat(100, 1);
	const char *got = state_name(&w, now + c->silent_ms * MS);
	cr_expect_str_eq(got, c->want, "interval %llums, silent %llums: %s",
	                 (unsigned long long)c->interval_ms, (unsigned long long)c->silent_ms, got);
}

/* "late" is a shade of alive only: dead and stopped keep their names. */
Test(state, late_only_while_alive)
{
	w.interval = 100 * MS;
	beat(100, 1);
	fire_when_due();
	cr_expect_str_eq(state_name(&w, now + 10 * TIMEOUT), "dead");
	stopping(100);
	cr_expect_str_eq(state_name(&w, now + 10 * TIMEOUT), "stopped");
}

Test(state, new_worker_has_a_name_too)
{
	cr_expect_str_eq(state_name(&w, now), "new");
}

static unsigned
event_now(enum state_event_type type)
{
	struct state_event ev = {.type = type, .now = now};
	return state_apply(&w, &ev);
}

/* WATCHDOG=trigger: dead at once, reported like a missed period, next report a period later. */
Test(state, trigger_declares_dead_now)
{
	beat(42, 1);
	now += 100 * MS;
	unsigned act = event_now(STATE_EV_TRIGGER);
	cr_expect_eq(act, STATE_ACT_TIMEOUT | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_DEAD);
	cr_expect_eq(w.missed, 1);
	cr_expect_eq(w.timeouts, 1);
	cr_expect_eq(w.due, now + TIMEOUT);
	/* Still silent a period later: a second missed period, as for any dead worker. */
	act = fire_when_due();
	cr_expect(act & STATE_ACT_TIMEOUT);
	cr_expect_eq(w.missed, 2);
	/* A heartbeat recovers it. */
	now += 10 * MS;
	cr_expect(beat(42, 2) & STATE_ACT_RECOVERED);
	cr_expect_eq(w.missed, 0);
}

/* A trigger for a name never seen heartbeating registers nothing. */
Test(state, trigger_from_a_stranger_does_nothing)
{
	cr_expect_eq(event_now(STATE_EV_TRIGGER), 0);
	cr_expect_eq(w.state, WORKER_NEW);
	cr_expect_eq(w.timeouts, 0);
}

/* WATCHDOG_USEC=: the deadline moves to last heartbeat + the new timeout. */
Test(state, retime_counts_from_the_last_heartbeat)
{
	beat(42, 1);
	uint64_t hb = now;
	now += 200 * MS;
	w.timeout = 2000 * MS;
	cr_expect_eq(event_now(STATE_EV_RETIME), STATE_ACT_ARM);
	cr_expect_eq(w.due, hb + 2000 * MS, "longer: from the heartbeat, not from now");
	w.timeout = 100 * MS;
	cr_expect_eq(event_now(STATE_EV_RETIME), STATE_ACT_ARM);
	cr_expect_eq(w.due, now, "already silent longer than the new timeout: judged now");
	unsigned act = timer();
	cr_expect(act & STATE_ACT_TIMEOUT, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_DEAD);
	/* Dead: the schedule stands; no re-arm from a retime. */
	uint64_t due = w.due;
	w.timeout = 5000 * MS;
	cr_expect_eq(event_now(STATE_EV_RETIME), 0);
	cr_expect_eq(w.due, due);
}

/*
 * --detect-exit: a process that ends is reported at once; its deadline
 * stands, so a name nobody heartbeats for again still times out.
 */
Test(state, exit_reported_at_once_deadline_stands)
{
	beat(42, 1);
	now += 50 * MS;
	unsigned act = event_now(STATE_EV_EXITED);
	cr_expect_eq(act, STATE_ACT_EXITED, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_EXITED);
	cr_expect_str_eq(state_name(&w, now), "exited");
	cr_expect_eq(w.timeouts, 0, "an exit is not a timeout");
	act = fire_when_due();
	cr_expect(act & STATE_ACT_TIMEOUT, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_DEAD, "silent past its deadline after the exit");
	cr_expect_eq(w.missed, 1);
	/* Its successor heartbeats: back, as a restart. */
	act = beat(43, 1);
	cr_expect(act & STATE_ACT_RECOVERED);
	cr_expect(act & STATE_ACT_RESTARTED);
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.restarts, 1);
}

/* A dead worker's exit changes nothing (it keeps being reported); after STOPPING=1 it is not news. */
Test(state, exit_after_dead_or_stopping)
{
	beat(42, 1);
	fire_when_due();
	cr_assert_eq(w.state, WORKER_DEAD);
	cr_expect_eq(event_now(STATE_EV_EXITED), 0);
	cr_expect_eq(w.state, WORKER_DEAD);
	cr_expect_eq(w.missed, 1);
	fresh();
	beat(42, 1);
	stopping(42);
	cr_expect_eq(event_now(STATE_EV_EXITED), 0, "the clean exit STOPPING=1 announced");
	cr_expect_eq(w.state, WORKER_STOPPED);
}

/* --intensity's mark shows while the worker is down, not while it runs. */
Test(state, failed_shows_while_down)
{
	beat(42, 1);
	w.failed = 1;
	cr_expect_str_eq(state_name(&w, now), "alive");
	event_now(STATE_EV_EXITED);
	cr_expect_str_eq(state_name(&w, now), "failed");
	w.failed = 0;
	cr_expect_str_eq(state_name(&w, now), "exited");
	w.failed = 1;
	fire_when_due();
	cr_expect_str_eq(state_name(&w, now), "failed");
}

/* An expected worker (a [worker NAME] section): missing, reported once when its grace ends. */
Test(state, an_expected_worker_is_missing_until_it_heartbeats)
{
	w.due = now + 30000 * MS; /* the grace, set by the caller */
	cr_expect_eq(event_now(STATE_EV_EXPECT), STATE_ACT_ARM);
	cr_expect_eq(w.state, WORKER_MISSING);
	cr_expect_eq(w.last_hb, now, "silent since it was expected");
	cr_expect_str_eq(state_name(&w, now), "expected");
	cr_expect_eq(event_now(STATE_EV_TRIGGER), 0, "nothing to trigger");
	cr_expect_eq(event_now(STATE_EV_STOPPING), 0, "nothing to stop");
	cr_expect_eq(event_now(STATE_EV_RETIME), 0, "no deadline to move");
	cr_expect_eq(w.state, WORKER_MISSING);

	now += 10000 * MS;
	cr_expect_eq(timer(), STATE_ACT_ARM, "early: wait for the rest of the grace");
	now += 20000 * MS;
	cr_expect_str_eq(state_name(&w, now), "missing");
	cr_expect_eq(timer(), STATE_ACT_MISSING | STATE_ACT_DISARM, "reported, once, no re-arm");
	cr_expect_eq(w.timeouts, 0);
	cr_expect_eq(w.missed, 0);

	now += 5000 * MS;
	unsigned act = beat(42, 1);
	cr_expect_eq(act, STATE_ACT_REGISTERED | STATE_ACT_ARM, "it came: registered as usual");
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.due, now + TIMEOUT);
	cr_expect_eq(event_now(STATE_EV_EXPECT), 0, "a worker seen is never missing again");
}

/*
 * A reload that shortens the timeout of a worker that heartbeats on time
 * (every 100ms, 2s down to 400ms): its deadline is its last heartbeat plus
 * the new timeout, still ahead, so no timeout; one that lengthens it (400ms
 * to 3s) for a worker silent for 350ms puts its deadline 3s after its last
 * heartbeat.
 */
Test(state, a_retime_counts_from_the_last_heartbeat)
{
	w.timeout = 2000 * MS;
	beat(42, 1);
	now += 100 * MS;
	beat(42, 2);
	uint64_t last = now;
	now += 60 * MS;
	w.timeout = 400 * MS;
	cr_expect_eq(event_now(STATE_EV_RETIME), STATE_ACT_ARM);
	cr_expect_eq(w.due, last + 400 * MS);
	now += 40 * MS;
	beat(42, 3);
	now = w.due;
	cr_expect_eq(timer(), STATE_ACT_TIMEOUT | STATE_ACT_ARM, "silent for the new timeout");
	cr_expect_eq(w.timeouts, 1);

	fresh();
	w.timeout = 400 * MS;
	beat(42, 1);
	last = now;
	now += 350 * MS;
	w.timeout = 3000 * MS;
	cr_expect_eq(event_now(STATE_EV_RETIME), STATE_ACT_ARM);
	cr_expect_eq(w.due, last + 3000 * MS);
	now = last + 400 * MS;
	cr_expect_eq(timer(), STATE_ACT_ARM, "the old deadline passes: not due yet");
	cr_expect_eq(w.timeouts, 0);
}

/*
 * WATCHDOG_USEC=0 turns the watchdog off, as systemd does: heartbeats still
 * count, no timer, a state of its own; WATCHDOG_USEC=N turns it on again,
 * counted from the last heartbeat; a new pid starts watched.
 */
Test(state, unwatched_until_it_asks_again)
{
	beat(42, 1);
	now += 100 * MS;
	unsigned act = event_now(STATE_EV_UNWATCH);
	cr_expect_eq(act, STATE_ACT_UNWATCHED | STATE_ACT_DISARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_UNWATCHED);
	cr_expect_str_eq(state_name(&w, now), "unwatched");
	now += 10 * TIMEOUT;
	cr_expect_eq(timer(), STATE_ACT_DISARM, "no timeout while unwatched");
	cr_expect_eq(w.timeouts, 0);
	act = beat(42, 2);
	cr_expect_eq(act, STATE_ACT_DISARM, "a heartbeat is counted, not timed: 0x%x", act);
	cr_expect_eq(w.state, WORKER_UNWATCHED);
	cr_expect_eq(w.heartbeats, 2);
	cr_expect_eq(w.last_seq, 2);
	uint64_t hb = now;
	now += 100 * MS;
	cr_expect_eq(event_now(STATE_EV_RETIME), 0, "a new timeout alone does not re-arm it");
	act = event_now(STATE_EV_WATCH);
	cr_expect_eq(act, STATE_ACT_WATCHED | STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_ALIVE);
	cr_expect_eq(w.due, hb + TIMEOUT, "from the last heartbeat");
	cr_expect_eq(event_now(STATE_EV_WATCH), 0, "already watched: nothing");
	/* Off again, then a new process behind the name: watched, a restart. */
	event_now(STATE_EV_UNWATCH);
	act = beat(43, 1);
	cr_expect(act & STATE_ACT_RESTARTED, "actions 0x%x", act);
	cr_expect(act & STATE_ACT_ARM, "actions 0x%x", act);
	cr_expect_eq(w.state, WORKER_ALIVE);
	/* A stopped or new worker is not turned off; an exit is still reported. */
	stopping(43);
	cr_expect_eq(event_now(STATE_EV_UNWATCH), 0);
	cr_expect_eq(w.state, WORKER_STOPPED);
	beat(43, 2);
	event_now(STATE_EV_UNWATCH);
	cr_expect_eq(event_now(STATE_EV_EXITED), STATE_ACT_EXITED);
}

Test(state, none_does_nothing)
{
	beat(42, 1);
	struct worker_core before = w;
	cr_expect_eq(event_now(STATE_EV_NONE), 0);
	cr_expect_eq(memcmp(&before, &w, sizeof(w)), 0);
}

/*
 * state_read_late: a heartbeat that arrived at START was read (and its timer
 * armed a whole timeout from then) waited us later.
 */
struct read_late_case {
	uint64_t timeout;
	uint64_t waited;
	uint64_t left; /* what the timer must be re-armed for, 0 for nothing */
	int moved;     /* the deadline moved to read + timeout */
};

ParameterizedTestParameters(state, read_late_rearms_or_moves_the_deadline)
{
	static struct read_late_case cases[] = {
	    /* below STATE_REARM_USEC: the machine's lateness, nothing to do */
	    {TIMEOUT, 0, 0, 0},
	    {TIMEOUT, 1, 0, 0},
	    {TIMEOUT, STATE_REARM_USEC - 1, 0, 0},
	    /* from STATE_REARM_USEC to under the timeout and the pause: the remainder */
	    {TIMEOUT, STATE_REARM_USEC, TIMEOUT - STATE_REARM_USEC, 0},
	    {TIMEOUT, 40 * MS, TIMEOUT - 40 * MS, 0},
	    {TIMEOUT, STATE_PAUSE_USEC - 1, TIMEOUT - STATE_PAUSE_USEC + 1, 0},
	    {50 * MS, 50 * MS - 1, 1, 0},
	    {2 * MS, STATE_REARM_USEC, 1 * MS, 0},
	    /* STATE_PAUSE_USEC or a whole timeout: it waited for us, judged from its read */
	    {TIMEOUT, STATE_PAUSE_USEC, 0, 1},
	    {TIMEOUT, TIMEOUT, 0, 1},
	    {TIMEOUT, 5 * TIMEOUT + 123, 0, 1},
	    {50 * MS, 50 * MS, 0, 1},
	    {50 * MS, 80 * MS, 0, 1},
	    /* a whole timeout counts before the re-arm's threshold */
	    {STATE_REARM_USEC / 2, STATE_REARM_USEC / 2, 0, 1},
	};
	return cr_make_param_array(struct read_late_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct read_late_case *c, state, read_late_rearms_or_moves_the_deadline)
{
	w.timeout = c->timeout;
	beat(100, 1);
	struct worker_core before = w;
	uint64_t read = START + c->waited;
	uint64_t left = state_read_late(&w, START, read);

	cr_expect_eq(left, c->left, "timeout %llu us, waited %llu us: left %llu us, want %llu",
	             (unsigned long long)c->timeout, (unsigned long long)c->waited,
	             (unsigned long long)left, (unsigned long long)c->left);
	uint64_t due = c->moved ? read + c->timeout : START + c->timeout;
	cr_expect_eq(w.due, due, "timeout %llu us, waited %llu us: due %llu, want %llu",
	             (unsigned long long)c->timeout, (unsigned long long)c->waited,
	             (unsigned long long)w.due, (unsigned long long)due);
	/* A re-arm is for the deadline from the arrival, not a whole timeout from the read. */
	if (left != 0)
		cr_expect_eq(read + left, START + c->timeout, "waited %llu us: re-armed off the grid",
		             (unsigned long long)c->waited);
	before.due = w.due;
	cr_expect_eq(memcmp(&before, &w, sizeof(w)), 0, "waited %llu us: more than due changed",
	             (unsigned long long)c->waited);
}

/* Only an alive worker's timer was armed from the read: the others keep theirs. */
Test(state, read_late_leaves_a_worker_not_alive_alone)
{
	static const uint64_t waits[] = {40 * MS, STATE_PAUSE_USEC, 5 * TIMEOUT};

	beat(100, 1);
	fire_when_due(); /* dead */
	for (int k = 0; k < 3; k++) {
		if (k == 1) {
			stopping(100);
		} else if (k == 2) {
			beat(100, 2);
			event_now(STATE_EV_UNWATCH);
		}
		for (size_t i = 0; i < ARRAY_LEN(waits); i++) {
			struct worker_core before = w;
			cr_expect_eq(state_read_late(&w, now, now + waits[i]), 0, "state %d, waited %llu us",
			             (int)w.state, (unsigned long long)waits[i]);
			cr_expect_eq(memcmp(&before, &w, sizeof(w)), 0, "state %d, waited %llu us: changed",
			             (int)w.state, (unsigned long long)waits[i]);
		}
	}
}

/* A read stamped before the arrival (clocks of two sources) is no wait at all. */
Test(state, read_late_before_the_arrival_is_no_wait)
{
	beat(100, 1);
	struct worker_core before = w;
	cr_expect_eq(state_read_late(&w, START, START - 5 * MS), 0);
	cr_expect_eq(memcmp(&before, &w, sizeof(w)), 0);
}
