/*
 * options.c: the option table, its parse functions, and the command line.
 * See options.h. The parse functions never print or exit: the command line
 * turns their reason into a usage error, the configuration file into a
 * "FILE:LINE: ..." error.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "options.h"
#include "sock.h"

/* The one field of struct settings a row sets. */
#define FIELD(f) .offset = offsetof(struct settings, f), .size = sizeof(((struct settings *)0)->f)
#define STRING_(x) #x
#define STRING(x) STRING_(x) /* a macro's value, as a string */
#define HELP_COLUMN 26 /* --help: where the descriptions start */
#define HELP_WIDTH 80

void
settings_init(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->socket_path, sizeof(s->socket_path), "%s", SUPERVISOR_SOCKET_DEFAULT);
	snprintf(s->control_path, sizeof(s->control_path), "%s", SUPERVISOR_CONTROL_DEFAULT);
	s->max_workers = SUPERVISOR_MAX_WORKERS_DEFAULT;
	s->hook_timeout = SUPERVISOR_HOOK_TIMEOUT;
	s->phi.min_sd = PHI_MIN_STDDEV_DEFAULT;
	s->log_level = LOG_LEVEL_INFO;
	s->startup_grace = SETTINGS_GRACE_DEFAULT;
	s->min_timeout = SUPERVISOR_MIN_TIMEOUT_DEFAULT;
	s->socket_mode = SETTINGS_SOCKET_MODE_DEFAULT;
	s->socket_group = -1;
	allow_init(&s->allow);
}

int
options_absolute(const char *path, char *out, size_t cap)
{
	/* The directory we were started in, read once: the supervisor then runs from "/". */
	static char start[4096];

	if (path[0] == '/') {
		if (strlen(path) >= cap)
			return -1;
		memset(out, 0, cap);
		snprintf(out, cap, "%s", path);
		return 0;
	}
	if (start[0] == '\0' && getcwd(start, sizeof(start)) == NULL)
		snprintf(start, sizeof(start), "/");
	if (strlen(start) + 1 + strlen(path) >= cap)
		return -1;
	memset(out, 0, cap);
	snprintf(out, cap, "%s/%s", strcmp(start, "/") == 0 ? "" : start, path);
	return 0;
}

static int
parse_path(char *dst, size_t cap, const char *arg, char *err, size_t errlen)
{
	if (arg[0] == '\0') {
		snprintf(err, errlen, "empty path");
		return -1;
	}
	/* Whole, so that a reload compares it with memcmp; relative to where we started. */
	if (options_absolute(arg, dst, cap) == -1) {
		snprintf(err, errlen, "too long (at most %zu bytes, made absolute)", cap - 1);
		return -1;
	}
	return 0;
}

static int
parse_socket(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_path(s->socket_path, sizeof(s->socket_path), arg, err, errlen);
}

static int
parse_control(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_path(s->control_path, sizeof(s->control_path), arg, err, errlen);
}

