/*
 * monitor.c: from messages and timer expiries to actions. See monitor.h.
 *
 * The heartbeat path (an alive worker heartbeating again) does a hash
 * lookup, a state transition and one event_add: no allocation, no log line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "claim.h"
#include "config.h"
#include "duration.h"
#include "escalate.h"
#include "events.h"
#include "fdbudget.h"
#include "identity.h"
#include "monitor.h"
#include "notify.h"
#include "report.h"
#include "supervisor.h"

#define MONITOR_TIMER_PRIORITY 1 /* below the sockets: drain heartbeats before judging */

static void monitor_apply(struct supervisor *sv, struct worker *w, const struct state_event *ev);
static void monitor_exit_cb(evutil_socket_t fd, short what, void *arg);
static void monitor_rival_cb(evutil_socket_t fd, short what, void *arg);

/*
 * The supervisor the timer and exit callbacks act for: there is one per
 * process, and a pointer to it in each worker would cost 8 bytes a worker.
 */
static struct supervisor *monitor_sv;


void
monitor_invalid(struct supervisor *sv, const struct vigil_wire_error *err, uint64_t now)
{
	char why[160];

	sv->counters.invalid[err->code]++;
	vigil_wire_describe(err, why, sizeof(why));
	log_ratelimited(&sv->rl_invalid, now, LOG_LEVEL_WARN, "dropped invalid datagram on %s: %s",
			sv->socket_name, why);
}

void
monitor_set_io(struct supervisor *sv, const struct monitor_io *io)
{
	sv->io = *io;
}

void
monitor_drain(struct supervisor *sv)
{
	if (sv->io.drain != NULL)
		sv->io.drain(sv->io.ctx);
}

void
monitor_expire(struct supervisor *sv, struct worker *w, uint64_t now)
{
	struct state_event ev = {.type = STATE_EV_TIMER, .now = now};

	if (now > w->core.due) {
		uint64_t late = now - w->core.due;
		if (late > sv->counters.timer_late_max)
			sv->counters.timer_late_max = late;
		/*
		 * Far past the deadline: the loop itself was stalled (SIGSTOP, a
		 * starved host). The state machine forgives each worker once per
		 * silence for it; the heartbeats that waited in the socket were read
		 * before this timer ran (the socket's priority is higher).
		 */
		if (late >= STATE_PAUSE_USEC) {
			sv->counters.stalls += now - sv->last_stall_seen >= STATE_PAUSE_USEC;
			sv->last_stall_seen = now;
			log_ratelimited(&sv->rl_pause, now, LOG_LEVEL_WARN,
					"the supervisor itself was paused or starved (a timer ran "
					"%" PRIu64 " ms late): every worker whose deadline fell in "
					"the pause gets one period of grace, once per silence",
					late / 1000);
		}
	}
	monitor_apply(sv, w, &ev);
}

/* A worker's timer expired. */
static void
monitor_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct supervisor *sv = monitor_sv;
	uint64_t now = vigil_now_usec();

	(void)fd;
	(void)what;
	event_base_update_cache_time(sv->base); /* after our clock read: see listener.c */
	monitor_expire(sv, w, now);
}

/*
 * The timeout this worker gets: the one it asked for (WATCHDOG_USEC=, as
 * systemd honours it), else its [worker NAME] section's, else what phi makes of its history (--timeout phi:T)
 * held to --timeout's range, else --timeout, else a multiple of its interval.
 */
uint64_t
monitor_timeout_for(const struct supervisor *sv, const struct worker *w)
{
	/* What a peer claims is held to --min-timeout: many names must not buy a spinning loop. */
	uint64_t floor = sv->set->min_timeout;
	if (w->watchdog_usec != 0)
		return w->watchdog_usec < floor ? floor : w->watchdog_usec;
	if (w->conf != NULL && (w->conf->given & CONFIG_W_TIMEOUT))
		return w->conf->timeout;
	if (w->phi != NULL) {
		uint64_t t = phi_timeout(w->phi, w->core.interval, &sv->set->phi);
		if (t != 0)
			return t < floor		    ? floor
			       : t > SUPERVISOR_TIMEOUT_MAX ? SUPERVISOR_TIMEOUT_MAX
							    : t;
	}
	if (sv->set->timeout != 0)
		return sv->set->timeout;
	if (w->core.interval != 0 && SUPERVISOR_INTERVAL_FACTOR * w->core.interval < floor)
		return floor;
	if (w->core.interval != 0)
		return SUPERVISOR_INTERVAL_FACTOR * w->core.interval;
	return SUPERVISOR_TIMEOUT_FALLBACK;
}

