/*
 * main.c: vigil-fleet. Parse arguments, build the context, run the loop.
 * Publishing is agent.c (with publish.c, ctl.c and etcd.c); the fleet view
 * is watch.c (with view.c). The key layout is keys.h; docs/FLEET.md says it all.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent.h"
#include "authfile.h"
#include "duration.h"
#include "etcd.h"
#include "keys.h"
#include "log.h"
#include "sdnotify.h"
#include "sock.h"
#include "watch.h"

#define FLEET_CONTROL_DEFAULT "/run/vigil/control.sock"
#define FLEET_ETCD_DEFAULT "http://127.0.0.1:2379"
#define FLEET_TTL_DEFAULT (10 * VIGIL_USEC_PER_SEC)
#define FLEET_TIMEOUT_DEFAULT (2 * VIGIL_USEC_PER_SEC)
#define FLEET_PROBE_DEFAULT (500 * VIGIL_USEC_PER_MSEC)
#define FLEET_GRACE_DEFAULT (5 * VIGIL_USEC_PER_SEC)

struct fleet_args {
	const char *mode; /* NULL (publish), "status" or "watch" */
	const char *etcd;
	char host[VIGIL_NAME_MAX + 1];
	const char *control;
	uint64_t ttl, keepalive, timeout, probe, grace;
	int json;
	const char *metrics;
	const char *cacert, *cert, *key, *auth_file;
	enum log_level level;
};

static void
usage(FILE *fp)
{
	fprintf(
	    fp,
	    "Usage: vigil-fleet [OPTIONS]              publish this host's workers to etcd\n"
	    "       vigil-fleet status [--json] [OPTIONS]  print the fleet view once\n"
	    "       vigil-fleet watch [--json] [OPTIONS]   print the fleet's changes as they "
	    "happen\n"
	    "\n"
	    "  -e, --etcd URL[,URL...]  etcd's client URLs, http[s]://HOST:PORT (default %s)\n"
	    "      --cacert FILE        https: the CA (PEM) etcd's certificate must chain to\n"
	    "                           (default: the system's); its name must match HOST\n"
	    "      --cert FILE          https: a client certificate (PEM) to present\n"
	    "      --key FILE           https: its private key (PEM)\n"
	    "      --auth-file FILE     etcd authentication: FILE holds one line user:password\n"
	    "                           and must not be readable by group or others\n"
	    "  -n, --host NAME          this host's name in etcd (default: the hostname)\n"
	    "  -c, --control PATH       the supervisor's control socket (default %s)\n"
	    "      --ttl DUR            the host lease's TTL, whole seconds, 2s to 1h (default "
	    "10s)\n"
	    "      --keepalive DUR      how often the lease is renewed (default: a third of "
	    "--ttl)\n"
	    "      --timeout DUR        a request's deadline, 100ms to 6s (default 2s)\n"
	    "      --probe DUR          watch: how often etcd's quorum is checked (default 500ms)\n"
	    "      --grace DUR          watch: how long a host key that etcd dropped as its "
	    "quorum\n"
	    "                           returned may take to come back before the host is\n"
	    "                           reported lost (default 5s; 0 reports at once)\n"
	    "      --metrics ADDR:PORT  watch: serve GET /metrics (Prometheus) over HTTP,\n"
	    "                           unauthenticated: 127.0.0.1:9478, [::1]:9478 (default off)\n"
	    "      --json               status, watch: JSON (one document, or one line per "
	    "change)\n"
	    "      --log-level LEVEL    error, warning, info or debug (default info)\n"
	    "  -h, --help               this help\n"
	    "  -V, --version            the version\n"
	    "\n"
	    "Exit status: 0 done, 1 failure, 2 usage error, 3 status: the view is stale (etcd\n"
	    "has no quorum) / publishing: a newer publisher took this host's key.\n",
	    FLEET_ETCD_DEFAULT, FLEET_CONTROL_DEFAULT);
}

static void __attribute__((noreturn)) usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "vigil-fleet: %s%s%s\nTry 'vigil-fleet --help' for more information.\n",
	        msg, arg != NULL ? " " : "", arg != NULL ? arg : "");
	exit(2);
}

