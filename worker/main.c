/*
 * main.c: vigil-worker. Parse arguments, open the worker's libvigil client
 * (heartbeat.c), start --exec and --check (child.c), run the loop, say
 * STOPPING=1 on the way out.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <systemd/sd-login.h>

#include "child.h"
#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "sdnotify.h"
#include "sdproxy.h"
#include "sock.h"
#include "vigil.h"
#include "wire.h"
#include "worker.h"

static void
usage(FILE *fp)
{
	fprintf(fp,
		"Usage: vigil-worker --name NAME [OPTION]...\n"
		"Send heartbeats to vigil-supervisor and handle its TIMEOUT datagrams.\n"
		"\n"
		"  -n, --name NAME         worker name, [A-Za-z0-9._@:-]{1,64} (required, except\n"
		"                          in a systemd service: then its unit's name)\n"
		"  -S, --supervisor PATH   supervisor's heartbeat socket (default " WORKER_SUPERVISOR_DEFAULT ")\n"
		"  -s, --socket PATH       this worker's socket, where TIMEOUTs arrive\n"
		"                          (default " WORKER_SOCKET_DIR_DEFAULT "/NAME.sock)\n"
		"  -i, --interval DUR      heartbeat period, e.g. 200ms, 1s (default 1s)\n"
		"  -j, --jitter PCT        vary each period by up to PCT percent, 0-50 (default 0)\n"
		"  -o, --on-timeout WHAT   on a TIMEOUT: log (log it, heartbeat at once; default)\n"
		"                          or exit (exit 1, for the service manager to restart us)\n"
		"  -c, --check CMD         heartbeat only while CMD (run by /bin/sh -c once a\n"
		"                          period, one at a time) last exited 0\n"
		"      --check-timeout DUR a check still running after DUR fails, killed\n"
		"                          (default 5s)\n"
		"  -e, --exec -- PROGRAM [ARG]...\n"
		"                          run PROGRAM as our child and heartbeat while it runs;\n"
		"                          its end ends us, with its exit status; it dies with us.\n"
		"                          It gets a NOTIFY_SOCKET of ours: what it tells systemd\n"
		"                          is passed on (sd_notify proxy)\n"
		"  -t, --timeout DUR       with --exec: PROGRAM pings (sd_notify WATCHDOG=1) within\n"
		"                          DUR, given to it as WATCHDOG_USEC; its pings are our\n"
		"                          heartbeats, with DUR as our timeout (default: the\n"
		"                          WATCHDOG_USEC systemd gave us, if any; else none: we\n"
		"                          heartbeat every interval while it runs)\n"
		"      --stop-timeout DUR  with --exec: KILL PROGRAM if it still runs DUR after\n"
		"                          we passed TERM on (default 10s)\n"
		"  -l, --log-level LEVEL   error, warning, info or debug (default info)\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"\n"
		"Signals: TERM/INT send STOPPING=1 and exit 0 (with --exec, they are passed on\n"
		"to PROGRAM first, KILL follows at --stop-timeout, and we stop when it ends);\n"
		"USR1 toggles a stall (no\n"
		"heartbeats, still answering signals and logging TIMEOUTs).\n"
		"Exit status: 0 after TERM/INT, 1 on a runtime error or --on-timeout exit,\n"
		"2 on a usage error.\n");
}

static void __attribute__((noreturn))
usage_error(const char *what, const char *arg, const char *why)
{
	fprintf(stderr, "vigil-worker: %s '%s'%s%s\nTry 'vigil-worker --help' for more information.\n",
		what, arg, why ? ": " : "", why ? why : "");
	exit(2);
}

enum { OPT_CHECK_TIMEOUT = 256, OPT_STOP_TIMEOUT }; /* long options without a letter */

/* A duration option from 1ms to 24h. */
static uint64_t
parse_duration_opt(const char *what, const char *arg)
{
	const char *why;
	uint64_t v;

	if (vigil_duration_parse(arg, &v, &why) == -1)
		usage_error(what, arg, why);
	if (v < 1000 || v > 24 * 3600 * 1000000ULL)
		usage_error(what, arg, "must be from 1ms to 24h");
	return v;
}

/*
 * The service of our own cgroup v2 path (/proc/self/cgroup's "0::" line):
 * the last component, if it is a ".service" (a scope holds unrelated
 * processes). For units whose ProtectProc=invisible hides /proc/1 from
 * them, where sd_pid_get_unit() cannot find the cgroup root.
 */
static char *
unit_from_self(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (f == NULL)
		return NULL;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (strncmp(buf, "0::/", 4) != 0)
			continue;
		buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
		const char *last = strrchr(buf, '/') + 1;
		return strdup(last);
	}
	fclose(f);
	return NULL;
}