/* A name heartbeats for the first time: make room for it, or refuse. */
static struct worker *
monitor_register(struct supervisor *sv, const char *name, uint64_t now)
{
	struct worker *w = registry_add(&sv->registry, name, strlen(name));

	if (w == NULL) {
		if (errno == ENOSPC) {
			sv->counters.rejected_full++;
			log_ratelimited(&sv->rl_full, now, LOG_LEVEL_WARN,
					"refused new worker %s: --max-workers %zu reached", name,
					sv->set->max_workers);
		} else
			log_warn("cannot register worker %s", name);
		return NULL;
	}
	monitor_sv = sv;
	claim_set_callbacks(monitor_exit_cb, monitor_rival_cb);
	w->conf = sv->conf != NULL ? config_worker(sv->conf, w->name) : NULL;
	if (sv->set->phi.threshold != 0 && (w->phi = calloc(1, sizeof(*w->phi))) == NULL) {
		log_warn("cannot register worker %s", name);
		registry_remove(&sv->registry, w);
		return NULL;
	}
	if (event_assign(w->timer, sv->base, -1, 0, monitor_timer_cb, w) == -1 ||
	    event_priority_set(w->timer, MONITOR_TIMER_PRIORITY) == -1) {
		log_warnx("cannot create a timer for worker %s", name);
		registry_remove(&sv->registry, w);
		return NULL;
	}
	return w;
}

/* Remember what the message tells about the worker beyond the state machine. */
static void
monitor_note(struct worker *w, const struct vigil_msg *m, const struct monitor_sender *from)
{
	/* Clamped, so that no claim of a peer can overflow a deadline. */
	if (m->fields & VIGIL_F_INTERVAL_MS)
		w->core.interval = (m->interval_ms < SUPERVISOR_INTERVAL_MAX_MS
					? m->interval_ms
					: SUPERVISOR_INTERVAL_MAX_MS) * 1000;
	/*
	 * WATCHDOG_USEC=0 goes back to the supervisor's timeout; otherwise held
	 * to --timeout's own range (1ms to 168h), so that no claim can make the
	 * supervisor spin on a microsecond timer or overflow a deadline.
	 */
	if (m->fields & VIGIL_F_WATCHDOG_USEC) {
		uint64_t u = m->watchdog_usec;
		if (u != 0 && u < SUPERVISOR_TIMEOUT_MIN)
			u = SUPERVISOR_TIMEOUT_MIN;
		if (u > SUPERVISOR_TIMEOUT_MAX)
			u = SUPERVISOR_TIMEOUT_MAX;
		w->watchdog_usec = u;
	}
	if ((m->fields & VIGIL_F_STATUS) && registry_set_status(w, m->status, m->status_len) == -1)
		log_warn("cannot keep the status of worker %s", w->name);
	/* Only a named sender can be answered; keep the newest such address. */
	if (from->addrlen > offsetof(struct sockaddr_un, sun_path) &&
	    registry_set_addr(w, from->addr, from->addrlen) == -1)
		log_warn("cannot keep the address of worker %s", w->name);
}

/*
 * The name a message speaks for, into name: its WORKER=, or for an sd_notify
 * message without one (no HEARTBEAT=1, which is ours and needs WORKER=), the
 * sender's service or pid as the kernel vouched for it. Returns its length,
 * -1 if there is none, -2 (errno set) if the sender's cgroup cannot be read.
 */