/* A duration option from lo to hi, or a usage error naming it. */
static uint64_t
duration_arg(const char *opt, const char *arg, uint64_t lo, uint64_t hi)
{
	uint64_t v;
	const char *why;
	char msg[128];

	if (vigil_duration_parse(arg, &v, &why) == -1) {
		snprintf(msg, sizeof(msg), "%s: %s:", opt, why);
		usage_error(msg, arg);
	}
	if (v < lo || v > hi) {
		snprintf(msg, sizeof(msg), "%s: out of range:", opt);
		usage_error(msg, arg);
	}
	return v;
}

static void
parse_args(int argc, char **argv, struct fleet_args *a)
{
	enum {
		O_TTL = 256,
		O_KEEPALIVE,
		O_TIMEOUT,
		O_PROBE,
		O_GRACE,
		O_JSON,
		O_LOG,
		O_METRICS,
		O_CACERT,
		O_CERT,
		O_KEY,
		O_AUTH
	};
	static const struct option longopts[] = {
	    {"etcd", required_argument, NULL, 'e'},
	    {"host", required_argument, NULL, 'n'},
	    {"control", required_argument, NULL, 'c'},
	    {"ttl", required_argument, NULL, O_TTL},
	    {"keepalive", required_argument, NULL, O_KEEPALIVE},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"probe", required_argument, NULL, O_PROBE},
	    {"grace", required_argument, NULL, O_GRACE},
	    {"json", no_argument, NULL, O_JSON},
	    {"metrics", required_argument, NULL, O_METRICS},
	    {"cacert", required_argument, NULL, O_CACERT},
	    {"cert", required_argument, NULL, O_CERT},
	    {"key", required_argument, NULL, O_KEY},
	    {"auth-file", required_argument, NULL, O_AUTH},
	    {"log-level", required_argument, NULL, O_LOG},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	int ch;

	while ((ch = getopt_long(argc, argv, ":e:n:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			a->etcd = optarg;
			break;
		case 'n':
			if (!keys_host_valid(optarg))
				usage_error("--host: use 1 to 64 of A-Z a-z 0-9 . _ @ : -, not",
				            optarg);
			snprintf(a->host, sizeof(a->host), "%s", optarg);
			break;
		case 'c':
			a->control = optarg;
			break;
		case O_TTL:
			a->ttl = duration_arg("--ttl", optarg, 2 * VIGIL_USEC_PER_SEC,
			                      3600 * VIGIL_USEC_PER_SEC);
			if (a->ttl % VIGIL_USEC_PER_SEC != 0)
				usage_error("--ttl: etcd takes whole seconds, not", optarg);
			break;
		case O_KEEPALIVE:
			a->keepalive =
			    duration_arg("--keepalive", optarg, 100 * VIGIL_USEC_PER_MSEC,
			                 1800 * VIGIL_USEC_PER_SEC);
			break;
		case O_TIMEOUT:
			a->timeout = duration_arg("--timeout", optarg, 100 * VIGIL_USEC_PER_MSEC,
			                          6 * VIGIL_USEC_PER_SEC);
			break;
		case O_PROBE:
			a->probe = duration_arg("--probe", optarg, 100 * VIGIL_USEC_PER_MSEC,
			                        60 * VIGIL_USEC_PER_SEC);
			break;
		case O_GRACE:
			a->grace = duration_arg("--grace", optarg, 0, 600 * VIGIL_USEC_PER_SEC);
			break;
		case O_METRICS: {
			char host[256], err[300];
			uint16_t port;

			if (watch_parse_addr(optarg, host, sizeof(host), &port, err, sizeof(err)) ==
			    -1)
				usage_error("--metrics:", err);
			a->metrics = optarg;
			break;
		}
		case O_JSON:
			a->json = 1;
			break;
		case O_CACERT:
			a->cacert = optarg;
			break;
		case O_CERT:
			a->cert = optarg;
			break;
		case O_KEY:
			a->key = optarg;
			break;
		case O_AUTH:
			a->auth_file = optarg;
			break;
		case O_LOG:
			if (log_level_parse(optarg, &a->level) == -1)
				usage_error("--log-level: not error, warning, info or debug:",
				            optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vigil-fleet %s\n", VIGIL_VERSION);
			exit(0);
		case ':':
			usage_error("option needs a value:", argv[optind - 1]);
		default:
			usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		a->mode = argv[optind++];
		if (strcmp(a->mode, "status") != 0 && strcmp(a->mode, "watch") != 0)
			usage_error("unknown command (status or watch):", a->mode);
		if (optind < argc)
			usage_error("unexpected argument:", argv[optind]);
	}
	if (a->metrics != NULL && (a->mode == NULL || strcmp(a->mode, "watch") != 0))
		usage_error("--metrics goes with watch", NULL);
	if (a->keepalive == 0)
		a->keepalive = a->ttl / 3;
	if (a->keepalive >= a->ttl)
		usage_error("--keepalive must be shorter than --ttl", NULL);
	if (a->mode == NULL && a->host[0] == '\0') {
		if (gethostname(a->host, sizeof(a->host)) == -1 || !keys_host_valid(a->host))
			usage_error("the hostname is not a valid --host; give one with --host",
			            NULL);
	}
}

static void
signal_stop_cb(evutil_socket_t sig, short what, void *arg)
{
	log_info("received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct fleet_args args = {.etcd = FLEET_ETCD_DEFAULT,
	                          .control = FLEET_CONTROL_DEFAULT,
	                          .ttl = FLEET_TTL_DEFAULT,
	                          .timeout = FLEET_TIMEOUT_DEFAULT,
	                          .probe = FLEET_PROBE_DEFAULT,
	                          .grace = FLEET_GRACE_DEFAULT,
	                          .level = LOG_LEVEL_INFO};
	struct event_config *cfg = event_config_new();
	struct event_base *base;
	struct event *sigs[2];
	struct etcd *etcd;
	struct agent *agent;
	char err[VIGIL_ERRLEN];
	char user[AUTHFILE_FIELD_MAX], password[AUTHFILE_FIELD_MAX];
	struct etcd_security sec;
	int status = 1;

	parse_args(argc, argv, &args);
	log_init("vigil-fleet", args.level);
	log_libevent();
	signal(SIGPIPE, SIG_IGN);
	if (cfg == NULL)
		fatalx("out of memory");
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	if ((base = event_base_new_with_config(cfg)) == NULL)
		fatalx("cannot create the event loop");
	event_config_free(cfg);
	sec = (struct etcd_security){.cacert = args.cacert, .cert = args.cert, .key = args.key};
	if (args.auth_file != NULL) {
		if (authfile_read(args.auth_file, user, password, err, sizeof(err)) == -1) {
			fprintf(stderr, "vigil-fleet: %s\n", err);
			event_base_free(base);
			return 2;
		}
		sec.user = user;
		sec.password = password;
	}
	etcd = etcd_new(base, args.etcd, args.timeout, &sec, err, sizeof(err));
	explicit_bzero(password, sizeof(password));
	if (etcd == NULL) {
		fprintf(stderr, "vigil-fleet: %s\nTry 'vigil-fleet --help' for more information.\n",
		        err);
		event_base_free(base);
		return 2;
	}
	sigs[0] = evsignal_new(base, SIGTERM, signal_stop_cb, base);
	sigs[1] = evsignal_new(base, SIGINT, signal_stop_cb, base);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	if (args.mode != NULL) {
		struct watch_settings ws = {.json = args.json,
		                            .follow = strcmp(args.mode, "watch") == 0,
		                            .probe_usec = args.probe,
		                            .grace_usec = args.grace,
		                            .metrics = args.metrics};

		status = watch_run(base, etcd, &ws);
	} else {
		struct agent_settings as = {.host = args.host,
		                            .control = args.control,
		                            .ttl_usec = args.ttl,
		                            .keepalive_usec = args.keepalive};

		if ((agent = agent_new(base, etcd, &as)) == NULL)
			fatalx("cannot start publishing (out of memory, or --control too long)");
		log_info("publishing host %s from %s to %s (TTL %" PRIu64 " s)", args.host,
		         args.control, args.etcd, (uint64_t)(args.ttl / VIGIL_USEC_PER_SEC));
		agent_start(agent);
		vigil_sd_notify("READY=1", err, sizeof(err));
		event_base_dispatch(base);
		status = agent_exit_status(agent);
		agent_free(agent);
	}
	event_free(sigs[0]);
	event_free(sigs[1]);
	etcd_free(etcd);
	event_base_free(base);
	return status;
}
