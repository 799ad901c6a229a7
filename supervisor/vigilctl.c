/*
 * vigilctl.c: the control client. Sends command lines to the supervisor's
 * control socket and renders the JSON replies: as a table (through the
 * status field table in common/status.c), as lines, as a live view, or as
 * they came (--json).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "duration.h"
#include "sock.h"
#include "status.h"
#include "wire.h"

#define VIGILCTL_CONTROL_DEFAULT "/run/vigil/control.sock"
#define VIGILCTL_TIMEOUT_MS 5000
#define VIGILCTL_MAX_REPLY (256u << 20) /* a million workers fit */

struct vigilctl {
	const char *control;
	int json;
};

static volatile sig_atomic_t vigilctl_interrupted; /* SIGINT/TERM/HUP/QUIT: watch, events */
static volatile sig_atomic_t vigilctl_suspended;   /* SIGTSTP (Ctrl-Z) during watch */

struct vigilctl_cmd {
	const char *name;
	const char *args;
	const char *help;
	int (*fn)(struct vigilctl *ctl, int argc, char **argv);
};

static int vigilctl_status(struct vigilctl *ctl, int argc, char **argv);
static int vigilctl_watch(struct vigilctl *ctl, int argc, char **argv);
static int vigilctl_events(struct vigilctl *ctl, int argc, char **argv);
static int vigilctl_forget(struct vigilctl *ctl, int argc, char **argv);
static int vigilctl_reload(struct vigilctl *ctl, int argc, char **argv);
static int vigilctl_plugin(struct vigilctl *ctl, int argc, char **argv);

/* Every vigilctl command; usage() is generated from this table. */
static const struct vigilctl_cmd vigilctl_cmds[] = {
    {"status", "[--json] [NAME]",
     "every worker (state, pid, sequence, misses, silence), or one with its history",
     vigilctl_status},
    {"watch", "[--interval DUR]", "status, redrawn in place until q or Ctrl-C", vigilctl_watch},
    {"events", "[--json]", "print events (timeouts, restarts, ...) as they happen",
     vigilctl_events},
    {"forget", "NAME", "drop a stopped, dead, exited or missing worker", vigilctl_forget},
    {"reload", "", "re-read the configuration file (as SIGHUP does)", vigilctl_reload},
    {"check", "[--warn-late] NAME...",
     "a monitoring plugin: one line, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
     vigilctl_plugin},
};
#define VIGILCTL_NCMDS (sizeof(vigilctl_cmds) / sizeof(vigilctl_cmds[0]))

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: vigilctl [--control PATH] COMMAND [ARGS]\n"
		    "Query a running vigil-supervisor.\n\nCommands:\n");
	for (size_t i = 0; i < VIGILCTL_NCMDS; i++)
		fprintf(fp, "  %-6s %-16s %s\n", vigilctl_cmds[i].name, vigilctl_cmds[i].args,
			vigilctl_cmds[i].help);
	fprintf(fp, "\nOptions:\n"
		    "  -c, --control PATH  the supervisor's control socket (default " VIGILCTL_CONTROL_DEFAULT ")\n"
		    "  -h, --help          show this help and exit\n"
		    "  -V, --version       show the version and exit\n"
		    "\nExit status: 0 success, 1 the supervisor could not be reached or answered\n"
		    "badly, 2 usage error.\n");
}

static int
usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "vigilctl: %s%s%s\nTry 'vigilctl --help' for more information.\n", msg,
		arg ? " " : "", arg ? arg : "");
	return 2;
}

