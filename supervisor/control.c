/*
 * control.c: the control socket server. See control.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "command.h"
#include "control.h"
#include "duration.h"
#include "hooks.h"
#include "supervisor.h"

struct control_client {
	struct control *ctl;
	struct bufferevent *bev;
	struct control_client *next;
	int closing; /* quit, an error, or EOF with every line answered: close once written */
	int eof;     /* the client will send nothing more */
};

struct control {
	struct supervisor *sv;
	struct evconnlistener *listener;
	struct control_client *clients;
	size_t nclients;
	struct log_ratelimit rl_refused;
	struct event *resume; /* re-enables accepting after running out of descriptors */
};

/* A command writes its one reply line to out; it returns -1 for quit (no reply). */
struct control_cmd {
	const char *name;
	const char *help;
	int (*fn)(struct supervisor *sv, struct evbuffer *out);
};

static int control_cmd_status(struct supervisor *sv, struct evbuffer *out);
static int control_cmd_help(struct supervisor *sv, struct evbuffer *out);
static int control_cmd_version(struct supervisor *sv, struct evbuffer *out);
static int control_cmd_quit(struct supervisor *sv, struct evbuffer *out);

/* Every control command; "help" is generated from this table. */
static const struct control_cmd control_cmds[] = {
    {"status", "every worker and the supervisor's counters", control_cmd_status},
    {"version", "the supervisor's version", control_cmd_version},
    {"help", "this list", control_cmd_help},
    {"quit", "close the connection", control_cmd_quit},
};
#define CONTROL_NCMDS (sizeof(control_cmds) / sizeof(control_cmds[0]))

#define CONTROL_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

/* Append reply (a reference this takes) to out as one line; an error line if it is NULL. */
static void
control_put(struct evbuffer *out, json_t *reply)
{
	char *text = reply != NULL ? json_dumps(reply, CONTROL_JSON_FLAGS) : NULL;

	if (text == NULL)
		evbuffer_add_printf(out, "{\"error\":\"out of memory\"}\n");
	else
		evbuffer_add_printf(out, "%s\n", text);
	free(text);
	json_decref(reply);
}

/* Append obj (a reference this takes) to out, unterminated; -1 if it cannot be encoded. */
static int
control_put_json(struct evbuffer *out, json_t *obj)
{
	char small[2048];
	int rc = -1;

	if (obj == NULL)
		return -1;
	size_t n = json_dumpb(obj, small, sizeof(small), CONTROL_JSON_FLAGS);
	if (n > 0 && n <= sizeof(small)) {
		rc = evbuffer_add(out, small, n);
	} else if (n > 0) {
		char *text = json_dumps(obj, CONTROL_JSON_FLAGS);
		if (text != NULL)
			rc = evbuffer_add(out, text, strlen(text));
		free(text);
	}
	json_decref(obj);
	return rc;
}

/* The supervisor's own part of the status document. */
static json_t *
control_status_supervisor(struct supervisor *sv, uint64_t now)
{
	json_t *invalid = json_object();
	uint64_t invalid_total = 0, hooks_started, hooks_refused, hooks_killed;

	hooks_counts(sv->hooks, &hooks_started, &hooks_refused, &hooks_killed);
	if (invalid == NULL)
		return NULL;
	for (int code = 1; code < VIGIL_WIRE_NERR; code++) {
		json_object_set_new(invalid, vigil_wire_strerror(code),
				    json_integer((json_int_t)sv->counters.invalid[code]));
		invalid_total += sv->counters.invalid[code];
	}
	return json_pack("{s:I, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I, s:I}",
			 "pid", (json_int_t)getpid(), "version", VIGIL_VERSION, "uptime_s",
			 (double)(now - sv->started) / 1e6, "timeout_ms",
			 (json_int_t)(sv->timeout / 1000), "workers",
			 (json_int_t)sv->registry.count, "max_workers", (json_int_t)sv->max_workers,
			 "datagrams", (json_int_t)sv->counters.datagrams, "invalid_datagrams",
			 (json_int_t)invalid_total, "invalid_by_reason", invalid, "rejected_workers",
			 (json_int_t)sv->counters.rejected_full, "timeouts_sent",
			 (json_int_t)sv->counters.timeouts_sent, "timeouts_undelivered",
			 (json_int_t)sv->counters.timeouts_undelivered, "pause_graces",
			 (json_int_t)sv->counters.graces, "senders_refused",
			 (json_int_t)sv->counters.senders_refused, "impersonations",
			 (json_int_t)sv->counters.impersonations, "signals_sent",
			 (json_int_t)sv->counters.signals_sent, "signals_refused",
			 (json_int_t)sv->counters.signals_refused, "hooks_started",
			 (json_int_t)hooks_started, "hooks_refused", (json_int_t)hooks_refused,
			 "hooks_killed", (json_int_t)hooks_killed);
}