static int
monitor_name(const struct vigil_msg *m, const struct monitor_sender *from, char *name, size_t cap)
{
	if (m->fields & VIGIL_F_WORKER) {
		/* The decoder measured it (a copy, not snprintf: this is every heartbeat). */
		size_t n = m->worker_len != 0 ? m->worker_len : strnlen(m->worker, VIGIL_NAME_MAX);
		if (n >= cap)
			n = cap - 1;
		memcpy(name, m->worker, n);
		name[n] = '\0';
		return (int)n;
	}
	if ((m->fields & VIGIL_F_HEARTBEAT) || !from->has_creds || from->pid == 0)
		return -1;
	if (identity_name(from->pid, name, cap) == -1)
		return -2;
	return (int)strlen(name);
}

/* Whether a policy has a signal step. */
static int
monitor_policy_signals(const struct policy *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->step[i].sig != 0)
			return 1;
	return 0;
}

int
monitor_wants_pidfds(const struct supervisor *sv)
{
	if (sv->set->detect_exit || monitor_policy_signals(&sv->set->policy))
		return 1;
	for (size_t i = 0; sv->conf != NULL && i < sv->conf->nworkers; i++) {
		const struct config_worker *cw = &sv->conf->workers[i];
		if ((cw->given & CONFIG_W_POLICY) && monitor_policy_signals(cw->policy))
			return 1;
	}
	return 0;
}

/* Whether w's process must be held by a pidfd: a policy may signal it, or its exit is watched. */
static int
monitor_wants_pidfd(const struct supervisor *sv, const struct worker *w)
{
	return sv->set->detect_exit || monitor_policy_signals(escalate_policy(sv, w));
}

/* A message from w's rival claimant: a heartbeat is noted (the conflict reported once), no more. */
static void
monitor_rival(struct supervisor *sv, struct worker *w, enum vigil_msg_kind kind, uint64_t pid,
	      uint64_t now)
{
	sv->counters.conflict_beats++;
	if (kind == VIGIL_MSG_STOPPING && w->claim != NULL && w->claim->rival_pid == pid) {
		log_info("worker %s: its rival claimant pid %" PRIu64 " stopped", w->name, pid);
		registry_drop_rival(w);
		return;
	}
	if (kind != VIGIL_MSG_HEARTBEAT)
		return;
	int fresh = claim_rival_heartbeat(sv, w, pid, now);
	if (fresh == 1)
		report_event_of(sv, SV_EVENT_CONFLICT, w, w->core.pid, pid, now, &sv->rl_restart,
				LOG_LEVEL_WARN,
				"worker %s: conflict: pid %" PRIu64 " heartbeats for the name while "
				"pid %" PRIu64 " holds it and lives; its heartbeats count for "
				"nothing, and the silence of either is reported",
				w->name, pid, w->core.pid);
	else if (fresh == -1)
		log_ratelimited(&sv->rl_restart, now, LOG_LEVEL_WARN,
				"worker %s: cannot track rival claimant pid %" PRIu64 ": out of memory",
				w->name, pid);
}

/*
 * The pid a message from `from` speaks for w with (claim.h): the sender's,
 * its service's main process for a name from its unit, w's own for a
 * helper; UINT64_MAX for a rival claimant's, which was handled here.
 */
static uint64_t
monitor_claimant(struct supervisor *sv, struct worker *w, const struct vigil_msg *m,
		 const struct monitor_sender *from, enum vigil_msg_kind kind, const char *name,
		 uint64_t now)
{
	int unit = !(m->fields & VIGIL_F_WORKER) && strncmp(name, "pid-", 4) != 0;
	uint64_t pid = from->pid;

	if (pid == 0 || pid == w->core.pid)
		return pid;
	if (unit)
		pid = identity_main_pid(pid, name);
	if (pid != w->core.pid && w->core.pid != 0 && w->pid_vouched) {
		switch (claim_judge(sv, w, pid, unit)) {
		case CLAIM_HOLDER:
			break;
		case CLAIM_HELPER:
			pid = w->core.pid;
			break;
		case CLAIM_RIVAL:
			monitor_rival(sv, w, kind, pid, now);
			return UINT64_MAX;
		}
	}
	if (pid != from->pid)
		sv->counters.helper_pings++;
	return pid;
}

