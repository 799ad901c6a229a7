/*
 * supervisor.h: the supervisor's context, shared by its modules: settings
 * from the command line, the event base, the sockets, the registry and the
 * counters that status reports.
 */
#ifndef VIGIL_SUPERVISOR_H
#define VIGIL_SUPERVISOR_H

#include <stdint.h>

#include "allow.h"
#include "ctimeout.h"
#include "events.h"
#include "http.h"
#include "policy.h"
#include "log.h"
#include "phi.h"
#include "registry.h"
#include "sock.h"
#include "wire.h"

#define SUPERVISOR_SOCKET_DEFAULT "/run/vigil/supervisor.sock"
#define SUPERVISOR_CONTROL_DEFAULT "/run/vigil/control.sock"
#define SUPERVISOR_MAX_WORKERS_DEFAULT 65536
#define SUPERVISOR_TIMEOUT_FALLBACK (10 * 1000000ULL) /* no --timeout, no INTERVAL_MS */
#define SUPERVISOR_INTERVAL_FACTOR 3 /* default timeout = 3 x the worker's interval */
#define SUPERVISOR_TIMEOUT_MIN 1000ULL                     /* --timeout: at least 1ms */
#define SUPERVISOR_TIMEOUT_MAX (7 * 24 * 3600 * 1000000ULL) /* --timeout: at most 168h */
#define SUPERVISOR_INTERVAL_MAX_MS (24 * 3600 * 1000ULL)     /* INTERVAL_MS beyond: 24h */
#define SUPERVISOR_TIMEOUT_LOG_BURST 100 /* "timed out" lines per second, at most */
#define SUPERVISOR_HOOK_TIMEOUT (10 * 1000000ULL) /* --hook-timeout default */

struct event;
struct event_base;
struct listener;
struct control;
struct hooks;
struct http;
struct config;
struct options_cli;

struct supervisor_counters {
	uint64_t datagrams;                  /* received on the heartbeat socket */
	uint64_t invalid[VIGIL_WIRE_NERR];   /* dropped, by reason */
	uint64_t rejected_full;              /* new names refused: --max-workers reached */
	uint64_t timeouts_sent;              /* TIMEOUT datagrams delivered */
	uint64_t timeouts_undelivered;       /* TIMEOUT datagrams the worker could not take */
	uint64_t graces;                     /* expiries forgiven: the supervisor was paused */
	uint64_t senders_refused;            /* new names from senders not on the allow-list */
	uint64_t impersonations;             /* messages for a name from another uid than its owner */
	uint64_t signals_sent;               /* --on-timeout signals delivered */
	uint64_t signals_refused;            /* not sent: the pid is no longer the worker's, or gone */
	uint64_t exits_unwatched;            /* --detect-exit: workers not watched, no descriptor left */
};

struct supervisor {
	/* settings */
	const char *socket_path;
	const char *control_path;
	uint64_t timeout;     /* --timeout in usec; 0: derive per worker */
	struct phi_params phi; /* --timeout phi:T; threshold 0 when off */
	size_t max_workers;
	int detect_exit;      /* --detect-exit: watch each worker's process with a pidfd */
	struct policy policy; /* --on-timeout: signals and hooks at given MISSED counts */
	uint64_t hook_timeout; /* --hook-timeout: a hook still running then is killed */
	struct intensity intensity; /* --intensity R/W: when a worker is failed */
	struct allow allow; /* who may register a name */
	uint64_t startup_grace; /* --startup-grace: an expected worker's time to heartbeat first */
	struct config *conf;    /* the configuration in force (reload.h) */
	const struct options_cli *cli; /* the command line: applied over every (re)load */
	const char *metrics;            /* --metrics ADDR:PORT; NULL: no HTTP endpoint */
	struct http_addr metrics_addr; /* --metrics, parsed */

	/* runtime */
	struct event_base *base;
	struct vigil_sock hb_sock;
	struct vigil_sock ctl_sock;
	struct listener *listener;
	struct control *control;
	struct hooks *hooks; /* exec: steps running */
	struct http *http;   /* --metrics: GET /metrics and /status; NULL: off */
	struct registry registry;
	struct ctimeout_table ctimeouts; /* one libevent queue per distinct timeout */
	size_t by_state[WORKER_MISSING + 1]; /* workers in each state, for STATUS= */
	struct supervisor_counters counters;
	struct events events; /* the recent ones, for status history; totals by type */
	struct event *watchdog;   /* pings systemd's watchdog, if it asked */
	uint64_t started; /* monotonic usec */

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
};

#endif
