/*
 * main.c: vigil-supervisor. Parse arguments, build the context, run the
 * loop, tear down. The work happens in listener.c (heartbeat socket),
 * monitor.c (what a message or a timer means), state.c (the state machine),
 * registry.c (the workers) and control.c (the control socket).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "control.h"
#include "duration.h"
#include "fdbudget.h"
#include "hooks.h"
#include "http.h"
#include "listener.h"
#include "monitor.h"
#include "config.h"
#include "configure.h"
#include "notify.h"
#include "options.h"
#include "reload.h"
#include "sdnotify.h"
#include "store.h"
#include "supervisor.h"

/*
 * The heartbeat socket: the one systemd passed us (socket activation keeps
 * it open, and the heartbeats in it, while we restart), else our own. Its
 * name, for the logs, is sv->socket_name.
 */
static int
heartbeat_socket(struct supervisor *sv, char *err, size_t errlen)
{
	static char names[8][VIGIL_SD_FDNAME_MAX];
	int n = vigil_sd_listen_fds_named(names, 8, err, errlen), sock = -1, nsocks = 0;

	if (n == -1)
		return -1;
	/* Besides the socket, systemd hands back the registry snapshots we stored (store.h). */
	for (int i = 0; i < n; i++) {
		if (i < 8 && store_adopt_fd(sv->store, names[i], VIGIL_SD_LISTEN_FDS_START + i))
			continue;
		sock = VIGIL_SD_LISTEN_FDS_START + i;
		nsocks++;
	}
	if (nsocks == 0) {
		snprintf(sv->socket_name, sizeof(sv->socket_name), "%s", sv->set->socket_path);
		if (vigil_sock_bind(&sv->hb_sock, sv->set->socket_path, SOCK_DGRAM,
				    (mode_t)sv->set->socket_mode, err, errlen) == -1)
			return -1;
		/* --socket-group: who may send, outside systemd (the socket unit's SocketGroup=). */
		if (sv->set->socket_group >= 0 &&
		    chown(sv->set->socket_path, (uid_t)-1, (gid_t)sv->set->socket_group) == -1) {
			snprintf(err, errlen, "cannot give %s to group %lld (--socket-group): %s",
				 sv->set->socket_path, sv->set->socket_group, strerror(errno));
			vigil_sock_close(&sv->hb_sock);
			return -1;
		}
		return 0;
	}
	const struct option_def *om = options_find("socket-mode", 11),
				*og = options_find("socket-group", 12);
	if (sv->set->given & ((1ULL << (om - options_table)) | (1ULL << (og - options_table))))
		log_warnx("--socket-mode and --socket-group apply to a socket we create; systemd "
			  "passed us ours: set SocketMode= and SocketGroup= in the socket unit");
	if (nsocks != 1) {
		snprintf(err, errlen, "systemd passed %d sockets; expected one datagram socket",
			 nsocks);
		return -1;
	}
	if (vigil_sock_adopt(&sv->hb_sock, sock, SOCK_DGRAM, err, errlen) == -1)
		return -1;
	vigil_sock_name(sv->hb_sock.fd, sv->socket_name, sizeof(sv->socket_name));
	return 0;
}

/*
 * A NOTIFY_SOCKET that names our own heartbeat socket (a supervisor started
 * from a shell that set it for sd_notify programs) is not a service
 * manager: we would supervise ourselves. Dropped, with a line saying so.
 */
static void
notify_socket_check(const struct supervisor *sv)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	struct stat a, b;

	if (ns == NULL || ns[0] != '/')
		return;
	if (strcmp(ns, sv->socket_name) == 0 ||
	    (stat(ns, &a) == 0 && stat(sv->socket_name, &b) == 0 && a.st_dev == b.st_dev &&
	     a.st_ino == b.st_ino)) {
		log_warnx("NOTIFY_SOCKET=%s is our own heartbeat socket, not a service manager's: "
			  "ignored (no READY=1, STATUS= or watchdog pings to it)",
			  ns);
		unsetenv("NOTIFY_SOCKET");
	}
}