void
monitor_message(struct supervisor *sv, const struct vigil_msg *m,
		const struct monitor_sender *from, uint64_t now, uint64_t read)
{
	enum vigil_msg_kind kind = vigil_wire_kind(m);
	struct vigil_wire_error err = {0};
	struct state_event ev = {.now = now};
	char name[VIGIL_NAME_MAX + 1];
	int namelen;

	if (m->ignored != 0) {
		/* As systemd does: the line is ignored, the rest of the message counts. */
		sv->counters.ignored_lines += m->ignored;
		if (log_get_level() >= LOG_LEVEL_DEBUG)
			log_ratelimited(&sv->rl_invalid, now, LOG_LEVEL_DEBUG,
					"ignored %u line(s) of a datagram from pid %" PRIu64
					" on %s, the first (line %u): %s",
					(unsigned)m->ignored, from->pid, sv->socket_name,
					(unsigned)m->ignored_line,
					vigil_wire_skip_name((enum vigil_wire_skip)m->ignored_why));
	}
	if (kind == VIGIL_MSG_QUIET)
		return; /* MAINPID=, ERRNO=, RELOADING=1, X_*...: valid, nothing for us */
	if (kind == VIGIL_MSG_NONE || kind == VIGIL_MSG_TIMEOUT) {
		/* TIMEOUT is for workers, and a message with no verb asks nothing. */
		err.code = VIGIL_WIRE_NO_MESSAGE;
		monitor_invalid(sv, &err, now);
		return;
	}
	if ((namelen = monitor_name(m, from, name, sizeof(name))) < 0) {
		/* Nameless news from a sender already gone asks nothing of anyone. */
		if (kind != VIGIL_MSG_HEARTBEAT && !(m->fields & VIGIL_F_HEARTBEAT))
			return;
		if (namelen == -2) {
			/* Not "no WORKER=": say what could not be read, and why. */
			int e = errno;
			sv->counters.invalid[VIGIL_WIRE_NO_CGROUP]++;
			log_ratelimited(&sv->rl_invalid, now, LOG_LEVEL_WARN,
					"dropped a heartbeat without WORKER= from pid %" PRIu64
					" (uid %" PRIu64 "): cannot read /proc/%" PRIu64
					"/cgroup to name it after its service: %s%s",
					from->pid, from->uid, from->pid, strerror(e),
					e == ENOENT ? " (gone already, or hidden from the supervisor: "
						      "hidepid, ProtectProc=invisible)"
						    : "");
			return;
		}
		err.code = VIGIL_WIRE_NO_WORKER;
		monitor_invalid(sv, &err, now);
		return;
	}

	struct worker *w = registry_find(&sv->registry, name, (size_t)namelen);
	/* An expected worker not seen yet (missing) is nobody's: its first heartbeat registers it. */
	if (w == NULL || w->core.state == WORKER_MISSING) {
		if (kind != VIGIL_MSG_HEARTBEAT)
			return; /* a stranger's goodbye, trigger or news: nothing to track */
		if (!from->has_creds || !allow_check(&sv->set->allow, (pid_t)from->pid,
						     (uid_t)from->uid, (gid_t)from->gid)) {
			sv->counters.senders_refused++;
			log_ratelimited(&sv->rl_refused, now, LOG_LEVEL_WARN,
					"refused worker %s from pid %" PRIu64 " uid %" PRIu64
					": not on the allow-list (--allow-user, --allow-group)",
					name, from->pid, from->uid);
			return;
		}
		if (w == NULL && (w = monitor_register(sv, name, now)) == NULL)
			return;
		w->owner = (uid_t)from->uid;
	} else if ((uid_t)from->uid != w->owner) {
		/* Only the uid that registered a name speaks for it: no one resets its timer. */
		sv->counters.impersonations++;
		log_ratelimited(&sv->rl_refused, now, LOG_LEVEL_WARN,
				"refused message for worker %s from uid %" PRIu64 " (pid %" PRIu64
				"): the name belongs to uid %u",
				name, from->uid, from->pid, (unsigned)w->owner);
		return;
	}
	/* Whose message: the name's process, its successor, a helper or a rival (claim.h). */
	uint64_t pid = monitor_claimant(sv, w, m, from, kind, name, now);
	if (pid == UINT64_MAX)
		return; /* a rival's: it keeps nothing alive */
	uint64_t timeout = w->core.timeout, pid_before = w->core.pid;
	monitor_note(w, m, from);
	/*
	 * Identity comes from the kernel; PID= is only a fallback without
	 * credentials, for display: nothing is signalled or watched on its word.
	 */
	ev.pid = pid != 0 ? pid : ((m->fields & VIGIL_F_PID) ? m->pid : 0);
	if (kind == VIGIL_MSG_HEARTBEAT && w->core.heartbeats > 0 && now > w->core.last_hb)
		registry_note_interval(w, now - w->core.last_hb);
	/* --timeout phi:T: the silence this heartbeat ends joins the history first. */
	if (w->phi != NULL && kind == VIGIL_MSG_HEARTBEAT && w->watchdog_usec == 0)
		phi_observe(w->phi, &w->core, ev.pid, now);
	w->core.timeout = monitor_timeout_for(sv, w);

	if (ev.pid != 0)
		w->pid_vouched = from->pid != 0;
	ev.seq = m->seq;
	ev.has_seq = (m->fields & VIGIL_F_SEQ) != 0;
	if (ev.has_seq && kind == VIGIL_MSG_HEARTBEAT && ev.pid == pid_before &&
	    w->core.heartbeats > 0 && ev.seq < w->core.last_seq) {
		/* The same process went back: a bug or a replay, worth a look; taken all the same. */
		sv->counters.seq_resets++;
		log_ratelimited(&sv->rl_seq, now, LOG_LEVEL_WARN,
				"worker %s: SEQ went back from %" PRIu64 " to %" PRIu64
				" (pid %" PRIu64 ", counted in seq_resets)",
				name, w->core.last_seq, ev.seq, ev.pid);
	}
	switch (kind) {
	case VIGIL_MSG_STOPPING:
		ev.type = STATE_EV_STOPPING;
		break;
	case VIGIL_MSG_TRIGGER:
		report_event(sv, SV_EVENT_TRIGGER, w, now, 0, &sv->rl_timeouts, LOG_LEVEL_WARN,
			     "worker %s asked to be declared dead (WATCHDOG=trigger)", name);
		ev.type = STATE_EV_TRIGGER;
		break;
	case VIGIL_MSG_UPDATE:
		/* STATUS= or BARRIER=1: noted, nothing to judge */
		ev.type = w->core.timeout == timeout ? STATE_EV_NONE : STATE_EV_RETIME;
		break;
	default:
		ev.type = STATE_EV_HEARTBEAT;
		break;
	}
	if (ev.type != STATE_EV_NONE)
		monitor_apply(sv, w, &ev);
	/* WATCHDOG_USEC=0 turns the watchdog off, WATCHDOG_USEC=N on again, after the rest. */
	if (m->fields & VIGIL_F_WATCHDOG_USEC) {
		struct state_event sw = {.type = m->watchdog_usec == 0 ? STATE_EV_UNWATCH
								       : STATE_EV_WATCH,
					 .now = now};
		monitor_apply(sv, w, &sw);
	}
	/* A process that just took the name is tied to it now; a kept one may lack its pidfd. */
	if (w->pid_vouched && w->core.pid != 0 &&
	    (w->core.pid != pid_before ||
	     ((w->start_time == 0 || w->start_time == CLAIM_GONE) && w->core.pid == pid)))
		claim_join(sv, w, now, from->pid, from->pidfd, monitor_wants_pidfd(sv, w));
	else if (w->pid_vouched && w->core.pid != 0 && registry_pidfd(w) == -1 &&
		 monitor_wants_pidfd(sv, w))
		claim_keep(sv, w, from->pid, from->pidfd);
	/*
	 * A heartbeat that waited in the socket: its timer, armed from when it
	 * was read, again for what is left from its arrival (state_read_late).
	 */
	uint64_t left;
	if (ev.type == STATE_EV_HEARTBEAT && (left = state_read_late(&w->core, now, read)) != 0) {
		struct timeval tv = {.tv_sec = (time_t)(left / 1000000),
				     .tv_usec = (suseconds_t)(left % 1000000)};
		/* libevent's cached time was taken just after read: never early. */
		event_add(w->timer, &tv);
	}
}

