/*
 * supervisor.h: the supervisor's context, shared by its modules: the
 * settings in force (options.h; read as sv->set->timeout, never copied), the
 * event base, the sockets, the registry and the counters that status reports.
 */
#ifndef VIGIL_SUPERVISOR_H
#define VIGIL_SUPERVISOR_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "counters.h"
#include "ctimeout.h"
#include "events.h"
#include "options.h"
#include "log.h"
#include "registry.h"
#include "sock.h"
#include "wire.h"

/*
 * What the monitor needs of the heartbeat socket: installed by the socket's
 * adapter (listener.c), faked in the monitor's tests.
 */
struct monitor_io {
	/* Send one datagram without blocking; -1 with errno (EAGAIN: the peer's queue is full). */
	int (*send)(void *ctx, const struct sockaddr_un *to, socklen_t tolen, const char *buf,
		    size_t len);
	/* Read and hand over (monitor_message) what the socket holds now. */
	void (*drain)(void *ctx);
	void *ctx;
};

/*
 * The event loop's priorities, highest first. libevent runs only the
 * highest priority that has work in a turn, and at most one control-plane
 * callback a turn (main.c), so a status render or a scrape, cut in slices,
 * never delays a heartbeat or a deadline by more than one slice.
 */
enum sv_priority {
	SV_PRIO_DATA = 0,    /* the heartbeat socket, signals */
	SV_PRIO_TIMER = 1,   /* the workers' timers, exit watches */
	SV_PRIO_CONTROL = 2, /* vigilctl, HTTP, their renders in slices */
	SV_NPRIO
};

struct event;
struct event_base;
struct listener;
struct control;
struct hooks;
struct http;
struct store;
struct config;
struct options_cli;


struct supervisor {
	/* settings */
	const struct settings *set;     /* the ones in force: &conf->set (a reload replaces both) */
	struct config *conf;    /* the configuration in force (reload.h) */
	const struct options_cli *cli; /* the command line: applied over every (re)load */

	/* runtime */
	char socket_name[SETTINGS_PATH_MAX]; /* the heartbeat socket's: set's, or systemd's */
	struct event_base *base;
	struct vigil_sock hb_sock;
	struct vigil_sock ctl_sock;
	struct listener *listener;
	struct control *control;
	struct hooks *hooks; /* exec: steps running */
	struct http *http;   /* --metrics: GET /metrics and /status; NULL: off */
	struct store *store; /* where the registry's snapshot is kept (store.h) */
	/*
	 * The store's store_touch, installed by store_start (NULL before): for a
	 * change no event tells of (claim.c), without an include circle
	 * claim -> store -> restore -> monitor -> claim.
	 */
	void (*store_touch)(struct store *st);
	struct registry registry;
	struct ctimeout_table ctimeouts; /* one libevent queue per distinct timeout */
	size_t by_state[WORKER_NSTATES]; /* workers in each state, for STATUS= */
	struct supervisor_counters counters;
	struct monitor_io io; /* the heartbeat socket, as the monitor reaches it */
	int pidfds;           /* datagrams come with the sender's pidfd (SCM_PIDFD; claim.h) */
	uint64_t last_stall_seen; /* monotonic usec: a timer last ran a whole pause late */
	struct events events; /* the recent ones, for status history; totals by type */
	struct event *watchdog;   /* pings systemd's watchdog, if it asked */
	uint64_t started; /* monotonic usec */
	uint64_t start_time; /* the same moment, usec since the epoch */

	/* rate limits for what peers can trigger */
	struct log_ratelimit rl_invalid;
	struct log_ratelimit rl_full;
	struct log_ratelimit rl_undelivered;
	struct log_ratelimit rl_notify;
	struct log_ratelimit rl_timeouts; /* "timed out" lines, all workers together */
	struct log_ratelimit rl_pause;    /* "we were paused": once per pause */
	struct log_ratelimit rl_refused;  /* senders refused or impersonating */
	struct log_ratelimit rl_exit;     /* --detect-exit could not watch a process */
	struct log_ratelimit rl_restart;  /* "restarted": a one-shot sender restarts every time */
	struct log_ratelimit rl_seq;      /* SEQ= going backwards */
	struct log_ratelimit rl_registered; /* "registered": a spray of names (summed up later) */
	struct event *registered_summary;   /* the sum of the lines rl_registered dropped */
};

#endif