/* SIGHUP: read the configuration file again (it logs what happened). */
static void
signal_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	char msg[512];

	log_info("received SIGHUP: reloading the configuration");
	reload_apply(arg, msg, sizeof(msg));
}

static void
signal_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor *sv = arg;

	log_info("received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(sv->base);
}

int
main(int argc, char **argv)
{
	/* Runtime state only: the settings are the config's (settings_init's defaults). */
	struct supervisor sv = {
	    .hb_sock = {.fd = -1},
	    .ctl_sock = {.fd = -1},
	    .rl_timeouts = {.burst = SUPERVISOR_TIMEOUT_LOG_BURST},
	    .rl_restart = {.burst = SUPERVISOR_TIMEOUT_LOG_BURST},
	    .rl_registered = {.burst = SUPERVISOR_TIMEOUT_LOG_BURST},
	};
	struct options_cli cli;
	struct config *conf;
	struct event_config *cfg;
	struct event *sigs[3] = {NULL, NULL, NULL};
	char err[VIGIL_ERRLEN];
	int status = 1;

	options_parse_argv(argc, argv, &cli, options_usage);
	if (cli.check_config) {
		status = configure_check(&cli);
		options_cli_free(&cli);
		return status;
	}
	if ((status = configure_build(&cli, &conf)) != 0) {
		for (size_t i = 0; conf != NULL && i < conf->nerrors; i++)
			fprintf(stderr, "%s\n", conf->errors[i].text);
		if (status == 2)
			fprintf(stderr, "Try 'vigil-supervisor --help' for more information.\n");
		config_free(conf);
		options_cli_free(&cli);
		return status;
	}
	sv.cli = &cli;
	reload_start(&sv, conf);
	/*
	 * Run from "/": hooks inherit our working directory, which must not be
	 * where we were started (a mount kept busy, a user's home). Every path
	 * given was made absolute against it (options_absolute).
	 */
	if (chdir("/") == -1)
		fatal("cannot change directory to /");
	status = 1;
	log_init("vigil-supervisor", conf->set.log_level);
	log_libevent();
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Without the precise flag libevent uses CLOCK_MONOTONIC_COARSE (1-4 ms
	 * steps). At most one control-plane callback a turn (supervisor.h's
	 * priorities): a turn is then the data plane's work plus one slice.
	 */
	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == -1 ||
	    event_config_set_max_dispatch_interval(cfg, NULL, 1, SV_PRIO_CONTROL) == -1 ||
	    (sv.base = event_base_new_with_config(cfg)) == NULL ||
	    event_base_priority_init(sv.base, SV_NPRIO) == -1)
		fatalx("cannot create the event loop");
	event_config_free(cfg);
	ctimeout_init(&sv.ctimeouts, sv.base);
	/* As many descriptors as we may have; a pidfd per worker within the budget. */
	fdbudget_keep(CONTROL_MAX_CLIENTS + 1 + HTTP_MAX_CONNECTIONS + LISTENER_BATCH);
	fdbudget_init(sv.set->detect_exit ? sv.set->max_workers : 0);
	if ((sv.hooks = hooks_new(sv.base, sv.set->hook_timeout)) == NULL)
		fatalx("cannot set up hooks (SIGCHLD)");
	/* Before any socket exists, so that a TERM at any point still cleans up. */
	sigs[0] = evsignal_new(sv.base, SIGTERM, signal_stop_cb, &sv);
	sigs[1] = evsignal_new(sv.base, SIGINT, signal_stop_cb, &sv);
	sigs[2] = evsignal_new(sv.base, SIGHUP, signal_hup_cb, &sv);
	for (int i = 0; i < 3; i++)
		if (sigs[i] == NULL || event_priority_set(sigs[i], SV_PRIO_DATA) == -1 ||
		    event_add(sigs[i], NULL) == -1)
			fatalx("cannot install signal handlers");
	if (registry_init(&sv.registry, sv.set->max_workers) == -1)
		fatalx("cannot allocate the worker table for %zu workers", sv.set->max_workers);
	sv.started = vigil_now_usec();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sv.start_time = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;

	if ((sv.store = store_new(sv.set)) == NULL)
		fatalx("out of memory");
	if (heartbeat_socket(&sv, err, sizeof(err)) == -1 ||
	    vigil_sock_bind(&sv.ctl_sock, sv.set->control_path, SOCK_STREAM, 0660, err,
			    sizeof(err)) == -1 ||
	    (sv.listener = listener_start(&sv, err, sizeof(err))) == NULL ||
	    (sv.control = control_start(&sv, reload_apply, err, sizeof(err))) == NULL ||
	    (sv.set->metrics[0] != '\0' && (sv.http = http_start(&sv, err, sizeof(err))) == NULL)) {
		log_error("%s", err);
		goto out;
	}

	char d[128] = "3 x interval";
	if (sv.set->timeout != 0)
		vigil_duration_format(sv.set->timeout, d, sizeof(d));
	if (sv.set->phi.threshold != 0) {
		char sd[32], pause[32];
		vigil_duration_format(sv.set->phi.min_sd, sd, sizeof(sd));
		vigil_duration_format(sv.set->phi.pause, pause, sizeof(pause));
		snprintf(d, sizeof(d), "phi %g (min stddev %s, pause %s)", sv.set->phi.threshold,
			 sd, pause);
	}
	char who[256];
	allow_describe(&sv.set->allow, who, sizeof(who));
	char policy[256];
	policy_describe(&sv.set->policy, policy, sizeof(policy));
	char limit[64] = "";
	if (sv.set->intensity.max != 0) {
		char w[32];
		vigil_duration_format(sv.set->intensity.window, w, sizeof(w));
		snprintf(limit, sizeof(limit), ", intensity %" PRIu64 "/%s", sv.set->intensity.max,
			 w);
	}
	log_info("listening on %s%s, control on %s, timeout %s, on timeout %s%s%s, senders "
		 "allowed: %s",
		 sv.socket_name, sv.hb_sock.path[0] == '\0' ? " (from systemd)" : "",
		 sv.set->control_path, d, policy, limit,
		 sv.set->detect_exit ? ", detecting exits" : "", who);
	if (sv.pidfds)
		log_info("sender identity: pidfds from the kernel (SCM_PIDFD), taken with the "
			 "datagrams while a policy signals or --detect-exit watches: a signal or an "
			 "exit watch reaches only the process that sent the heartbeats");
	else
		log_info("sender identity: start times (%s): a pid whose process started after its "
			 "datagram arrived is never acted on",
			 sv.set->identity == IDENTITY_START_TIME ? "--identity start-time"
								  : "the kernel gives no SCM_PIDFD");
	/*
	 * What the previous supervisor knew, before the first heartbeat is read
	 * and before the expected workers it already had are added as missing.
	 */
	notify_socket_check(&sv); /* first: restoring tells systemd the counts (notify.h) */
	store_load(sv.store, &sv);
	reload_expect(&sv);
	if (store_start(sv.store, &sv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	/* Ready only now: every socket is bound and watched. */
	if (notify_start(&sv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		goto out;
	}
	if (event_base_dispatch(sv.base) == -1)
		log_warnx("event loop failed");
	else
		status = 0;
	store_save(sv.store); /* what the next supervisor starts from */
	notify_stop(&sv);
	monitor_shutdown(&sv);
out:
	for (int i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	store_free(sv.store);
	http_free(sv.http);
	control_free(sv.control);
	listener_free(sv.listener);
	registry_free(&sv.registry);
	events_free(&sv.events);
	hooks_free(sv.hooks);
	vigil_sock_close(&sv.ctl_sock);
	vigil_sock_close(&sv.hb_sock);
	event_base_free(sv.base);
	reload_free(&sv);
	options_cli_free(&cli);
	return status;
}