/* --detect-exit: the worker's process ended (its pidfd is readable). */
static void
monitor_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct supervisor *sv = monitor_sv;
	struct state_event ev = {.type = STATE_EV_EXITED, .now = vigil_now_usec()};

	(void)fd;
	(void)what;
	registry_unwatch_exit(w);
	w->start_time = CLAIM_GONE; /* whatever takes its pid next is not it */
	monitor_apply(sv, w, &ev);
}

/*
 * --detect-exit: watch w's process through the pidfd kept for it (claim.h),
 * or one taken now. At the timers' priority, below the sockets, so that a
 * STOPPING=1 sent just before a clean exit is read first.
 */
static void
monitor_watch_exit(struct supervisor *sv, struct worker *w, uint64_t now)
{
	/*
	 * Beyond the descriptor budget its timer alone supervises it, so that
	 * pidfds never take what the control socket, /metrics and a reload need.
	 * Counted once until it is watched; tried again at its next heartbeat.
	 */
	if (registry_pidfd(w) == -1 && claim_keep(sv, w, 0, -1) == -1) {
		if (errno == ENOSPC) {
			if (!w->exit_unwatched) {
				w->exit_unwatched = 1;
				if (sv->counters.exits_unwatched++ == 0)
					log_warnx("--detect-exit: descriptor budget reached (%zu "
						  "watched, limit %zu): further workers are not "
						  "watched for exit; raise LimitNOFILE=",
						  fdbudget_held(), fdbudget_limit());
			}
		} else if (errno == ESRCH) {
			/* Gone between its datagram and now. */
			struct state_event ev = {.type = STATE_EV_EXITED, .now = now};
			monitor_apply(sv, w, &ev);
		} else if (errno != EMFILE && errno != EAGAIN) {
			/* (EMFILE, EAGAIN: tried again at its next heartbeat) */
			log_ratelimited(&sv->rl_exit, now, LOG_LEVEL_WARN,
					"cannot watch worker %s (pid %" PRIu64 ") for its exit: %s",
					w->name, w->core.pid, strerror(errno));
		}
		return;
	}
	w->exit_unwatched = 0;
	if (event_add(w->claim->exit_ev, NULL) == -1)
		log_ratelimited(&sv->rl_exit, now, LOG_LEVEL_WARN,
				"cannot watch worker %s (pid %" PRIu64 ") for its exit", w->name,
				w->core.pid);
}

