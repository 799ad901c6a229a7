/*
 * state.c: the worker state machine. See state.h.
 *
 * The timer is re-armed from the last heartbeat's time on a fixed grid
 * (last_hb + k * timeout), never from "now", so repeated reports do not
 * drift; a timer that libevent fires a little early (it arms from its
 * cached loop time) is re-armed for the remainder instead of convicting
 * the worker before its deadline; and a timer that fires far too late
 * convicts nobody the first time in a silence: the lateness was ours
 * (STATE_PAUSE_USEC).
 */
#include "state.h"

static unsigned
on_heartbeat(struct worker_core *w, const struct state_event *ev)
{
	unsigned act = STATE_ACT_ARM;

	switch (w->state) {
	case WORKER_NEW:
	case WORKER_MISSING:
		act |= STATE_ACT_REGISTERED;
		break;
	case WORKER_DEAD:
	case WORKER_EXITED:
		act |= STATE_ACT_RECOVERED;
		break;
	case WORKER_STOPPED:
		act |= STATE_ACT_RESUMED;
		break;
	case WORKER_ALIVE:
	case WORKER_UNWATCHED:
		break;
	}
	if (ev->pid != 0 && w->pid != 0 && ev->pid != w->pid) {
		w->restarts++;
		act |= STATE_ACT_RESTARTED;
	} else if (w->state == WORKER_UNWATCHED) {
		/* Its watchdog is off (WATCHDOG_USEC=0): counted, never timed. */
		if (ev->pid != 0)
			w->pid = ev->pid;
		if (ev->has_seq)
			w->last_seq = ev->seq;
		w->heartbeats++;
		w->last_hb = ev->now;
		return STATE_ACT_DISARM;
	}
	if (ev->pid != 0)
		w->pid = ev->pid;
	if (ev->has_seq)
		w->last_seq = ev->seq;
	w->state = WORKER_ALIVE;
	w->heartbeats++;
	w->missed = 0;
	w->graced = 0;
	w->last_hb = ev->now;
	w->due = ev->now + w->timeout;
	return act;
}

static unsigned
on_stopping(struct worker_core *w, const struct state_event *ev)
{
	if (w->state == WORKER_MISSING)
		return 0; /* nothing to stop: it never came */
	if (ev->pid != 0)
		w->pid = ev->pid;
	w->state = WORKER_STOPPED;
	w->missed = 0;
	return STATE_ACT_STOPPED | STATE_ACT_DISARM;
}

static unsigned
on_timer(struct worker_core *w, const struct state_event *ev)
{
	if (w->state == WORKER_MISSING) /* its grace: reported once, when it ends */
		return ev->now < w->due ? STATE_ACT_ARM : STATE_ACT_MISSING | STATE_ACT_DISARM;
	if (w->state != WORKER_ALIVE && w->state != WORKER_DEAD && w->state != WORKER_EXITED)
		return STATE_ACT_DISARM;
	if (ev->now < w->due)
		return STATE_ACT_ARM; /* early: wait for the remainder */
	if (ev->now - w->due >= STATE_PAUSE_USEC && !w->graced) {
		/* Our own pause, not the worker's silence: judge it one period from now. */
		w->graced = 1;
		w->due = ev->now + w->timeout;
		return STATE_ACT_GRACE | STATE_ACT_ARM;
	}
	w->state = WORKER_DEAD;
	w->missed++;
	w->timeouts++;
	w->due = w->last_hb + (w->missed + 1) * w->timeout;
	/* Never in the past, whatever the lateness below STATE_PAUSE_USEC. */
	if (w->due <= ev->now)
		w->due = ev->now + w->timeout;
	return STATE_ACT_TIMEOUT | STATE_ACT_ARM;
}

/* The worker asked to be failed: a missed period now, reported like one. */
static unsigned
on_trigger(struct worker_core *w, const struct state_event *ev)
{
	if (w->state == WORKER_NEW || w->state == WORKER_MISSING)
		return 0;
	w->state = WORKER_DEAD;
	w->missed++;
	w->timeouts++;
	w->due = ev->now + w->timeout;
	return STATE_ACT_TIMEOUT | STATE_ACT_ARM;
}

/*
 * A new timeout counts from the last heartbeat, as systemd's does when
 * WATCHDOG_USEC= changes it: an alive worker already silent longer than the
 * new timeout is judged at once (the timer runs now). A dead or stopped
 * worker keeps its schedule; the new timeout applies from its next period.
 */
static unsigned
on_retime(struct worker_core *w, const struct state_event *ev)
{
	if (w->state != WORKER_ALIVE)
		return 0;
	w->due = w->last_hb + w->timeout;
	if (w->due < ev->now)
		w->due = ev->now;
	return STATE_ACT_ARM;
}

/*
 * The process ended. After STOPPING=1 that was the clean exit announced;
 * otherwise the worker is reported now, not a timeout later. Its deadline
 * stands: if nothing heartbeats for the name by then (a successor, or
 * another sender speaking for it), it times out as any silent worker.
 */
