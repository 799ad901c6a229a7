/*
 * check.c: vigilctl check. See check.h.
 *
 * The monitoring-plugins guidelines, as applied here: one line of output,
 * "VIGIL OK - web-1 alive (silent 0.31s of 3s) | 'web-1 silent'=0.310s;;3;0
 * 'web-1 missed'=0;;1;0 'web-1 timeouts'=0c"; the worst state decides the
 * exit status; everything that keeps the check itself from judging (the
 * supervisor unreachable, a name it does not know, a bad argument, a reply
 * it cannot read) is UNKNOWN, 3, said on that line, never a stack of
 * messages on stderr. It asks `status NAME` for each name on one connection
 * to the control socket: small replies, whatever the number of workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "sock.h"
#include "status.h"
#include "wire.h"

#define CHECK_TIMEOUT_SEC 5
#define CHECK_MAX_NAMES 256
#define CHECK_MAX_REPLY (1u << 20) /* one worker and its history */

static const char *const check_labels[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

enum check_state
check_state_of(const char *state, int warn_late)
{
	static const struct {
		const char *name;
		enum check_state st;
	} table[] = {
	    {"alive", CHECK_OK},        {"expected", CHECK_OK},   {"stopped", CHECK_WARNING},
	    {"dead", CHECK_CRITICAL},   {"exited", CHECK_CRITICAL}, {"failed", CHECK_CRITICAL},
	    {"missing", CHECK_CRITICAL}, {"unwatched", CHECK_OK},
	};

	if (strcmp(state, "late") == 0)
		return warn_late ? CHECK_WARNING : CHECK_OK;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(state, table[i].name) == 0)
			return table[i].st;
	return CHECK_UNKNOWN;
}

enum check_state
check_worse(enum check_state a, enum check_state b)
{
	static const int rank[] = {[CHECK_OK] = 0, [CHECK_UNKNOWN] = 1, [CHECK_WARNING] = 2,
				   [CHECK_CRITICAL] = 3};
	return rank[b] > rank[a] ? b : a;
}

/* A connection to the control socket; -1 with err saying why. */
struct check_conn {
	int fd;
	char *buf;
	size_t used, cap;
};

static int
check_connect(struct check_conn *c, const char *control, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct timeval tv = {.tv_sec = CHECK_TIMEOUT_SEC};

	if (vigil_sock_addr(control, &sun, &len, err, errlen) == -1)
		return -1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1 || connect(c->fd, (struct sockaddr *)&sun, len) == -1) {
		snprintf(err, errlen, "cannot connect to %s: %s%s", control, strerror(errno),
			 errno == ENOENT || errno == ECONNREFUSED ? " (is vigil-supervisor running?)"
								  : "");
		return -1;
	}
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

/* Ask one command line and read its one reply line as JSON; NULL with err saying why. */
static json_t *
check_ask(struct check_conn *c, const char *control, const char *command, char *err,
	  size_t errlen)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%s\n", command);
	char *nl;
	json_error_t jerr;

	if (send(c->fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "cannot send to %s: %s", control, strerror(errno));
		return NULL;
	}
	while ((nl = c->used > 0 ? memchr(c->buf, '\n', c->used) : NULL) == NULL) {
		if (c->used + 4096 > c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 16384;
			char *nbuf = cap <= CHECK_MAX_REPLY ? realloc(c->buf, cap) : NULL;
			if (nbuf == NULL) {
				snprintf(err, errlen, "reply from %s is too large", control);
				return NULL;
			}
			c->buf = nbuf;
			c->cap = cap;
		}
		ssize_t r = recv(c->fd, c->buf + c->used, c->cap - c->used, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				snprintf(err, errlen, "%s closed the connection", control);
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				snprintf(err, errlen, "no reply from %s within %ds", control,
					 CHECK_TIMEOUT_SEC);
			else
				snprintf(err, errlen, "no reply from %s: %s", control, strerror(errno));
			return NULL;
		}
		c->used += (size_t)r;
	}
	json_t *reply = json_loadb(c->buf, (size_t)(nl - c->buf), 0, &jerr);
	c->used -= (size_t)(nl + 1 - c->buf);
	memmove(c->buf, nl + 1, c->used);
	if (reply == NULL)
		snprintf(err, errlen, "bad reply from %s: %s", control, jerr.text);
	return reply;
}

/* A duration in seconds for people: "3s", "0.5s", "1.25s". */
static void
check_seconds(double s, char *out, size_t cap)
{
	snprintf(out, cap, "%.3f", s);
	char *end = out + strlen(out) - 1;
	while (*end == '0')
		*end-- = '\0';
	if (*end == '.')
		*end = '\0';
	strncat(out, "s", cap - strlen(out) - 1);
}