/* A rival claimant fell silent for the name's timeout: its death is reported, the conflict ends. */
static void
monitor_rival_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct supervisor *sv = monitor_sv;
	uint64_t now = vigil_now_usec(), pid = w->claim->rival_pid;
	char d[32];

	(void)fd;
	(void)what;
	vigil_duration_format(w->core.timeout, d, sizeof(d));
	report_event_of(sv, SV_EVENT_TIMEOUT, w, pid, w->core.pid, now, &sv->rl_timeouts,
			LOG_LEVEL_WARN,
			"worker %s: its rival claimant pid %" PRIu64 " timed out (timeout %s, "
			"%" PRIu64 " heartbeats); pid %" PRIu64 " keeps the name",
			w->name, pid, d, w->claim->rival_beats, w->core.pid);
	registry_drop_rival(w);
}

void
monitor_forget(struct supervisor *sv, struct worker *w)
{
	uint64_t now = vigil_now_usec();

	report_event(sv, SV_EVENT_FORGOTTEN, w, now, 0, NULL, LOG_LEVEL_INFO,
		     "worker %s forgotten (was %s)", w->name, state_name(&w->core, now));
	events_drop_worker(&sv->events, w->name);
	if (w->core.state != WORKER_NEW)
		sv->by_state[w->core.state]--;
	registry_remove(&sv->registry, w);
	notify_status(sv);
}