static unsigned
on_exited(struct worker_core *w, const struct state_event *ev)
{
	(void)ev;
	if (w->state != WORKER_ALIVE && w->state != WORKER_UNWATCHED)
		return 0;
	w->state = WORKER_EXITED;
	return STATE_ACT_EXITED;
}

/*
 * Expected from the configuration and not seen yet: missing, silent since
 * now, reported once when its grace ends at w->due (set by the caller).
 */
static unsigned
on_expect(struct worker_core *w, const struct state_event *ev)
{
	if (w->state != WORKER_NEW)
		return 0;
	w->state = WORKER_MISSING;
	w->last_hb = ev->now;
	return STATE_ACT_ARM;
}

/*
 * WATCHDOG_USEC=0: as systemd turns a service's watchdog off, the worker
 * gets no timeout (its heartbeats still count) until it sets one again; a
 * new process behind the name starts watched, as a restarted service does.
 */
static unsigned
on_unwatch(struct worker_core *w, const struct state_event *ev)
{
	(void)ev;
	if (w->state != WORKER_ALIVE && w->state != WORKER_DEAD && w->state != WORKER_EXITED)
		return 0;
	w->state = WORKER_UNWATCHED;
	w->missed = 0;
	w->graced = 0;
	return STATE_ACT_UNWATCHED | STATE_ACT_DISARM;
}

/* A timeout again: counted from the last heartbeat, as on_retime does. */
static unsigned
on_watch(struct worker_core *w, const struct state_event *ev)
{
	if (w->state != WORKER_UNWATCHED)
		return 0;
	w->state = WORKER_ALIVE;
	w->due = w->last_hb + w->timeout;
	if (w->due < ev->now)
		w->due = ev->now;
	return STATE_ACT_WATCHED | STATE_ACT_ARM;
}

unsigned
state_apply(struct worker_core *w, const struct state_event *ev)
{
	switch (ev->type) {
	case STATE_EV_NONE:
		return 0;
	case STATE_EV_HEARTBEAT:
		return on_heartbeat(w, ev);
	case STATE_EV_STOPPING:
		return on_stopping(w, ev);
	case STATE_EV_TIMER:
		return on_timer(w, ev);
	case STATE_EV_TRIGGER:
		return on_trigger(w, ev);
	case STATE_EV_RETIME:
		return on_retime(w, ev);
	case STATE_EV_EXITED:
		return on_exited(w, ev);
	case STATE_EV_EXPECT:
		return on_expect(w, ev);
	case STATE_EV_UNWATCH:
		return on_unwatch(w, ev);
	case STATE_EV_WATCH:
		return on_watch(w, ev);
	}
	return 0;
}

/*
 * The heartbeat's silence ended at its arrival (the kernel's stamp,
 * listener.c), while its caller armed the timer a whole timeout from
 * libevent's time, refreshed when the batch was read: late by as long as
 * the heartbeat waited in the socket. Usually microseconds; when it is more:
 *  - it waited a whole timeout or STATE_PAUSE_USEC: it waited for us (we
 *    were paused or starved) and, as for a timer we ran that late
 *    (on_timer), our delay convicts nobody. Its silence counts from its
 *    arrival, but it is judged a timeout after we read it, when the timer
 *    armed fires; left at arrival + timeout, that deadline would have
 *    passed unseen, and cost a grace period or a conviction before its
 *    next heartbeat, perhaps refused by our full queue, is read.
 *  - else, from STATE_REARM_USEC: re-armed for what is left, so that the
 *    first TIMEOUT is not late by the wait, and the next ones (on the grid
 *    from the arrival, on_timer) not early against it.
 */
uint64_t
state_read_late(struct worker_core *w, uint64_t arrived, uint64_t read)
{
	uint64_t waited = read > arrived ? read - arrived : 0;

	if (w->state != WORKER_ALIVE)
		return 0;
	if (waited >= STATE_PAUSE_USEC || waited >= w->timeout) {
		w->due = read + w->timeout;
		return 0;
	}
	if (waited >= STATE_REARM_USEC)
		return w->due - read;
	return 0;
}

const char *
state_name(const struct worker_core *w, uint64_t now)
{
	switch (w->state) {
	case WORKER_ALIVE:
		/* Alive but a heartbeat overdue by a whole interval: late, not yet dead. */
		if (w->interval != 0 && now > w->last_hb && now - w->last_hb > 2 * w->interval)
			return "late";
		return "alive";
	case WORKER_DEAD:
		return w->failed ? "failed" : "dead";
	case WORKER_STOPPED:
		return "stopped";
	case WORKER_EXITED:
		return w->failed ? "failed" : "exited";
	case WORKER_MISSING:
		return now < w->due ? "expected" : "missing";
	case WORKER_UNWATCHED:
		return "unwatched";
	case WORKER_NEW:
		break;
	}
	return "new";
}
