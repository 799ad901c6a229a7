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

enum worker_on_timeout { WORKER_ON_TIMEOUT_LOG, WORKER_ON_TIMEOUT_EXIT };

struct event_base;
struct vigil_client;
struct child;

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

	/* runtime */
	struct event_base *base;
	struct vigil_client *client; /* our socket: heartbeats go out, TIMEOUTs come in */
	struct child *child; /* --exec's program and --check's command */
	int stalled;         /* SIGUSR1: no heartbeats, still responsive */
	struct log_ratelimit rl_dropped; /* datagrams on our socket that were not for us */
	int stopping;        /* TERM/INT passed on to --exec's program: its end is clean */
	int exit_status;     /* set by whoever breaks the loop */
};

#endif