/*
 * Step 2: another process behind the name (by a heartbeat or a
 * STOPPING=1): what we knew of the old one goes. A policy that signals
 * needs the new one's start time; an exit watch is set again once the new
 * pid has proven itself with a second heartbeat (step 7).
 */
static void
monitor_track_pid(struct supervisor *sv, struct worker *w, uint64_t pid_before)
{
	(void)sv;
	if (w->core.pid == pid_before)
		return;
	w->start_time = 0; /* until claim_join ties the new process to the name */
	registry_unwatch_exit(w);
	registry_drop_rival(w);
	w->exit_unwatched = 0; /* the new process is counted anew if it cannot be watched */
}

/* Step 5: the timer, to fire at core.due, or stopped. */
static void
monitor_arm(struct supervisor *sv, struct worker *w, unsigned act, uint64_t now)
{
	const struct worker_core *c = &w->core;

	if (act & STATE_ACT_DISARM)
		event_del(w->timer);
	if (!(act & STATE_ACT_ARM))
		return;
	uint64_t left = c->due > now ? c->due - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(left / 1000000),
			     .tv_usec = (suseconds_t)(left % 1000000)};
	/*
	 * Re-adding a pending event just moves its deadline: no allocation. A
	 * whole timeout (after a heartbeat) goes through its common timeout's
	 * queue, O(1); a remainder goes to the heap, and so do phi's timeouts,
	 * new to the microsecond at every heartbeat: they would fill libevent's
	 * 256 common timeouts with values used once.
	 */
	const struct timeval *ctv =
	    left == c->timeout && w->phi == NULL ? ctimeout_get(&sv->ctimeouts, left) : NULL;
	event_add(w->timer, ctv != NULL ? ctv : &tv);
}

/* The counts by state, when the state changed; whether it did. */
static int
monitor_count(struct supervisor *sv, const struct worker *w, enum worker_state before)
{
	if (w->core.state == before)
		return 0;
	if (before != WORKER_NEW)
		sv->by_state[before]--;
	sv->by_state[w->core.state]++;
	return 1;
}

/* Step 6: the counts by state, and systemd's STATUS= line, when the state changed. */
static void
monitor_count_state(struct supervisor *sv, const struct worker *w, enum worker_state before)
{
	if (monitor_count(sv, w, before))
		notify_status(sv);
}

/*
 * Apply one event to w and carry out what the state machine asks, in this
 * order, each step a function:
 *   1. report_transition: the transition's events (registered, restarted, ...),
 *      so that what follows is told after the news that caused it;
 *   2. monitor_track_pid: a new process behind the name forgets the old
 *      one's start time and exit watch, before any signal could reach it;
 *   3. escalate_incident: --intensity counts a new silence, a restart or an
 *      exit, and may mark w failed, which step 4 reads;
 *   4. escalate_timeout: a missed period is logged, told to the worker
 *      (TIMEOUT) and escalated by the policy;
 *   5. monitor_arm: the timer;
 *   6. monitor_count_state: the counts by state, STATUS= for systemd;
 *   7. monitor_watch_exit, last, because it may re-enter: a process found
 *      gone already applies STATE_EV_EXITED to w, a nested monitor_apply
 *      that runs these steps again on a w whose own steps are complete.
 */
static void
monitor_apply(struct supervisor *sv, struct worker *w, const struct state_event *ev)
{
	const struct worker_core *c = &w->core;
	enum worker_state before = c->state;
	uint64_t pid_before = c->pid;
	unsigned act = state_apply(&w->core, ev);
	uint64_t now = ev->now;

	if (act & REPORT_ACTS)
		report_transition(sv, w, act, now);
	monitor_track_pid(sv, w, pid_before);
	if (((act & STATE_ACT_TIMEOUT) && c->missed == 1) ||
	    (act & (STATE_ACT_RESTARTED | STATE_ACT_EXITED)))
		escalate_incident(sv, w, now);
	if (act & STATE_ACT_TIMEOUT)
		escalate_timeout(sv, w, now);
	monitor_arm(sv, w, act, now);
	monitor_count_state(sv, w, before);
	/*
	 * The process is watched for its exit from its second heartbeat, so
	 * that a one-shot sender (socat, systemd-notify: a new pid every time)
	 * is never mistaken for a worker that exited; never on a pid only claimed.
	 */
	if (sv->set->detect_exit && w->pid_vouched && c->pid != 0 && c->pid == pid_before &&
	    ev->type == STATE_EV_HEARTBEAT &&
	    (w->claim == NULL || w->claim->exit_ev == NULL ||
	     !event_pending(w->claim->exit_ev, EV_READ, NULL)))
		monitor_watch_exit(sv, w, now);
}