/* One worker's words and performance data; its state for the check. */
static enum check_state
check_worker(const struct vigil_status_row *row, int warn_late, FILE *text, FILE *perf)
{
	enum check_state st = check_state_of(row->state, warn_late);
	char silent[32], timeout[32];

	check_seconds(row->silent_s, silent, sizeof(silent));
	check_seconds((double)row->timeout_ms / 1000.0, timeout, sizeof(timeout));
	fprintf(text, "%s %s (silent %s of %s", row->name, row->state, silent, timeout);
	if (row->missed > 0)
		fprintf(text, ", missed %llu", (unsigned long long)row->missed);
	fputc(')', text);
	/* 'NAME silent'=S;WARN;CRIT;0: the late threshold warns only under --warn-late. */
	fprintf(perf, " '%s silent'=%.3fs;", row->name, row->silent_s);
	if (warn_late && row->interval_ms > 0)
		fprintf(perf, "%.3f", 2.0 * (double)row->interval_ms / 1000.0);
	fprintf(perf, ";%.3f;0 '%s missed'=%llu;;1;0 '%s timeouts'=%lluc", (double)row->timeout_ms / 1000.0,
		row->name, (unsigned long long)row->missed, row->name,
		(unsigned long long)row->timeouts);
	return st;
}

/* Print the plugin's line and return its exit status. */
static int
check_say(enum check_state st, const char *text, const char *perf)
{
	printf("VIGIL %s - %s%s%s\n", check_labels[st], text, perf[0] != '\0' ? " |" : "", perf);
	fflush(stdout);
	return (int)st;
}

static int
check_usage(const char *msg, const char *arg)
{
	char text[256];

	snprintf(text, sizeof(text), "usage: vigilctl check [--warn-late] NAME...: %s%s%s", msg,
		 arg != NULL ? " " : "", arg != NULL ? arg : "");
	return check_say(CHECK_UNKNOWN, text, "");
}

int
check_run(const char *control, int argc, char **argv)
{
	const char *names[CHECK_MAX_NAMES];
	size_t nnames = 0;
	int warn_late = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--warn-late") == 0)
			warn_late = 1;
		else if (argv[i][0] == '-')
			return check_usage("unknown argument", argv[i]);
		else if (!vigil_wire_name_valid(argv[i], strlen(argv[i])))
			return check_usage("invalid worker name (use 1 to 64 of A-Z a-z 0-9 . _ @ : -):",
					   argv[i]);
		else if (nnames == CHECK_MAX_NAMES)
			return check_usage("too many names, at most", "256");
		else
			names[nnames++] = argv[i];
	}
	if (nnames == 0)
		return check_usage("name at least one worker", NULL);

	struct check_conn c = {.fd = -1};
	char err[512];
	if (check_connect(&c, control, err, sizeof(err)) == -1) {
		if (c.fd != -1)
			close(c.fd);
		return check_say(CHECK_UNKNOWN, err, "");
	}

	char *text = NULL, *perf = NULL;
	size_t textlen = 0, perflen = 0;
	FILE *tf = open_memstream(&text, &textlen), *pf = open_memstream(&perf, &perflen);
	enum check_state worst = CHECK_OK;
	int failed = tf == NULL || pf == NULL;
	for (size_t i = 0; i < nnames && !failed; i++) {
		char command[96];
		snprintf(command, sizeof(command), "status %s", names[i]);
		json_t *reply = check_ask(&c, control, command, err, sizeof(err));
		if (reply == NULL) {
			failed = 1;
			break;
		}
		const char *error = json_string_value(json_object_get(reply, "error"));
		struct vigil_status_row row;
		if (i > 0)
			fputs(", ", tf);
		if (error != NULL && strncmp(error, "no worker called", 16) == 0) {
			fprintf(tf, "%s unknown to the supervisor", names[i]);
			worst = check_worse(worst, CHECK_UNKNOWN);
		} else if (error != NULL) {
			snprintf(err, sizeof(err), "the supervisor says: %s", error);
			failed = 1;
		} else if (vigil_status_row_from_json(json_object_get(reply, "worker"), &row, err,
						      sizeof(err)) == -1) {
			failed = 1;
		} else {
			worst = check_worse(worst, check_worker(&row, warn_late, tf, pf));
		}
		json_decref(reply);
	}
	close(c.fd);
	free(c.buf);
	if (tf != NULL)
		fclose(tf);
	if (pf != NULL)
		fclose(pf);
	int rc = failed ? check_say(CHECK_UNKNOWN, tf == NULL || pf == NULL ? "out of memory" : err, "")
			: check_say(worst, text, perf);
	free(text);
	free(perf);
	return rc;
}