/*
 * The status document, {"workers":[...],"supervisor":{...}}, written a
 * worker at a time: its peak memory is the text itself (a few hundred bytes
 * a worker), not a tree of every worker's fields besides. Built in its own
 * buffer, so that a failure midway sends an error line, never half a line.
 */
static int
control_cmd_status(struct supervisor *sv, struct evbuffer *out)
{
	struct registry *r = &sv->registry;
	uint64_t now = vigil_now_usec();
	struct evbuffer *doc = evbuffer_new();
	struct worker **list = NULL;
	int ok = doc != NULL;

	if (ok && r->count > 0 && (list = calloc(r->count, sizeof(*list))) == NULL)
		ok = 0;
	size_t n = ok ? registry_list(r, list, r->count) : 0;
	ok = ok && evbuffer_add_printf(doc, "{\"workers\":[") > 0;
	for (size_t i = 0; ok && i < n; i++) {
		struct vigil_status_row row;
		registry_row(list[i], now, &row);
		ok = (i == 0 || evbuffer_add(doc, ",", 1) == 0) &&
		     control_put_json(doc, vigil_status_row_to_json(&row)) == 0;
	}
	free(list);
	ok = ok && evbuffer_add_printf(doc, "],\"supervisor\":") > 0 &&
	     control_put_json(doc, control_status_supervisor(sv, now)) == 0 &&
	     evbuffer_add(doc, "}\n", 2) == 0;
	if (ok)
		evbuffer_add_buffer(out, doc); /* moves the chunks, no copy */
	else
		control_put(out, NULL);
	if (doc != NULL)
		evbuffer_free(doc);
	return 0;
}

static int
control_cmd_version(struct supervisor *sv, struct evbuffer *out)
{
	(void)sv;
	control_put(out, json_pack("{s:s}", "version", VIGIL_VERSION));
	return 0;
}

static int
control_cmd_help(struct supervisor *sv, struct evbuffer *out)
{
	json_t *cmds = json_object();

	(void)sv;
	for (size_t i = 0; cmds != NULL && i < CONTROL_NCMDS; i++)
		json_object_set_new(cmds, control_cmds[i].name, json_string(control_cmds[i].help));
	control_put(out, cmds != NULL ? json_pack("{s:o}", "commands", cmds) : NULL);
	return 0;
}

static int
control_cmd_quit(struct supervisor *sv, struct evbuffer *out)
{
	(void)sv;
	(void)out;
	return -1;
}

/* Answer one command; -1 for quit. */
static int
control_dispatch(struct supervisor *sv, const struct command *cmd, struct evbuffer *out)
{
	char word[32], msg[96];

	for (size_t i = 0; i < CONTROL_NCMDS; i++) {
		if (strlen(control_cmds[i].name) == cmd->len &&
		    memcmp(control_cmds[i].name, cmd->word, cmd->len) == 0)
			return control_cmds[i].fn(sv, out);
	}
	command_word(cmd, word, sizeof(word));
	snprintf(msg, sizeof(msg), "unknown command '%s' (try help)", word);
	control_put(out, json_pack("{s:s}", "error", msg));
	return 0;
}

static void
control_client_free(struct control_client *cl)
{
	struct control *ctl = cl->ctl;

	for (struct control_client **pp = &ctl->clients; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	ctl->nclients--;
	bufferevent_free(cl->bev);
	free(cl);
}

/* Append one reply line (a JSON object; a reference this takes) to the client's output. */
static void
control_reply(struct control_client *cl, json_t *reply)
{
	control_put(bufferevent_get_output(cl->bev), reply);
}

/* Answer one command line. */
static void
control_client_line(struct control_client *cl, const char *line, size_t len)
{
	struct command cmd;

	switch (command_parse(line, len, &cmd)) {
	case COMMAND_EMPTY:
		return;
	case COMMAND_TOO_LONG:
		control_reply(cl, json_pack("{s:s}", "error", "line too long"));
		cl->closing = 1;
		return;
	case COMMAND_BINARY:
		control_reply(cl, json_pack("{s:s}", "error", "not a line of text"));
		return;
	case COMMAND_ARGS:
		control_reply(cl, json_pack("{s:s}", "error", "commands take no arguments (try help)"));
		return;
	case COMMAND_OK:
		if (control_dispatch(cl->ctl->sv, &cmd, bufferevent_get_output(cl->bev)) == -1)
			cl->closing = 1; /* quit */
		return;
	}
}

/*
 * Answer the client's complete lines, one at a time: the next is read only
 * once the previous reply is written out, so a client that pipelines
 * commands and never reads holds one reply, not one per command. At eof, a
 * last line without '\n' is answered too.
 */
static void
control_client_process(struct control_client *cl)
{
	struct evbuffer *in = bufferevent_get_input(cl->bev);
	struct evbuffer *out = bufferevent_get_output(cl->bev);
	size_t len, left;
	char *line;

	for (;;) {
		if (cl->closing || evbuffer_get_length(out) > 0)
			return;
		if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) == NULL)
			break;
		control_client_line(cl, line, len);
		free(line);
	}
	left = evbuffer_get_length(in);
	if (left > CONTROL_MAX_LINE) {
		control_reply(cl, json_pack("{s:s}", "error", "line too long"));
		cl->closing = 1;
	} else if (cl->eof && left > 0) {
		/* The input buffer's end is frozen: copy the last line out instead of adding '\n'. */
		char last[CONTROL_MAX_LINE + 1];
		evbuffer_remove(in, last, left);
		last[left] = '\0';
		control_client_line(cl, last, left);
	}
	if (cl->eof && evbuffer_get_length(in) == 0)
		cl->closing = 1;
}