/* The unit we run in (a systemd service's name names the worker), or NULL. */
static char *
unit_name(void)
{
	char *unit = NULL;

	if ((sd_pid_get_unit(0, &unit) < 0 || unit == NULL) && (unit = unit_from_self()) == NULL)
		return NULL;
	size_t n = strlen(unit);
	if (n < 9 || strcmp(unit + n - 8, ".service") != 0 || !vigil_wire_name_valid(unit, n)) {
		free(unit);
		return NULL;
	}
	return unit;
}

static void
parse_args(int argc, char **argv, struct worker_ctx *w, enum log_level *level)
{
	static const struct option longopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"supervisor", required_argument, NULL, 'S'},
	    {"socket", required_argument, NULL, 's'},
	    {"interval", required_argument, NULL, 'i'},
	    {"jitter", required_argument, NULL, 'j'},
	    {"on-timeout", required_argument, NULL, 'o'},
	    {"check", required_argument, NULL, 'c'},
	    {"check-timeout", required_argument, NULL, OPT_CHECK_TIMEOUT},
	    {"timeout", required_argument, NULL, 't'},
	    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
	    {"exec", no_argument, NULL, 'e'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *socket_path = NULL, *why;
	char *end;
	int ch, exec = 0, interval_given = 0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:n:S:s:i:j:o:c:et:l:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (!vigil_wire_name_valid(optarg, strlen(optarg)))
				usage_error("invalid --name", optarg,
					    "use 1 to 64 of A-Z a-z 0-9 . _ @ : -");
			w->name = optarg;
			break;
		case 'S':
			w->supervisor_path = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'i':
			if (vigil_duration_parse(optarg, &w->interval, &why) == -1)
				usage_error("invalid --interval", optarg, why);
			if (w->interval < 1000 || w->interval > 24 * 3600 * 1000000ULL)
				usage_error("invalid --interval", optarg,
					    "must be from 1ms to 24h");
			interval_given = 1;
			break;
		case 'j': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' || v > 50)
				usage_error("invalid --jitter", optarg, "need a percentage from 0 to 50");
			w->jitter_pct = (unsigned)v;
			break;
		}
		case 'o':
			if (strcmp(optarg, "log") == 0)
				w->on_timeout = WORKER_ON_TIMEOUT_LOG;
			else if (strcmp(optarg, "exit") == 0)
				w->on_timeout = WORKER_ON_TIMEOUT_EXIT;
			else
				usage_error("invalid --on-timeout", optarg, "use log or exit");
			break;
		case 'c':
			if (*optarg == '\0')
				usage_error("invalid --check", optarg, "an empty command");
			w->check = optarg;
			break;
		case OPT_CHECK_TIMEOUT:
			w->check_timeout = parse_duration_opt("invalid --check-timeout", optarg);
			break;
		case 't':
			w->timeout = parse_duration_opt("invalid --timeout", optarg);
			break;
		case OPT_STOP_TIMEOUT:
			w->stop_timeout = parse_duration_opt("invalid --stop-timeout", optarg);
			break;
		case 'e':
			exec = 1;
			break;
		case 'l':
			if (log_level_parse(optarg, level) == -1)
				usage_error("invalid --log-level", optarg,
					    "use error, warning, info or debug");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vigil-worker %s\n", VIGIL_VERSION);
			exit(0);
		case ':':
			usage_error("option needs a value:", argv[optind - 1], NULL);
		default:
			usage_error("unknown option", argv[optind - 1], NULL);
		}
	}
	if (exec && optind == argc) {
		fprintf(stderr, "vigil-worker: --exec needs a program: --exec -- PROGRAM [ARG]...\n"
				"Try 'vigil-worker --help' for more information.\n");
		exit(2);
	}
	if (exec)
		w->exec_argv = argv + optind;
	else if (optind < argc)
		usage_error("unexpected argument", argv[optind], NULL);
	if (!exec && (w->timeout != 0 || w->stop_timeout != 0)) {
		fprintf(stderr, "vigil-worker: --timeout and --stop-timeout need --exec (they time "
				"its program)\nTry 'vigil-worker --help' for more information.\n");
		exit(2);
	}
	if (w->stop_timeout == 0)
		w->stop_timeout = WORKER_STOP_TIMEOUT_DEFAULT;
	/*
	 * The program's pings are our heartbeats when it has a watchdog period:
	 * ours (--timeout), else the one systemd gave us for it (WatchdogSec=).
	 * INTERVAL_MS then says half of it, as sd_watchdog_enabled(3) advises.
	 */
	if (exec && w->timeout == 0)
		w->timeout = vigil_sd_watchdog_usec();
	w->relay = exec && w->timeout != 0;
	if (w->relay && !interval_given)
		w->interval = w->timeout / 2 >= 1000 ? w->timeout / 2 : 1000;
	if (w->name == NULL && (w->name = unit_name()) == NULL) {
		fprintf(stderr, "vigil-worker: --name is required outside a systemd service\n"
				"Try 'vigil-worker --help' for more information.\n");
		exit(2);
	}
	int n = socket_path != NULL
		    ? snprintf(w->socket_path, sizeof(w->socket_path), "%s", socket_path)
		    : snprintf(w->socket_path, sizeof(w->socket_path), "%s/%s.sock",
			       WORKER_SOCKET_DIR_DEFAULT, w->name);
	if (n < 0 || (size_t)n >= sizeof(w->socket_path))
		usage_error("invalid --socket", socket_path ? socket_path : w->name,
			    "the path does not fit a Unix socket address (107 bytes)");
}