/* Connect to the control socket; -1 after saying why. */
static int
vigilctl_connect(struct vigilctl *ctl)
{
	struct sockaddr_un sun;
	socklen_t len;
	char err[VIGIL_ERRLEN];

	if (vigil_sock_addr(ctl->control, &sun, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return -1;
	}
	struct stat st;
	if (stat(ctl->control, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "vigilctl: cannot connect to %s: not a socket (%s; --control takes "
				"the supervisor's control socket)\n",
			ctl->control, S_ISDIR(st.st_mode) ? "a directory" : "a file");
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, len) == -1) {
		fprintf(stderr, "vigilctl: cannot connect to %s: %s%s\n", ctl->control,
			strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ? " (is vigil-supervisor running?)"
								 : "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send one command line; -1 after saying why. */
static int
vigilctl_send(struct vigilctl *ctl, int fd, const char *command)
{
	size_t clen = strlen(command);

	if (send(fd, command, clen, MSG_NOSIGNAL) != (ssize_t)clen ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "vigilctl: cannot send to %s: %s\n", ctl->control, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reply lines from the control socket, buffered until each is whole. */
struct vigilctl_reader {
	char *buf;
	size_t used, cap;
};

/*
 * The next line as JSON; NULL after saying why (or quietly, if a signal set
 * vigilctl_interrupted). timeout_ms -1 waits for ever (events).
 */
static json_t *
vigilctl_read_line(struct vigilctl *ctl, int fd, struct vigilctl_reader *rd, int timeout_ms)
{
	json_error_t jerr;
	char *nl;

	while ((nl = rd->used > 0 ? memchr(rd->buf, '\n', rd->used) : NULL) == NULL) {
		if (rd->used + 4096 + 1 > rd->cap) {
			size_t cap = rd->cap ? rd->cap * 2 : 65536;
			char *nbuf = cap <= VIGILCTL_MAX_REPLY ? realloc(rd->buf, cap) : NULL;
			if (nbuf == NULL) {
				fprintf(stderr, "vigilctl: reply from %s is too large\n", ctl->control);
				return NULL;
			}
			rd->buf = nbuf;
			rd->cap = cap;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (vigilctl_interrupted)
			return NULL;
		/* Waiting for ever, look at the signal flag every 250 ms (no lost wakeup). */
		int r = poll(&pfd, 1, timeout_ms < 0 ? 250 : timeout_ms);
		if ((r == -1 && errno == EINTR) || (r == 0 && timeout_ms < 0))
			continue;
		if (r <= 0) {
			fprintf(stderr, "vigilctl: no reply from %s: %s\n", ctl->control,
				r == 0 ? strerror(ETIMEDOUT) : strerror(errno));
			return NULL;
		}
		ssize_t n = read(fd, rd->buf + rd->used, rd->cap - rd->used - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "vigilctl: %s closed the connection%s%s\n", ctl->control,
				n == 0 ? "" : ": ", n == 0 ? "" : strerror(errno));
			return NULL;
		}
		rd->used += (size_t)n;
	}
	/* The line's bytes, all of them: a NUL inside makes it bad, not shorter. */
	json_t *reply = json_loadb(rd->buf, (size_t)(nl - rd->buf), 0, &jerr);
	size_t rest = rd->used - (size_t)(nl + 1 - rd->buf);
	memmove(rd->buf, nl + 1, rest);
	rd->used = rest;
	if (reply == NULL)
		fprintf(stderr, "vigilctl: bad reply from %s: %s\n", ctl->control, jerr.text);
	return reply;
}

/* An {"error": ...} reply is said and freed: NULL; anything else is returned. */
static json_t *
vigilctl_check(struct vigilctl *ctl, json_t *reply)
{
	if (reply != NULL && json_is_string(json_object_get(reply, "error"))) {
		fprintf(stderr, "vigilctl: the supervisor says: %s\n",
			json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		return NULL;
	}
	return reply;
}

/*
 * Send one command line, read one reply line and parse it. Returns the JSON
 * reply or NULL after printing why.
 */
static json_t *
vigilctl_request(struct vigilctl *ctl, const char *command)
{
	struct vigilctl_reader rd = {0};
	json_t *reply = NULL;
	int fd = vigilctl_connect(ctl);

	if (fd == -1)
		return NULL;
	if (vigilctl_send(ctl, fd, command) == 0) {
		shutdown(fd, SHUT_WR);
		reply = vigilctl_check(ctl, vigilctl_read_line(ctl, fd, &rd, VIGILCTL_TIMEOUT_MS));
	}
	close(fd);
	free(rd.buf);
	return reply;
}

/* Whether to colour: a terminal, and NO_COLOR unset. */
static int
want_colour(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

/* Print a status document as the table and a line of notable counters; -1 if malformed. */
static int
vigilctl_print_status(struct vigilctl *ctl, json_t *reply, FILE *fp, int colour)
{
	json_t *workers = json_object_get(reply, "workers");
	char err[128];

	if (!json_is_array(workers)) {
		fprintf(stderr, "vigilctl: bad reply from %s: no \"workers\" array\n", ctl->control);
		return -1;
	}
	size_t n = json_array_size(workers);
	struct vigil_status_row *rows = calloc(n ? n : 1, sizeof(*rows));
	if (rows == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (vigil_status_row_from_json(json_array_get(workers, i), &rows[i], err,
					       sizeof(err)) == -1) {
			fprintf(stderr, "vigilctl: bad reply from %s: %s\n", ctl->control, err);
			free(rows);
			return -1;
		}
	}
	if (n == 0)
		fprintf(fp, "no workers yet\n");
	else
		vigil_status_print_table(fp, rows, n, colour);
	free(rows);

	json_t *sup = json_object_get(reply, "supervisor");
	json_int_t invalid = json_integer_value(json_object_get(sup, "invalid_datagrams"));
	json_int_t undelivered = json_integer_value(json_object_get(sup, "timeouts_undelivered"));
	json_int_t rejected = json_integer_value(json_object_get(sup, "rejected_workers"));
	if (invalid || undelivered || rejected)
		fprintf(fp, "\n%lld invalid datagrams dropped, %lld TIMEOUTs undelivered, %lld "
			    "workers refused (see status --json)\n",
			(long long)invalid, (long long)undelivered, (long long)rejected);
	return 0;
}

/* One event as a line for people: "08:37:30.384  timeout  a  dead  pid 23864 missed 1 ...". */
static void
vigilctl_print_event(FILE *fp, json_t *ev)
{
	const char *when = json_string_value(json_object_get(ev, "time"));

	if (when == NULL && json_object_get(ev, "dropped") != NULL) {
		fprintf(fp, "(%lld events dropped here: vigilctl read too slowly)\n",
			(long long)json_integer_value(json_object_get(ev, "dropped")));
		return;
	}
	char local[32] = "?";
	struct tm tm = {0};
	json_t *v;

	/* Sent as UTC (2026-11-29T08:37:30.384Z); shown as the local time of day. */
	const char *ms = when != NULL ? strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (ms != NULL) {
		time_t t = timegm(&tm);
		struct tm lt;
		localtime_r(&t, &lt);
		size_t n = strftime(local, sizeof(local), "%H:%M:%S", &lt);
		snprintf(local + n, sizeof(local) - n, "%.4s", *ms == '.' ? ms : "");
	}
	fprintf(fp, "%-12s  %-10s %-20s %-8s", local,
		json_string_value(json_object_get(ev, "event")) ?: "?",
		json_string_value(json_object_get(ev, "worker")) ?: "?",
		json_string_value(json_object_get(ev, "state")) ?: "?");
	if ((v = json_object_get(ev, "pid")) != NULL)
		fprintf(fp, " pid %lld", (long long)json_integer_value(v));
	if ((v = json_object_get(ev, "seq")) != NULL)
		fprintf(fp, " seq %lld", (long long)json_integer_value(v));
	if ((v = json_object_get(ev, "missed")) != NULL)
		fprintf(fp, " missed %lld", (long long)json_integer_value(v));
	if ((v = json_object_get(ev, "silent_ms")) != NULL)
		fprintf(fp, " silent %lldms", (long long)json_integer_value(v));
	if ((v = json_object_get(ev, "signal")) != NULL)
		fprintf(fp, " SIG%s", json_string_value(v) ?: "?");
	fputc('\n', fp);
}

/* status NAME, for people: its fields, then its history. */
static int
vigilctl_print_worker(struct vigilctl *ctl, json_t *w)
{
	struct vigil_status_row row;
	char err[128];
	json_t *hist = json_object_get(w, "history"), *ev;
	size_t i;

	if (vigil_status_row_from_json(w, &row, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigilctl: bad reply from %s: %s\n", ctl->control, err);
		return 1;
	}
	vigil_status_print_fields(stdout, &row, want_colour());
	json_int_t n = json_integer_value(json_object_get(hist, "intervals"));
	if (n > 0)
		printf("%-12s last %lld: min %.1fms, mean %.1fms, max %.1fms\n", "intervals",
		       (long long)n, json_number_value(json_object_get(hist, "interval_min_ms")),
		       json_number_value(json_object_get(hist, "interval_mean_ms")),
		       json_number_value(json_object_get(hist, "interval_max_ms")));
	else
		printf("%-12s none yet\n", "intervals");
	printf("\nrecent timeouts (newest first):\n");
	json_array_foreach(json_object_get(hist, "timeouts"), i, ev)
		vigilctl_print_event(stdout, ev);
	if (json_array_size(json_object_get(hist, "timeouts")) == 0)
		printf("  none\n");
	printf("\nrecent events (newest first):\n");
	json_array_foreach(json_object_get(hist, "events"), i, ev)
		vigilctl_print_event(stdout, ev);
	if (json_array_size(json_object_get(hist, "events")) == 0)
		printf("  none\n");
	return 0;
}

static int
vigilctl_status(struct vigilctl *ctl, int argc, char **argv)
{
	const char *name = NULL;
	char command[128];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else if (argv[i][0] == '-')
			return usage_error("status: unknown argument", argv[i]);
		else if (name == NULL)
			name = argv[i];
		else
			return usage_error("status: one worker name at most, not", argv[i]);
	}
	if (name != NULL && !vigil_wire_name_valid(name, strlen(name)))
		return usage_error("status: invalid worker name (use 1 to 64 of A-Z a-z 0-9 . _ @ : -):",
				   name);
	snprintf(command, sizeof(command), "status%s%s", name ? " " : "", name ? name : "");
	json_t *reply = vigilctl_request(ctl, command);
	if (reply == NULL)
		return 1;
	int rc = 0;
	if (ctl->json) {
		json_dumpf(reply, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
		putchar('\n');
	} else if (name != NULL) {
		rc = vigilctl_print_worker(ctl, json_object_get(reply, "worker"));
	} else {
		rc = vigilctl_print_status(ctl, reply, stdout, want_colour()) == -1;
	}
	json_decref(reply);
	return rc;
}

static void
vigilctl_on_signal(int sig)
{
	if (sig == SIGTSTP)
		vigilctl_suspended = 1;
	else
		vigilctl_interrupted = 1;
}

/* SIGINT, SIGTERM, SIGHUP and SIGQUIT end watch and events cleanly (the terminal restored). */
static void
vigilctl_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = vigilctl_on_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
}

static int
vigilctl_events(struct vigilctl *ctl, int argc, char **argv)
{
	struct vigilctl_reader rd = {0};
	json_t *reply;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else
			return usage_error("events: unknown argument", argv[i]);
	}
	vigilctl_catch_signals();
	int fd = vigilctl_connect(ctl);
	if (fd == -1)
		return 1;
	if (vigilctl_send(ctl, fd, "events") == -1 ||
	    (reply = vigilctl_check(ctl, vigilctl_read_line(ctl, fd, &rd, VIGILCTL_TIMEOUT_MS))) ==
		NULL)
		goto out;
	json_decref(reply);
	/* Line-buffered: each event shows (or reaches a pipe) as it happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!vigilctl_interrupted && (reply = vigilctl_read_line(ctl, fd, &rd, -1)) != NULL) {
		if (ctl->json) {
			json_dumpf(reply, stdout, JSON_COMPACT);
			putchar('\n');
		} else {
			vigilctl_print_event(stdout, reply);
		}
		fflush(stdout);
		json_decref(reply);
	}
	rc = vigilctl_interrupted ? 0 : 1;
out:
	close(fd);
	free(rd.buf);
	return rc;
}

static struct termios vigilctl_saved_tty;
static int vigilctl_tty_raw;

/* Keys without Enter, not echoed (q quits); the alternate screen, no cursor, like top. */
static void
vigilctl_tty_enter(void)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &vigilctl_saved_tty) == 0) {
		struct termios raw = vigilctl_saved_tty;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		vigilctl_tty_raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	fputs("\033[?1049h\033[?25l", stdout);
	fflush(stdout);
}

static void
vigilctl_tty_restore(void)
{
	if (vigilctl_tty_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &vigilctl_saved_tty);
	vigilctl_tty_raw = 0;
	/* Back from the alternate screen, cursor shown. */
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
}

static int
vigilctl_watch(struct vigilctl *ctl, int argc, char **argv)
{
	uint64_t every = 1000000;
	const char *why;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			if (vigil_duration_parse(argv[++i], &every, &why) == -1)
				return usage_error("watch: invalid --interval", argv[i]);
			if (every < 100000 || every > 3600 * 1000000ULL)
				return usage_error("watch: --interval must be from 100ms to 1h, not",
						   argv[i]);
		} else {
			return usage_error("watch: unknown argument", argv[i]);
		}
	}
	if (!isatty(STDOUT_FILENO))
		return usage_error("watch needs a terminal; for a pipe use: status --json, or events",
				   NULL);
	vigilctl_catch_signals();
	struct sigaction tstp = {.sa_handler = vigilctl_on_signal};
	sigemptyset(&tstp.sa_mask);
	sigaction(SIGTSTP, &tstp, NULL);
	vigilctl_tty_enter();
	int rc = 0;
	char d[32];
	vigil_duration_format(every, d, sizeof(d));
	while (!vigilctl_interrupted) {
		if (vigilctl_suspended) {
			/* Ctrl-Z: give the terminal back as it was, stop, and take it again on fg. */
			vigilctl_suspended = 0;
			vigilctl_tty_restore();
			signal(SIGTSTP, SIG_DFL);
			raise(SIGTSTP);
			sigaction(SIGTSTP, &tstp, NULL); /* continued (SIGCONT) */
			vigilctl_tty_enter();
		}
		char *text = NULL;
		size_t len = 0;
		FILE *fp = open_memstream(&text, &len);
		time_t now = time(NULL);
		char clock[16];
		if (fp == NULL) {
			rc = 1;
			break;
		}
		strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
		fprintf(fp, "vigil on %s, every %s, q quits%*s\n\n", ctl->control, d, 10, clock);
		json_t *reply = vigilctl_request(ctl, "status");
		if (reply == NULL || vigilctl_print_status(ctl, reply, fp, want_colour()) == -1)
			fprintf(fp, "(no answer from the supervisor; retrying)\n");
		json_decref(reply);
		fclose(fp);
		/* Redraw in place: home, the new screen, clear what the old one left below. */
		fputs("\033[H", stdout);
		for (char *line = text, *nl; line < text + len; line = nl + 1) {
			nl = memchr(line, '\n', (size_t)(text + len - line));
			if (nl == NULL)
				nl = text + len;
			fwrite(line, 1, (size_t)(nl - line), stdout);
			fputs("\033[K\n", stdout);
		}
		fputs("\033[J", stdout);
		fflush(stdout);
		free(text);

		/* Wait for the next round, or a key. */
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		uint64_t until = vigil_now_usec() + every;
		for (uint64_t t = vigil_now_usec();
		     t < until && !vigilctl_interrupted && !vigilctl_suspended; t = vigil_now_usec()) {
			int r = poll(&pfd, vigilctl_tty_raw ? 1 : 0, (int)((until - t) / 1000) + 1);
			char key;
			if (r > 0 && read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
				vigilctl_interrupted = 1;
		}
	}
	vigilctl_tty_restore();
	return rc;
}

/* forget NAME and reload: one command, one line of answer. */
static int
vigilctl_simple(struct vigilctl *ctl, const char *command, const char *key, const char *say)
{
	json_t *reply = vigilctl_request(ctl, command);

	if (reply == NULL)
		return 1;
	const char *v = json_string_value(json_object_get(reply, key));
	printf("%s%s%s\n", say, *say != '\0' && v != NULL ? " " : "", v != NULL ? v : "");
	json_decref(reply);
	return 0;
}

static int
vigilctl_forget(struct vigilctl *ctl, int argc, char **argv)
{
	char command[128];

	if (argc != 2)
		return usage_error("forget needs one worker name", NULL);
	if (!vigil_wire_name_valid(argv[1], strlen(argv[1])))
		return usage_error("forget: invalid worker name (use 1 to 64 of A-Z a-z 0-9 . _ @ : -):",
				   argv[1]);
	snprintf(command, sizeof(command), "forget %s", argv[1]);
	return vigilctl_simple(ctl, command, "forgotten", "forgot");
}

static int
vigilctl_reload(struct vigilctl *ctl, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("reload takes no argument, not", argv[1]);
	return vigilctl_simple(ctl, "reload", "message", ""); /* "reloaded ...: N worker sections" */
}

/* check: a monitoring plugin of its own (check.c), on the same control socket. */
static int
vigilctl_plugin(struct vigilctl *ctl, int argc, char **argv)
{
	return check_run(ctl->control, argc, argv);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"control", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct vigilctl ctl = {.control = VIGILCTL_CONTROL_DEFAULT};
	int ch;

	opterr = 0;
	/* "+": stop at the command, whose own flags come after it. */
	while ((ch = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl.control = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vigilctl %s\n", VIGIL_VERSION);
			return 0;
		case ':':
			return usage_error("option needs a value:", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("missing command (try status)", NULL);
	for (size_t i = 0; i < VIGILCTL_NCMDS; i++) {
		if (strcmp(argv[optind], vigilctl_cmds[i].name) == 0)
			return vigilctl_cmds[i].fn(&ctl, argc - optind, argv + optind);
	}
	return usage_error("unknown command", argv[optind]);
}