/* A closing client goes once its replies are written. */
static void
control_client_maybe_close(struct control_client *cl)
{
	if (!cl->closing)
		return;
	bufferevent_disable(cl->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0)
		control_client_free(cl);
}

static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	control_client_process(cl);
	control_client_maybe_close(cl);
}

/* A reply is written out: go on with the next line, or close. */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	control_client_process(cl);
	control_client_maybe_close(cl);
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *cl = arg;

	if (what & BEV_EVENT_EOF) {
		/* The client is done sending (socat at end of input): answer, then close. */
		cl->eof = 1;
		control_client_process(cl);
		control_client_maybe_close(cl);
		return;
	}
	/* An error, or idle too long (CONTROL_IDLE_SEC) or not reading its reply. */
	control_client_free(cl);
}

static void
control_accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen,
		  void *arg)
{
	struct control *ctl = arg;
	struct control_client *cl;

	if (ctl->nclients >= CONTROL_MAX_CLIENTS) {
		static const char busy[] = "{\"error\":\"too many control clients\"}\n";
		log_ratelimited(&ctl->rl_refused, vigil_now_usec(), LOG_LEVEL_WARN,
				"refused control client: %d already connected",
				CONTROL_MAX_CLIENTS);
		/* A fresh socket's buffer is empty: this cannot block. */
		(void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		close(fd);
		return;
	}
	cl->ctl = ctl;
	cl->bev = bufferevent_socket_new(ctl->sv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cl->bev == NULL) {
		close(fd);
		free(cl);
		return;
	}
	cl->next = ctl->clients;
	ctl->clients = cl;
	ctl->nclients++;
	bufferevent_setcb(cl->bev, control_read_cb, control_write_cb, control_event_cb, cl);
	/* Bounded input (reading pauses above it), and no client may linger. */
	bufferevent_setwatermark(cl->bev, EV_READ, 0, CONTROL_MAX_INPUT);
	struct timeval idle = {.tv_sec = CONTROL_IDLE_SEC}, stuck = {.tv_sec = CONTROL_WRITE_SEC};
	bufferevent_set_timeouts(cl->bev, &idle, &stuck);
	bufferevent_priority_set(cl->bev, 0);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

static void
control_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	evconnlistener_enable(ctl->listener);
}

static void
control_error_cb(struct evconnlistener *lev, void *arg)
{
	struct control *ctl = arg;
	int saved = errno;
	struct timeval pause = {.tv_sec = 0, .tv_usec = CONTROL_ACCEPT_PAUSE_USEC};

	log_ratelimited(&ctl->rl_refused, vigil_now_usec(), LOG_LEVEL_WARN,
			"accept on %s: %s (pausing new control clients)", ctl->sv->control_path,
			strerror(saved));
	/*
	 * Out of descriptors (EMFILE, ENFILE) or memory: the pending connection
	 * stays queued and the socket stays readable, so retrying at once would
	 * spin. Stop accepting for a moment; heartbeats are not affected.
	 */
	evconnlistener_disable(lev);
	event_add(ctl->resume, &pause);
}

struct control *
control_start(struct supervisor *sv, char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));

	if (ctl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->sv = sv;
	/* Accepted sockets close on exec: a hook must not hold a vigilctl connection open. */
	ctl->listener = evconnlistener_new(sv->base, control_accept_cb, ctl, LEV_OPT_CLOSE_ON_EXEC,
					   -1, sv->ctl_sock.fd);
	if (ctl->listener == NULL) {
		snprintf(err, errlen, "cannot accept on %s", sv->control_path);
		free(ctl);
		return NULL;
	}
	evconnlistener_set_error_cb(ctl->listener, control_error_cb);
	if ((ctl->resume = evtimer_new(sv->base, control_resume_cb, ctl)) == NULL) {
		snprintf(err, errlen, "cannot create the accept timer");
		control_free(ctl);
		return NULL;
	}
	return ctl;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		control_client_free(ctl->clients);
	evconnlistener_free(ctl->listener);
	if (ctl->resume != NULL)
		event_free(ctl->resume);
	free(ctl);
}
