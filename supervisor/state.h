/*
 * state.h: a worker's state machine as one pure function. It reads and
 * writes a struct worker_core and returns the actions the caller must carry
 * out (log, send TIMEOUT, arm the timer); it never touches a clock, a
 * socket or libevent, so tests drive it with any time they like.
 */
#ifndef VIGIL_STATE_H
#define VIGIL_STATE_H

#include <stdint.h>

enum worker_state {
	WORKER_NEW = 0, /* created, no heartbeat applied yet */
	WORKER_ALIVE,
	WORKER_DEAD,
	WORKER_STOPPED,
	WORKER_EXITED, /* its process ended without STOPPING=1 (--detect-exit) */
	WORKER_MISSING, /* expected (a [worker NAME] section), not seen yet */
	WORKER_UNWATCHED, /* sent WATCHDOG_USEC=0: heartbeats counted, no timeout, until it asks again */
};
#define WORKER_NSTATES (WORKER_UNWATCHED + 1)

/* Everything the state machine knows about one worker. Times in monotonic usec. */
struct worker_core {
	enum worker_state state;
	unsigned failed : 1; /* over its --intensity: shown "failed" while not alive, no escalation */
	unsigned graced : 1; /* given a period of grace for our own pause in this silence */
	uint64_t pid; /* as the kernel vouched for it; 0 when unknown */
	uint64_t last_seq;
	uint64_t missed;     /* consecutive periods missed in the current silence */
	uint64_t timeouts;   /* periods declared missed, ever */
	uint64_t heartbeats; /* valid heartbeats received, ever */
	uint64_t restarts;   /* times the pid behind the name changed */
	uint64_t last_hb;    /* when the last heartbeat arrived */
	uint64_t timeout;    /* the silence that makes a worker dead */
	uint64_t interval;   /* the worker's own period, 0 if it did not say */
	uint64_t due;        /* when the timer must fire next, if armed */
};

enum state_event_type {
	STATE_EV_NONE, /* nothing to apply (state_apply returns 0) */
	STATE_EV_HEARTBEAT,
	STATE_EV_STOPPING,
	STATE_EV_TIMER,
	STATE_EV_TRIGGER, /* WATCHDOG=trigger: the worker asks to be declared dead now */
	STATE_EV_RETIME,  /* core->timeout changed (WATCHDOG_USEC=): re-arm from the last heartbeat */
	STATE_EV_EXITED,  /* the worker's process ended (its pidfd became readable) */
	STATE_EV_EXPECT,  /* a new worker is expected: missing, reported at core->due */
	STATE_EV_UNWATCH, /* WATCHDOG_USEC=0: no timeout for it, as systemd turns its watchdog off */
	STATE_EV_WATCH,   /* WATCHDOG_USEC=N again: watched, from its last heartbeat */
};

struct state_event {
	enum state_event_type type;
	uint64_t now;
	uint64_t pid; /* heartbeat and stopping: sender's pid, 0 if unknown */
	uint64_t seq; /* heartbeat: SEQ=, if has_seq */
	int has_seq;
};

/* Actions, as bits of state_apply()'s result. */
enum state_action {
	STATE_ACT_REGISTERED = 1u << 0, /* log: first heartbeat from this name */
	STATE_ACT_RECOVERED = 1u << 1,  /* log: a dead worker heartbeats again */
	STATE_ACT_RESTARTED = 1u << 2,  /* log: the name now has a new pid */
	STATE_ACT_RESUMED = 1u << 3,    /* log: a stopped worker heartbeats again */
	STATE_ACT_STOPPED = 1u << 4,    /* log: STOPPING=1 */
	STATE_ACT_TIMEOUT = 1u << 5,    /* log and send TIMEOUT: a period was missed */
	STATE_ACT_ARM = 1u << 6,        /* arm the timer to fire at core->due */
	STATE_ACT_DISARM = 1u << 7,     /* stop the timer */
	STATE_ACT_GRACE = 1u << 8,      /* log: we, not the worker, were late; one period of grace */
	STATE_ACT_EXITED = 1u << 9,     /* log: the process ended without STOPPING=1 */
	STATE_ACT_MISSING = 1u << 10,   /* log: an expected worker did not come in its grace */
	STATE_ACT_UNWATCHED = 1u << 11, /* log: WATCHDOG_USEC=0 turned its timeout off */
	STATE_ACT_WATCHED = 1u << 12,   /* log: watched again */
};

/*
 * A timer that runs this much after its deadline means the supervisor itself
 * was stopped or starved (SIGSTOP, a hung host, a CPU hog): the kernel may
 * have refused heartbeats while its socket was full. The worker is then
 * given one more period before it can be convicted, once per silence: a
 * worker whose silence already spanned one pause is judged at the next
 * expiry however late it runs, so that repeated pauses cannot hide a death.
 */
#define STATE_PAUSE_USEC 100000ULL

/* Apply one event to w; returns the STATE_ACT_* bits to carry out. */
unsigned state_apply(struct worker_core *w, const struct state_event *ev);

/* A wait in the socket below this is the machine's, not worth re-arming a timer for. */
#define STATE_REARM_USEC 1000ULL

/*
 * After a heartbeat that arrived at `arrived` but was read (and its timer
 * armed a whole timeout from then) at `read` >= arrived, for an alive w:
 * the time from read to w->due the caller must re-arm its timer for, if
 * it waited from STATE_REARM_USEC to under the timeout; else 0, the timer
 * stands, and if it waited a whole timeout or STATE_PAUSE_USEC, w->due is
 * moved to read + timeout, where that timer fires.
 */
uint64_t state_read_late(struct worker_core *w, uint64_t arrived, uint64_t read);

/*
 * The state name shown to users at time now: "alive", "late", "dead",
 * "exited", "stopped", "unwatched", or "failed" for a dead or exited worker over its
 * --intensity; an expected worker not seen yet is "expected" until its
 * startup grace ends (core->due), then "missing".
 */
const char *state_name(const struct worker_core *w, uint64_t now);

#endif
