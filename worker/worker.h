/*
 * worker.h: vigil-worker's context, shared by main.c, heartbeat.c (its
 * libvigil client) and child.c (--exec and --check).
 */
#ifndef VIGIL_WORKER_H
#define VIGIL_WORKER_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"

#define WORKER_SUPERVISOR_DEFAULT "/run/vigil/supervisor.sock"
#define WORKER_SOCKET_DIR_DEFAULT "/run/vigil/workers"
#define WORKER_INTERVAL_DEFAULT (1000000ULL) /* 1s */
#define WORKER_CHECK_TIMEOUT_DEFAULT (5000000ULL) /* 5s */
/*
 * --stop-timeout: after passing TERM on to --exec's program, how long it has
 * before KILL. Shorter than systemd's 90 s (DefaultTimeoutStopSec), so that
 * the worker, not systemd, ends a program that ignores TERM, and says so.
 */
#define WORKER_STOP_TIMEOUT_DEFAULT (10000000ULL) /* 10s */

enum worker_on_timeout { WORKER_ON_TIMEOUT_LOG, WORKER_ON_TIMEOUT_EXIT };

struct event_base;
struct vigil_client;
struct child;
struct sdproxy;

struct worker_ctx {
	/* settings */
	const char *name;
	const char *supervisor_path;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t interval; /* usec */
	unsigned jitter_pct;
	enum worker_on_timeout on_timeout;
	const char *check;      /* --check: a health command for /bin/sh -c; NULL: none */
	uint64_t check_timeout; /* --check-timeout, usec */
	char **exec_argv;       /* --exec: the program to run and watch; NULL: none */
	uint64_t timeout;       /* --timeout, else systemd's WATCHDOG_USEC for us; 0: none */
	uint64_t stop_timeout;  /* --stop-timeout, usec */
	int relay;              /* --exec with a timeout: the program's pings are our heartbeats */

	/* runtime */
	struct event_base *base;
	struct vigil_client *client; /* our socket: heartbeats go out, TIMEOUTs come in */
	struct child *child; /* --exec's program and --check's command */
	struct sdproxy *proxy; /* --exec: the program's NOTIFY_SOCKET */
	int relay_beat;      /* a ping of the program's is being relayed: it may go */
	int stalled;         /* SIGUSR1: no heartbeats, still responsive */
	struct log_ratelimit rl_dropped; /* datagrams on our socket that were not for us */
	int stopping;        /* TERM/INT passed on to --exec's program: its end is clean */
	int program_stopping; /* the program said STOPPING=1: its end is clean */
	int exit_status;     /* set by whoever breaks the loop */
};

#endif