void
monitor_shutdown(struct supervisor *sv)
{
	struct registry *r = &sv->registry;
	struct worker **list;
	uint64_t now = vigil_now_usec();

	report_shutdown(sv);
	if (log_get_level() < LOG_LEVEL_DEBUG || r->count == 0 ||
	    (list = calloc(r->count, sizeof(*list))) == NULL)
		return;
	size_t n = registry_list(r, list, r->count);
	for (size_t i = 0; i < n; i++)
		log_debug("at shutdown: worker %s %s, pid %" PRIu64 ", last seq %" PRIu64,
			  list[i]->name, state_name(&list[i]->core, now), list[i]->core.pid,
			  list[i]->core.last_seq);
	free(list);
}

struct worker *
monitor_adopt(struct supervisor *sv, const char *name, size_t len, uint64_t now)
{
	char copy[VIGIL_NAME_MAX + 1];

	if (len > VIGIL_NAME_MAX)
		return NULL;
	memcpy(copy, name, len);
	copy[len] = '\0';
	return monitor_register(sv, copy, now);
}

void
monitor_restored(struct supervisor *sv, struct worker *w, int arm, uint64_t now)
{
	const struct worker_core *c = &w->core;

	report_event(sv, SV_EVENT_RESTORED, w, now, 0, &sv->rl_restart, LOG_LEVEL_INFO,
		     "worker %s restored (%s, pid %" PRIu64 ", seq %" PRIu64 ", timeouts %" PRIu64
		     ", restarts %" PRIu64 ")",
		     w->name, state_name(c, now), c->pid, c->last_seq, c->timeouts, c->restarts);
	monitor_arm(sv, w, arm ? STATE_ACT_ARM : 0, now);
	monitor_count(sv, w, WORKER_NEW); /* STATUS= once, after all (restore_apply) */
	/*
	 * A process proven the one recorded (restore.c) is held again as a
	 * heartbeat would hold it: a worker that sends no more heartbeats
	 * (unwatched) is still watched for its exit, one found gone has exited.
	 */
	if (!w->pid_vouched || c->pid == 0 ||
	    (c->state != WORKER_ALIVE && c->state != WORKER_UNWATCHED && c->state != WORKER_DEAD))
		return;
	if (sv->set->detect_exit)
		monitor_watch_exit(sv, w, now);
	else if (monitor_wants_pidfd(sv, w))
		claim_keep(sv, w, 0, -1);
}

struct worker *
monitor_expect(struct supervisor *sv, const char *name, uint64_t now)
{
	struct worker *w = monitor_register(sv, name, now);
	struct state_event ev = {.type = STATE_EV_EXPECT, .now = now};

	if (w == NULL)
		return NULL;
	w->core.timeout = monitor_timeout_for(sv, w);
	w->core.due = now + sv->set->startup_grace;
	monitor_apply(sv, w, &ev);
	return w;
}

void
monitor_reconfigure(struct supervisor *sv, struct worker *w, uint64_t now)
{
	uint64_t timeout = monitor_timeout_for(sv, w);
	struct state_event ev = {.type = STATE_EV_RETIME, .now = now};

	/* A policy that now signals needs a hold on the process it may signal. */
	if (w->pid_vouched && w->core.pid != 0 && monitor_wants_pidfd(sv, w))
		claim_keep(sv, w, 0, -1);
	if (timeout == w->core.timeout)
		return;
	w->core.timeout = timeout;
	monitor_apply(sv, w, &ev);
}