/* A duration from lo to hi usec; range names the range in the error. */
static int
parse_duration(uint64_t *dst, const char *arg, uint64_t lo, uint64_t hi, const char *range,
	       char *err, size_t errlen)
{
	const char *why;
	uint64_t v;

	if (vigil_duration_parse(arg, &v, &why) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (v < lo || v > hi) {
		snprintf(err, errlen, "%s", range);
		return -1;
	}
	*dst = v;
	return 0;
}

/* timeout DUR, or phi:T with T a plain decimal from PHI_THRESHOLD_MIN to PHI_THRESHOLD_MAX. */
static int
parse_timeout(struct settings *s, const char *arg, char *err, size_t errlen)
{
	uint64_t t;

	if (strncmp(arg, "phi:", 4) == 0) {
		const char *v = arg + 4;
		char *end;
		/* Digits and one point only: no sign, exponent, hex, inf or nan from strtod. */
		double th = 0;
		if (v[strspn(v, "0123456789.")] == '\0' && v[0] >= '0' && v[0] <= '9')
			th = strtod(v, &end);
		else
			end = (char *)v;
		if (*end != '\0' || !(th >= PHI_THRESHOLD_MIN) || !(th <= PHI_THRESHOLD_MAX)) {
			snprintf(err, errlen, "need phi:T with T a number from 1 to 16");
			return -1;
		}
		s->phi.threshold = th;
		s->timeout = 0;
		return 0;
	}
	const char *why;
	if (vigil_duration_parse(arg, &t, &why) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (t < SUPERVISOR_TIMEOUT_MIN || t > SUPERVISOR_TIMEOUT_MAX) {
		snprintf(err, errlen, "must be at %s", t < SUPERVISOR_TIMEOUT_MIN ? "least 1ms"
										: "most 168h");
		return -1;
	}
	s->timeout = t;
	s->phi.threshold = 0;
	return 0;
}

static int
parse_max_workers(struct settings *s, const char *arg, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);

	if (*arg < '0' || *arg > '9' || *end != '\0' || errno != 0 || v == 0 || v > (1ULL << 24)) {
		snprintf(err, errlen, "need a number from 1 to 16777216");
		return -1;
	}
	s->max_workers = (size_t)v;
	return 0;
}

static int
parse_allow_user(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return allow_add_user(&s->allow, arg, err, errlen);
}

static int
parse_allow_group(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return allow_add_group(&s->allow, arg, err, errlen);
}

static int
parse_log_level(struct settings *s, const char *arg, char *err, size_t errlen)
{
	if (log_level_parse(arg, &s->log_level) == -1) {
		snprintf(err, errlen, "use error, warning, info or debug");
		return -1;
	}
	return 0;
}

/* A flag: on the command line it takes no value; in the file, yes or no. */
static int
parse_bool(int *dst, const char *arg, char *err, size_t errlen)
{
	if (arg == NULL || strcmp(arg, "yes") == 0 || strcmp(arg, "true") == 0 ||
	    strcmp(arg, "on") == 0 || strcmp(arg, "1") == 0) {
		*dst = 1;
		return 0;
	}
	if (strcmp(arg, "no") == 0 || strcmp(arg, "false") == 0 || strcmp(arg, "off") == 0 ||
	    strcmp(arg, "0") == 0) {
		*dst = 0;
		return 0;
	}
	snprintf(err, errlen, "use yes or no");
	return -1;
}

static int
parse_detect_exit(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_bool(&s->detect_exit, arg, err, errlen);
}

static int
parse_identity(struct settings *s, const char *arg, char *err, size_t errlen)
{
	if (strcmp(arg, "auto") == 0)
		s->identity = IDENTITY_AUTO;
	else if (strcmp(arg, "pidfd") == 0)
		s->identity = IDENTITY_PIDFD;
	else if (strcmp(arg, "start-time") == 0)
		s->identity = IDENTITY_START_TIME;
	else {
		snprintf(err, errlen, "use auto, pidfd or start-time");
		return -1;
	}
	return 0;
}

static int
parse_min_timeout(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_duration(&s->min_timeout, arg, SUPERVISOR_TIMEOUT_MIN, 3600 * 1000000ULL,
			      "must be from 1ms to 1h", err, errlen);
}

static int
parse_on_timeout(struct settings *s, const char *arg, char *err, size_t errlen)
{
	struct policy p;

	if (policy_parse(arg, &p, err, errlen) == -1)
		return -1;
	/* A hook that cannot run is a mistake to catch now, not at a timeout. */
	for (size_t i = 0; i < p.n; i++) {
		const char *path = p.step[i].path;
		if (path[0] != '\0' && access(path, X_OK) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
	}
	s->policy = p;
	return 0;
}

static int
parse_hook_timeout(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_duration(&s->hook_timeout, arg, 1000, SUPERVISOR_TIMEOUT_MAX,
			      "must be from 1ms to 168h", err, errlen);
}

static int
parse_intensity(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return policy_parse_intensity(arg, &s->intensity, err, errlen);
}

static int
parse_metrics(struct settings *s, const char *arg, char *err, size_t errlen)
{
	struct netaddr a;

	if (strlen(arg) >= sizeof(s->metrics)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	if (netaddr_parse(arg, &a, err, errlen) == -1)
		return -1;
	s->metrics_addr = a;
	memset(s->metrics, 0, sizeof(s->metrics));
	snprintf(s->metrics, sizeof(s->metrics), "%s", arg);
	return 0;
}

static int
parse_phi_min_stddev(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_duration(&s->phi.min_sd, arg, 1000, 3600 * 1000000ULL,
			      "must be from 1ms to 1h", err, errlen);
}

static int
parse_phi_pause(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_duration(&s->phi.pause, arg, 0, SUPERVISOR_TIMEOUT_MAX,
			      "must be at most 168h", err, errlen);
}

static int
parse_startup_grace(struct settings *s, const char *arg, char *err, size_t errlen)
{
	return parse_duration(&s->startup_grace, arg, 0, SUPERVISOR_TIMEOUT_MAX,
			      "must be at most 168h", err, errlen);
}

/* An octal mode of read and write bits only (0660, 0666): no setuid, no execute. */
static int
parse_socket_mode(struct settings *s, const char *arg, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 8);

	if (*arg < '0' || *arg > '7' || *end != '\0' || errno != 0 || (v & ~0666UL) != 0 ||
	    (v & 0600) != 0600) {
		snprintf(err, errlen, "need an octal mode of read and write bits with the owner's "
				      "both, such as 0660 or 0666");
		return -1;
	}
	s->socket_mode = (unsigned)v;
	return 0;
}

/* A group by name, or a number. */
static int
parse_socket_group(struct settings *s, const char *arg, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);

	if (*arg >= '0' && *arg <= '9' && *end == '\0' && errno == 0 && v < 0xffffffffULL) {
		s->socket_group = (long long)v;
		return 0;
	}
	struct group *g = getgrnam(arg);
	if (g == NULL) {
		snprintf(err, errlen, "no such group");
		return -1;
	}
	s->socket_group = (long long)g->gr_gid;
	return 0;
}

static int
parse_state_file(struct settings *s, const char *arg, char *err, size_t errlen)
{
	/* The word that turns snapshots off, not a file of that name here (./none is one). */
	if (strcmp(arg, "none") == 0) {
		snprintf(s->state_file, sizeof(s->state_file), "none");
		return 0;
	}
	return parse_path(s->state_file, sizeof(s->state_file), arg, err, errlen);
}

/* The order of --help; the last four are handled by the command line itself. */
const struct option_def options_table[] = {
    {.name = "socket", .short_name = 's', .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_socket, FIELD(socket_path), .arg = "PATH", .help = "heartbeat socket",
     .def = SUPERVISOR_SOCKET_DEFAULT},
    {.name = "socket-mode", .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_socket_mode, FIELD(socket_mode), .arg = "MODE",
     .help = "the heartbeat socket's mode when we create it (under systemd the socket "
	     "unit's SocketMode= decides): who may send is who may write it; 0666 lets every "
	     "user send, for the allow-list to judge",
     .def = "0660"},
    {.name = "socket-group", .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_socket_group, FIELD(socket_group), .arg = "GROUP",
     .help = "the heartbeat socket's group when we create it (name or gid; under systemd, "
	     "SocketGroup=)",
     .def = "our own"},
    {.name = "control", .short_name = 'c', .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_control, FIELD(control_path), .arg = "PATH",
     .help = "control socket for vigilctl", .def = SUPERVISOR_CONTROL_DEFAULT},
    {.name = "timeout", .short_name = 't', .flags = OPTION_ARG | OPTION_FILE | OPTION_WORKER,
     .parse = parse_timeout, .arg = "DUR",
     .help = "silence that makes a worker dead, e.g. 600ms, 3s",
     .def = "3 x the worker's INTERVAL_MS, or 10s", .alt_arg = "phi:T",
     .alt_help = "adaptive, per worker: the silence at which phi, from its last 64 heartbeat "
		 "intervals, reaches T (1-16: a live worker is that late with chance 10^-T, "
		 "were its intervals normal); until 8 intervals are seen, from its INTERVAL_MS "
		 "(deviation 1/4), else as above"},
    {.name = "phi-min-stddev", .flags = OPTION_ARG | OPTION_FILE, .parse = parse_phi_min_stddev,
     FIELD(phi.min_sd), .arg = "DUR", .help = "deviation never counted as less", .def = "20ms"},
    {.name = "phi-pause", .flags = OPTION_ARG | OPTION_FILE, .parse = parse_phi_pause,
     FIELD(phi.pause), .arg = "DUR", .help = "acceptable pause, added to the mean",
     .def = "0s"},
    {.name = "max-workers", .short_name = 'm',
     .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART, .parse = parse_max_workers,
     FIELD(max_workers), .arg = "N", .help = "most workers tracked at once",
     .def = STRING(SUPERVISOR_MAX_WORKERS_DEFAULT)},
    {.name = "allow-user", .short_name = 'u', .flags = OPTION_ARG | OPTION_FILE | OPTION_REPEAT,
     .parse = parse_allow_user, .arg = "USER",
     .help = "also let USER (name or uid) register workers"},
    {.name = "allow-group", .short_name = 'g',
     .flags = OPTION_ARG | OPTION_FILE | OPTION_REPEAT, .parse = parse_allow_group,
     .arg = "GROUP",
     .help = "also let members of GROUP register workers\n"
	     "(always allowed: our own uid, root, group vigil)"},
    {.name = "on-timeout", .short_name = 'o', .flags = OPTION_ARG | OPTION_FILE | OPTION_WORKER,
     .parse = parse_on_timeout, .arg = "POLICY",
     .help = "what to do beyond reporting: notify, or steps signal:SIG@N (send SIG when "
	     "MISSED reaches N) and exec:PATH@N (run PATH), e.g.\n"
	     "exec:/usr/local/bin/page@1,signal:TERM@2,signal:KILL@4",
     .def = "notify"},
    {.name = "hook-timeout", .short_name = 'k',
     .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART, .parse = parse_hook_timeout,
     FIELD(hook_timeout), .arg = "DUR", .help = "kill a hook still running after DUR",
     .def = "10s"},
    {.name = "intensity", .short_name = 'i', .flags = OPTION_ARG | OPTION_FILE | OPTION_WORKER,
     .parse = parse_intensity, .arg = "R/W",
     .help = "more than R silences, restarts or exits of a worker within W (e.g. 5/60s) make "
	     "it failed: no more signals or hooks for it",
     .def = "no limit"},
    {.name = "detect-exit", .short_name = 'x', .flags = OPTION_FILE | OPTION_RESTART,
     .parse = parse_detect_exit, FIELD(detect_exit),
     .help = "report a worker whose process ends as exited at once (a pidfd per worker), "
	     "not a timeout later"},
    {.name = "identity", .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_identity, FIELD(identity), .arg = "MODE",
     .help = "how a signal or an exit watch is tied to the process that sent the heartbeats: "
	     "pidfd (a pidfd the kernel passes with each datagram, SCM_PIDFD, Linux 6.5+), "
	     "start-time (the pid's start time, refused if later than the datagram's arrival), "
	     "or auto (pidfd where the kernel has it)",
     .def = "auto"},
    {.name = "min-timeout", .flags = OPTION_ARG | OPTION_FILE, .parse = parse_min_timeout,
     FIELD(min_timeout), .arg = "DUR",
     .help = "the least timeout a worker may claim for itself (WATCHDOG_USEC=, INTERVAL_MS=): "
	     "shorter claims are raised to it",
     .def = "10ms"},
    {.name = "metrics", .short_name = 'M', .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_metrics, FIELD(metrics), .arg = "ADDR:PORT",
     .help = "serve GET /metrics (Prometheus), GET /status (JSON) and a status page at "
	     "GET / over HTTP, unauthenticated: 127.0.0.1:9477, [::1]:9477, or :9477 for every "
	     "address",
     .def = "off"},
    {.name = "log-level", .short_name = 'l', .flags = OPTION_ARG | OPTION_FILE,
     .parse = parse_log_level, FIELD(log_level), .arg = "LEVEL",
     .help = "error, warning, info or debug", .def = "info"},
    {.name = "startup-grace", .flags = OPTION_ARG | OPTION_FILE, .parse = parse_startup_grace,
     FIELD(startup_grace), .arg = "DUR",
     .help = "how long a worker expected by the configuration file has to heartbeat before "
	     "it is reported missing",
     .def = "30s"},
    {.name = "state-file", .flags = OPTION_ARG | OPTION_FILE | OPTION_RESTART,
     .parse = parse_state_file, FIELD(state_file), .arg = "PATH",
     .help = "where the registry is kept across a restart or a crash of the supervisor "
	     "(written at state changes, replaced atomically); under systemd, without this "
	     "option, it is kept in the service's file descriptor store; none: nowhere "
	     "(default: supervisor.state beside the heartbeat socket)"},
    {.name = "config", .short_name = 'C', .flags = OPTION_ARG,
     .special = OPTION_SPECIAL_CONFIG, .arg = "PATH",
     .help = "configuration file, none if the default one does not exist: [supervisor] "
	     "takes every option above as a key (detect-exit = yes), and [worker NAME] "
	     "sections a worker's timeout, on-timeout, intensity and expected (yes: missing "
	     "until it comes); the command line wins. SIGHUP reloads it",
     .def = SUPERVISOR_CONFIG_DEFAULT},
    {.name = "check-config", .special = OPTION_SPECIAL_CHECK,
     .help = "check the configuration and the options, and exit"},
    {.name = "help", .short_name = 'h', .special = OPTION_SPECIAL_HELP,
     .help = "show this help and exit"},
    {.name = "version", .short_name = 'V', .special = OPTION_SPECIAL_VERSION,
     .help = "show the version and exit"},
};
const size_t options_count = sizeof(options_table) / sizeof(options_table[0]);

_Static_assert(sizeof(options_table) / sizeof(options_table[0]) <= OPTIONS_MAX,
	       "settings.given has a bit per option");

const struct option_def *
options_find(const char *name, size_t len)
{
	for (size_t i = 0; i < options_count; i++) {
		if (strlen(options_table[i].name) == len &&
		    memcmp(options_table[i].name, name, len) == 0)
			return &options_table[i];
	}
	return NULL;
}

int
options_apply(struct settings *s, unsigned i, const char *arg, char *err, size_t errlen)
{
	if (i >= options_count || options_table[i].parse == NULL) {
		snprintf(err, errlen, "not a setting");
		return -1;
	}
	if (options_table[i].parse(s, arg, err, errlen) == -1)
		return -1;
	s->given |= 1ULL << i;
	return 0;
}

/*
 * Print text for --help from column *col: words wrapped at HELP_WIDTH, each
 * new line indented to HELP_COLUMN; a '\n' in text starts a new line. fresh:
 * nothing is on the line yet, so the first word needs no space before it.
 */
static void
options_usage_words(FILE *fp, const char *text, int *col, int fresh)
{
	while (*text != '\0') {
		size_t n = strcspn(text, " \n");
		if (n == 0) {
			if (*text++ == '\n')
				*col = HELP_WIDTH; /* the next word goes on a new line */
			continue;
		}
		if (!fresh && *col + 1 + (int)n > HELP_WIDTH) {
			fprintf(fp, "\n%*s", HELP_COLUMN, "");
			*col = HELP_COLUMN;
		} else if (!fresh) {
			fputc(' ', fp);
			(*col)++;
		}
		fwrite(text, 1, n, fp);
		*col += (int)n;
		text += n;
		fresh = 0;
	}
}

/* One form of option o for --help: "  -s, --socket PATH       heartbeat socket (default ...)". */
static void
options_usage_row(FILE *fp, const struct option_def *o, const char *arg, const char *help,
		  const char *def)
{
	char d[128];
	int col;

	if (o->short_name != 0)
		col = fprintf(fp, "  -%c, --%s%s%s", o->short_name, o->name, arg ? " " : "",
			      arg ? arg : "");
	else
		col = fprintf(fp, "      --%s%s%s", o->name, arg ? " " : "", arg ? arg : "");
	col += fprintf(fp, "%*s", col < HELP_COLUMN ? HELP_COLUMN - col : 2, "");
	options_usage_words(fp, help != NULL ? help : "", &col, 1);
	/* The default whole on one line, so that it can be read (and grepped) as one. */
	if (def != NULL) {
		int n = snprintf(d, sizeof(d), "(default %s)", def);
		if (col + 1 + n > HELP_WIDTH)
			fprintf(fp, "\n%*s%s", HELP_COLUMN, "", d);
		else
			fprintf(fp, " %s", d);
	}
	fputc('\n', fp);
}

void
options_usage(FILE *fp)
{
	fprintf(fp, "Usage: vigil-supervisor [OPTION]...\n"
		    "Watch workers' heartbeats; report, and tell, those that go silent.\n\n");
	for (size_t i = 0; i < options_count; i++) {
		const struct option_def *o = &options_table[i];
		options_usage_row(fp, o, o->arg, o->help, o->def);
		if (o->alt_arg != NULL)
			options_usage_row(fp, o, o->alt_arg, o->alt_help, NULL);
	}
	fprintf(fp, "\nExit status: 0 after SIGTERM or SIGINT, 1 on a runtime error (a socket that\n"
		    "cannot be bound, ...), 2 on a usage error.\n");
}

/* Exit 2 with "vigil-supervisor: WHAT 'ARG'[: WHY]" and a pointer to --help. */
static void __attribute__((noreturn))
usage_error(const char *what, const char *arg, const char *why)
{
	fprintf(stderr, "vigil-supervisor: %s '%s'%s%s\n", what, arg, why ? ": " : "",
		why ? why : "");
	fprintf(stderr, "Try 'vigil-supervisor --help' for more information.\n");
	exit(2);
}

void
options_parse_argv(int argc, char **argv, struct options_cli *cli, void (*usage)(FILE *fp))
{
	struct option longopts[OPTIONS_MAX + 1];
	char shorts[2 * OPTIONS_MAX + 2] = ":";
	struct settings scratch;
	char err[VIGIL_ERRLEN], what[96];
	int ch;

	memset(cli, 0, sizeof(*cli));
	cli->config_path = SUPERVISOR_CONFIG_DEFAULT;
	if ((cli->args = calloc((size_t)argc + 1, sizeof(*cli->args))) == NULL) {
		fprintf(stderr, "vigil-supervisor: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < options_count; i++) {
		const struct option_def *o = &options_table[i];
		int has = (o->flags & OPTION_ARG) ? required_argument : no_argument;
		longopts[i] = (struct option){o->name, has, NULL, o->short_name ? o->short_name
										 : 256 + (int)i};
		if (o->short_name != 0) {
			size_t n = strlen(shorts);
			shorts[n++] = (char)o->short_name;
			if (has == required_argument)
				shorts[n++] = ':';
			shorts[n] = '\0';
		}
	}
	longopts[options_count] = (struct option){NULL, 0, NULL, 0};

	/* Every value is checked now, in order, so that the first bad one is named. */
	settings_init(&scratch);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		if (ch == ':')
			usage_error("option needs a value:", argv[optind - 1], NULL);
		unsigned i = options_count;
		for (size_t k = 0; k < options_count; k++) {
			if (longopts[k].val == ch) {
				i = (unsigned)k;
				break;
			}
		}
		if (i == options_count)
			usage_error("unknown option", argv[optind - 1], NULL);
		switch (options_table[i].special) {
		case OPTION_SPECIAL_CONFIG:
			cli->config_path = optarg;
			if (optarg[0] != '/' && options_absolute(optarg, cli->config_abs,
								 sizeof(cli->config_abs)) == 0)
				cli->config_path = cli->config_abs;
			cli->config_given = 1;
			continue;
		case OPTION_SPECIAL_CHECK:
			cli->check_config = 1;
			continue;
		case OPTION_SPECIAL_HELP:
			usage(stdout);
			exit(0);
		case OPTION_SPECIAL_VERSION:
			printf("vigil-supervisor %s\n", VIGIL_VERSION);
			exit(0);
		case OPTION_SPECIAL_NONE:
			break;
		}
		if (options_apply(&scratch, i, optarg, err, sizeof(err)) == -1) {
			snprintf(what, sizeof(what), "invalid --%s", options_table[i].name);
			usage_error(what, optarg, err);
		}
		cli->args[cli->nargs].opt = i;
		cli->args[cli->nargs].arg = optarg;
		cli->nargs++;
	}
	if (optind < argc)
		usage_error("unexpected argument", argv[optind], NULL);
}

int
options_apply_cli(const struct options_cli *cli, struct settings *s, char *err, size_t errlen)
{
	char why[VIGIL_ERRLEN];

	for (size_t k = 0; k < cli->nargs; k++) {
		unsigned i = cli->args[k].opt;
		const char *arg = cli->args[k].arg;
		if (options_apply(s, i, arg, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "invalid --%s '%s': %s", options_table[i].name,
				 arg ? arg : "", why);
			return -1;
		}
	}
	return 0;
}

int
settings_check(const struct settings *s, unsigned *opt, char *err, size_t errlen)
{
	if (s->phi.threshold != 0)
		return 0;
	for (unsigned i = 0; i < options_count; i++) {
		if ((s->given & (1ULL << i)) && (options_table[i].parse == parse_phi_min_stddev ||
						  options_table[i].parse == parse_phi_pause)) {
			*opt = i;
			snprintf(err, errlen, "phi-min-stddev and phi-pause need timeout phi:T");
			return -1;
		}
	}
	return 0;
}

void
options_cli_free(struct options_cli *cli)
{
	free(cli->args);
	cli->args = NULL;
}