/*
 * Tell the service manager (if any) how we are; a failure is worth a line,
 * not an exit. Relaying, the program speaks for itself (sdproxy.c): its
 * READY=1 and STATUS=, not ours; only our STOPPING=1 goes.
 */
static int relaying;

static void
notify(const char *text)
{
	char err[VIGIL_ERRLEN];

	if (relaying && strcmp(text, "STOPPING=1") != 0)
		return;
	if (vigil_sd_notify(text, err, sizeof(err)) == -1)
		log_warnx("%s", err);
}

static void
signal_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker_ctx *w = arg;

	if (!w->stopping && child_forward(w->child, (int)sig) == 0) {
		/*
		 * --exec: a clean stop, said at once (no timeout while it winds
		 * down); the program goes first, KILLed at --stop-timeout; its
		 * end (child.c) ends us.
		 */
		char d[32];
		vigil_duration_format(w->stop_timeout, d, sizeof(d));
		log_info("received %s, passing it on to %s (KILL in %s if it still runs)",
			 strsignal((int)sig), w->exec_argv[0], d);
		w->stopping = 1;
		notify("STOPPING=1");
		heartbeat_send_stopping(w);
		return;
	}
	log_info("received %s, stopping", strsignal((int)sig));
	notify("STOPPING=1");
	heartbeat_send_stopping(w);
	w->exit_status = 0;
	event_base_loopbreak(w->base);
}

static void
signal_stall_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker_ctx *w = arg;

	if (heartbeat_toggle_stall(w)) {
		log_warnx("stalling: heartbeats paused, still responsive (SIGUSR1 resumes)");
		notify("STATUS=stalled (SIGUSR1 resumes)");
	} else {
		log_info("resuming heartbeats");
		notify("STATUS=heartbeating");
		heartbeat_send_now(w);
	}
}

int
main(int argc, char **argv)
{
	struct worker_ctx w = {
	    .supervisor_path = WORKER_SUPERVISOR_DEFAULT,
	    .interval = WORKER_INTERVAL_DEFAULT,
	    .check_timeout = WORKER_CHECK_TIMEOUT_DEFAULT,
	};
	enum log_level level = LOG_LEVEL_INFO;
	struct event *sigs[3] = {NULL, NULL, NULL};
	struct event_config *cfg;
	char err[VIGIL_ERRLEN];

	parse_args(argc, argv, &w, &level);
	log_init("vigil-worker", level);
	log_libevent();
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_un sun;
	socklen_t sunlen;
	if (vigil_sock_addr(w.supervisor_path, &sun, &sunlen, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigil-worker: invalid --supervisor: %s\n", err);
		return 2;
	}
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == -1 ||
	    (w.base = event_base_new_with_config(cfg)) == NULL)
		fatalx("cannot create the event loop");
	event_config_free(cfg);

	/* Before the socket exists, so that a TERM at any point still cleans up. */
	sigs[0] = evsignal_new(w.base, SIGTERM, signal_stop_cb, &w);
	sigs[1] = evsignal_new(w.base, SIGINT, signal_stop_cb, &w);
	sigs[2] = evsignal_new(w.base, SIGUSR1, signal_stall_cb, &w);
	for (int i = 0; i < 3; i++)
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	w.exit_status = 1;
	if (heartbeat_start(&w, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}

	char d[32];
	vigil_duration_format(w.interval, d, sizeof(d));
	log_info("worker %s (pid %d) heartbeating to %s every %s, listening on %s", w.name,
		 (int)getpid(), w.supervisor_path, d, w.socket_path);
	relaying = w.relay;
	if (w.exec_argv != NULL && (w.proxy = sdproxy_start(&w, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		goto out;
	}
	if (w.relay) {
		vigil_duration_format(w.timeout, d, sizeof(d));
		log_info("%s's watchdog pings (sd_notify WATCHDOG=1, within %s) are our heartbeats",
			 w.exec_argv[0], d);
	}
	/* Before the first heartbeat, which a --check must allow. */
	if ((w.check != NULL || w.exec_argv != NULL) &&
	    (w.child = child_start(&w, err, sizeof(err))) == NULL) {
		log_error("%s", err);
		goto out;
	}
	if (heartbeat_run(&w, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	notify("READY=1\nSTATUS=heartbeating");
	if (event_base_dispatch(w.base) == -1) {
		log_warnx("event loop failed");
		w.exit_status = 1;
	}
out:
	for (int i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	child_free(w.child);
	sdproxy_free(w.proxy);
	heartbeat_stop(&w);
	event_base_free(w.base);
	return w.exit_status;
}
