/*
 * vigilctl.c: the control client. Sends one command line to the
 * supervisor's control socket and renders the JSON reply, as a table
 * (through the status field table in common/status.c) or as it came.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "sock.h"
#include "status.h"

#define VIGILCTL_CONTROL_DEFAULT "/run/vigil/control.sock"
#define VIGILCTL_TIMEOUT_MS 5000
#define VIGILCTL_MAX_REPLY (256u << 20) /* a million workers fit */

struct vigilctl {
	const char *control;
	int json;
};

struct vigilctl_cmd {
	const char *name;
	const char *args;
	const char *help;
	int (*fn)(struct vigilctl *ctl, int argc, char **argv);
};

static int vigilctl_status(struct vigilctl *ctl, int argc, char **argv);

/* Every vigilctl command; usage() is generated from this table. */
static const struct vigilctl_cmd vigilctl_cmds[] = {
    {"status", "[--json]", "show every worker: state, pid, sequence, misses, silence", vigilctl_status},
};
#define VIGILCTL_NCMDS (sizeof(vigilctl_cmds) / sizeof(vigilctl_cmds[0]))

static void
usage(FILE *fp)
{
	fprintf(fp, "Usage: vigilctl [--control PATH] COMMAND [ARGS]\n"
		    "Query a running vigil-supervisor.\n\nCommands:\n");
	for (size_t i = 0; i < VIGILCTL_NCMDS; i++)
		fprintf(fp, "  %-6s %-9s %s\n", vigilctl_cmds[i].name, vigilctl_cmds[i].args,
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

/* Wait for fd to be ready for events, up to the client's time limit. */
static int
wait_fd(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int r;

	do
		r = poll(&pfd, 1, VIGILCTL_TIMEOUT_MS);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

/*
 * Send one command line, read one reply line and parse it. Returns the JSON
 * reply or NULL after printing why.
 */
static json_t *
vigilctl_request(struct vigilctl *ctl, const char *command)
{
	struct sockaddr_un sun;
	socklen_t len;
	char err[VIGIL_ERRLEN];
	char *buf = NULL;
	size_t used = 0, cap = 0;
	json_t *reply = NULL;
	json_error_t jerr;

	if (vigil_sock_addr(ctl->control, &sun, &len, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigilctl: %s\n", err);
		return NULL;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, len) == -1) {
		fprintf(stderr, "vigilctl: cannot connect to %s: %s%s\n", ctl->control,
			strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED ? " (is vigil-supervisor running?)"
								 : "");
		goto out;
	}
	size_t clen = strlen(command);
	if (send(fd, command, clen, MSG_NOSIGNAL) != (ssize_t)clen ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		fprintf(stderr, "vigilctl: cannot send to %s: %s\n", ctl->control, strerror(errno));
		goto out;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		if (used + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *nbuf = cap <= VIGILCTL_MAX_REPLY ? realloc(buf, cap) : NULL;
			if (nbuf == NULL) {
				fprintf(stderr, "vigilctl: reply from %s is too large\n", ctl->control);
				goto out;
			}
			buf = nbuf;
		}
		if (wait_fd(fd, POLLIN) == -1) {
			fprintf(stderr, "vigilctl: no reply from %s: %s\n", ctl->control,
				strerror(errno));
			goto out;
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "vigilctl: cannot read from %s: %s\n", ctl->control,
				strerror(errno));
			goto out;
		}
		used += (size_t)n;
		if (n == 0 || memchr(buf + used - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	buf[used] = '\0';
	if ((reply = json_loads(buf, JSON_DISABLE_EOF_CHECK, &jerr)) == NULL)
		fprintf(stderr, "vigilctl: bad reply from %s: %s\n", ctl->control, jerr.text);
	else if (json_is_string(json_object_get(reply, "error"))) {
		fprintf(stderr, "vigilctl: the supervisor says: %s\n",
			json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		reply = NULL;
	}
out:
	if (fd != -1)
		close(fd);
	free(buf);
	return reply;
}

/* Whether to colour: a terminal, and NO_COLOR unset. */
static int
want_colour(void)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

static int
vigilctl_status(struct vigilctl *ctl, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else
			return usage_error("status: unknown argument", argv[i]);
	}
	json_t *reply = vigilctl_request(ctl, "status");
	if (reply == NULL)
		return 1;
	json_t *workers = json_object_get(reply, "workers");
	if (!json_is_array(workers)) {
		fprintf(stderr, "vigilctl: bad reply from %s: no \"workers\" array\n", ctl->control);
		json_decref(reply);
		return 1;
	}
	if (ctl->json) {
		json_dumpf(reply, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(reply);
		return 0;
	}

	size_t n = json_array_size(workers);
	struct vigil_status_row *rows = calloc(n ? n : 1, sizeof(*rows));
	char err[128];
	if (rows == NULL) {
		json_decref(reply);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (vigil_status_row_from_json(json_array_get(workers, i), &rows[i], err,
					       sizeof(err)) == -1) {
			fprintf(stderr, "vigilctl: bad reply from %s: %s\n", ctl->control, err);
			free(rows);
			json_decref(reply);
			return 1;
		}
	}
	if (n == 0)
		printf("no workers yet\n");
	else
		vigil_status_print_table(stdout, rows, n, want_colour());

	json_t *sup = json_object_get(reply, "supervisor");
	json_int_t invalid = json_integer_value(json_object_get(sup, "invalid_datagrams"));
	json_int_t undelivered = json_integer_value(json_object_get(sup, "timeouts_undelivered"));
	json_int_t rejected = json_integer_value(json_object_get(sup, "rejected_workers"));
	if (invalid || undelivered || rejected)
		printf("\n%lld invalid datagrams dropped, %lld TIMEOUTs undelivered, %lld workers "
		       "refused (see status --json)\n",
		       (long long)invalid, (long long)undelivered, (long long)rejected);
	free(rows);
	json_decref(reply);
	return 0;
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
