/*
 * registry.h: the supervisor's table of workers, found by name through a
 * hash table with a fixed bucket array sized from the worker limit. A worker
 * is one allocation, made when its name first heartbeats: the struct, its
 * name and the storage of its timer event; its address and STATUS= text are
 * allocated to size when the worker first sends them, and its interval
 * history (phi.h) at registration, only under --timeout phi:T. Nothing on
 * the heartbeat path allocates. docs/PERFORMANCE.md gives the bytes per worker.
 */
#ifndef VIGIL_REGISTRY_H
#define VIGIL_REGISTRY_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "policy.h"
#include "state.h"
#include "status.h"
#include "wire.h"

struct event;
struct phi_hist;
struct config_worker;

/*
 * What a worker holds of the processes behind its name beyond the pid,
 * allocated only when there is something to hold (claim.h decides): the
 * process's pidfd, and a second live process that heartbeats for the name.
 */
struct worker_claim {
	struct event *exit_ev;     /* on its process's pidfd, which it owns; added under
				      --detect-exit (readable when the process ends); NULL: none */
	struct event *rival_timer; /* the rival's silence; NULL: no rival */
	uint64_t rival_pid;        /* the rival claimant, as the kernel vouched for it */
	uint64_t rival_start;      /* its start time (/proc/PID/stat), to tell it alive */
	uint64_t rival_last_hb;    /* monotonic usec */
	uint64_t rival_beats;      /* heartbeats it sent, none of which counted */
};

#define REGISTRY_INTERVALS 4 /* inter-arrival times kept per worker, for status NAME */

struct worker {
	struct worker *next; /* hash chain */
	struct worker_core core;
	struct event *timer;      /* storage in this allocation; see registry_add */
	struct worker_claim *claim; /* its process's pidfd, a rival claimant; NULL: neither */
	struct sockaddr_un *addr; /* where TIMEOUT goes: the heartbeats' source; NULL: none */
	char *status;             /* STATUS= text, printable; NULL until the worker sends one */
	struct phi_hist *phi;     /* --timeout phi:T: its intervals, allocated at registration */
	const struct config_worker *conf; /* its [worker NAME] section; NULL: the global settings */
	uint64_t watchdog_usec;   /* the timeout the worker asked for (WATCHDOG_USEC=); 0: none */
	uint64_t start_time;      /* its process's start (/proc/PID/stat), if a policy signals */
	struct intensity_count incidents; /* --intensity: silences, restarts, exits in a window */
	uid_t owner;              /* the uid that registered the name: only it may speak for it */
	uint32_t intervals[REGISTRY_INTERVALS]; /* the last inter-arrivals, usec (saturated) */
	uint8_t addrlen;          /* bytes of *addr (a sockaddr_un: at most 110) */
	/* Bits, so that a worker with the longest name still fits 512 bytes (test_registry). */
	uint8_t nintervals : 3;   /* how many of intervals[] are known */
	uint8_t next_interval : 2; /* where the next one goes */
	uint8_t pid_vouched : 1;  /* core.pid came from the kernel (SCM_CREDENTIALS), not PID= */
	uint8_t removed : 1;      /* removed while a walk was pinned: only its name is valid */
	uint8_t exit_unwatched : 1; /* --detect-exit: not watched, the descriptor budget spent */
	char name[];              /* NUL-terminated, at most VIGIL_NAME_MAX bytes before it */
};

struct registry {
	struct worker **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	size_t max;
	unsigned pins;          /* walks in progress (walk.h): removals are deferred */
	struct worker *removed; /* removed while pinned, freed at the last unpin */
};

/* Prepare an empty registry for at most max workers; -1 if out of memory. */
int registry_init(struct registry *r, size_t max);

/* Free every worker (and its timer) and the table. */
void registry_free(struct registry *r);

/* The worker called name (len bytes), or NULL. */
struct worker *registry_find(const struct registry *r, const char *name, size_t len);

/*
 * Start loading from memory what registry_find(r, name, len) and a
 * heartbeat will touch: the worker at the head of the name's bucket, its
 * struct, name and timer. Called for every name of a batch before the
 * first lookup, it lets their cache misses overlap instead of following one
 * another (docs/PERFORMANCE.md: 5-10% of the supervisor's CPU at 100 000
 * workers; about 10 ns lost at 1 000, where all is in cache). Changes
 * nothing.
 */
void registry_prefetch(const struct registry *r, const char *name, size_t len);

/*
 * Add a new worker called name (which must not exist yet), zeroed. Its
 * timer points to storage for a struct event that the caller sets up with
 * event_assign(); until then event_initialized() is false for it. Returns
 * NULL if the registry is full (errno ENOSPC) or memory ran out (ENOMEM).
 */
struct worker *registry_add(struct registry *r, const char *name, size_t len);

/*
 * Let go of w's process: free its exit_ev, close its pidfd and give that
 * descriptor back to the budget (fdbudget.h), if it has one.
 */
void registry_unwatch_exit(struct worker *w);

/* Forget w's rival claimant (its timer too), if it has one. */
void registry_drop_rival(struct worker *w);

/* w's pidfd, or -1 if none is kept. */
int registry_pidfd(const struct worker *w);

/*
 * Remove w: its timer and exit watch go at once; its memory is freed now,
 * or, while a walk is pinned to the registry, at the last unpin (it is then
 * marked removed, and only its name may still be read).
 */
void registry_remove(struct registry *r, struct worker *w);

/* A walk holds the registry's removed workers in memory until it unpins. */
void registry_pin(struct registry *r);
void registry_unpin(struct registry *r);

/*
 * Remember addr (len bytes) as where w is answered, if it differs from the
 * one kept (NULL: none any more); -1 (errno ENOMEM) leaves the old one.
 */
int registry_set_addr(struct worker *w, const struct sockaddr_un *addr, socklen_t len);

/*
 * Keep text (len bytes, cut at VIGIL_STATUS_TEXT_MAX) as w's status, every
 * byte outside printable ASCII replaced by '?', so that no view of peer text
 * can be abused; -1 (errno ENOMEM) leaves the old one.
 */
int registry_set_status(struct worker *w, const char *text, size_t len);

/*
 * Bytes of memory w holds: its blocks as malloc sized them, with glibc's
 * header word each, and its share of the bucket array (sized for r->max).
 */
size_t registry_footprint(const struct registry *r, const struct worker *w);

/* Fill out[] with up to cap workers in no order; returns how many. Not for the heartbeat path. */
size_t registry_collect(const struct registry *r, struct worker **out, size_t cap);

/*
 * Fill out[] with up to cap workers sorted by name; returns how many. Not
 * for the heartbeat path, nor for the loop at scale: walk.h sorts in slices.
 */
size_t registry_list(const struct registry *r, struct worker **out, size_t cap);

/* Note the time between two heartbeats of w (kept: the last REGISTRY_INTERVALS). */
void registry_note_interval(struct worker *w, uint64_t usec);

/* The kept inter-arrival times' min, mean and max (usec); returns how many are kept. */
size_t registry_intervals(const struct worker *w, uint64_t *min, uint64_t *mean, uint64_t *max);

/* Fill a status row for w as seen at time now. */
void registry_row(const struct worker *w, uint64_t now, struct vigil_status_row *row);

#endif
