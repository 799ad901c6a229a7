/*
 * control.c: the control socket server. See control.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "command.h"
#include "config.h"
#include "control.h"
#include "duration.h"
#include "events.h"
#include "hooks.h"
#include "monitor.h"
#include "render.h"
#include "supervisor.h"

struct control_client {
	struct control *ctl;
	struct bufferevent *bev;
	struct control_client *next;
	uid_t uid;       /* the peer's, from SO_PEERCRED; (uid_t)-1 if unknown */
	int closing;     /* quit, an error, or EOF with every line answered: close once written */
	int eof;         /* the client will send nothing more */
	int subscribed;  /* "events": every event is streamed to it as a line */
	uint64_t dropped; /* events not queued for it: it read too slowly */
	struct render *render; /* "status" in progress: the document, in slices */
};

struct control {
	struct supervisor *sv;
	struct evconnlistener *listener;
	struct control_client *clients;
	size_t nclients;
	struct log_ratelimit rl_refused;
	struct event *resume; /* re-enables accepting after running out of descriptors */
	control_reload_fn reload;
};

enum control_arg { CONTROL_ARG_NONE, CONTROL_ARG_OPTIONAL, CONTROL_ARG_REQUIRED };

/*
 * A command writes its one reply line to out (its argument is arg, "" if
 * none); it returns -1 for quit (no reply). A privileged one changes state:
 * only root and the supervisor's own user may run it.
 */
struct control_cmd {
	const char *name;
	enum control_arg arg;
	int privileged;
	const char *help;
	int (*fn)(struct control_client *cl, const char *arg, struct evbuffer *out);
};

static int control_cmd_status(struct control_client *cl, const char *arg, struct evbuffer *out);
static int control_cmd_events(struct control_client *cl, const char *arg, struct evbuffer *out);
static int control_cmd_forget(struct control_client *cl, const char *arg, struct evbuffer *out);
static int control_cmd_reload(struct control_client *cl, const char *arg, struct evbuffer *out);
static int control_cmd_help(struct control_client *cl, const char *arg, struct evbuffer *out);
static int control_cmd_version(struct control_client *cl, const char *arg, struct evbuffer *out);
static int control_cmd_quit(struct control_client *cl, const char *arg, struct evbuffer *out);

/* Every control command; "help" is generated from this table. */
static const struct control_cmd control_cmds[] = {
    {"status", CONTROL_ARG_OPTIONAL, 0,
     "every worker and the supervisor's counters; status NAME: one worker and its history",
     control_cmd_status},
    {"events", CONTROL_ARG_NONE, 0, "stream every event from now on, one JSON line each",
     control_cmd_events},
    {"forget", CONTROL_ARG_REQUIRED, 1, "forget NAME: drop a stopped, dead, exited or missing worker",
     control_cmd_forget},
    {"reload", CONTROL_ARG_NONE, 1, "re-read the configuration file, as SIGHUP does",
     control_cmd_reload},
    {"version", CONTROL_ARG_NONE, 0, "the supervisor's version", control_cmd_version},
    {"help", CONTROL_ARG_NONE, 0, "this list", control_cmd_help},
    {"quit", CONTROL_ARG_NONE, 0, "close the connection", control_cmd_quit},
};
#define CONTROL_NCMDS (sizeof(control_cmds) / sizeof(control_cmds[0]))

#define CONTROL_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

static void control_client_maybe_close(struct control_client *cl);
static void control_event(const struct sv_event *ev, void *arg);

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

/* An error reply: {"error":"..."}. */
static void
control_error(struct evbuffer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
control_error(struct evbuffer *out, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	control_put(out, json_pack("{s:s}", "error", msg));
}

/* A JSON array of events (newest first). */
static json_t *
control_events_json(const struct sv_event **evs, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, events_to_json(evs[i]));
	return a;
}

/* status NAME: the worker's row and its history. */
static void
control_status_one(struct supervisor *sv, struct worker *w, struct evbuffer *out)
{
	const struct sv_event *evs[CONTROL_HISTORY_EVENTS];
	struct vigil_status_row row;
	uint64_t now = vigil_now_usec(), min, mean, max;
	size_t n = registry_intervals(w, &min, &mean, &max);
	json_t *o, *hist;

	registry_row(w, now, &row);
	if ((o = vigil_status_row_to_json(&row)) == NULL) {
		control_put(out, NULL);
		return;
	}
	hist = json_pack("{s:I, s:f, s:f, s:f}", "intervals", (json_int_t)n, "interval_min_ms",
			 (double)min / 1000, "interval_mean_ms", (double)mean / 1000,
			 "interval_max_ms", (double)max / 1000);
	if (hist != NULL) {
		size_t k = events_find(&sv->events, w->name, SV_EVENT_TIMEOUT, evs,
				       CONTROL_HISTORY_TIMEOUTS);
		json_object_set_new(hist, "timeouts", control_events_json(evs, k));
		k = events_find(&sv->events, w->name, SV_EVENT_NTYPES, evs, CONTROL_HISTORY_EVENTS);
		json_object_set_new(hist, "events", control_events_json(evs, k));
		json_object_set_new(o, "history", hist);
	}
	control_put(out, json_pack("{s:o}", "worker", o));
}

/* render_sink: whether the client's unsent output leaves room for another slice. */
static int
control_render_room(void *arg)
{
	struct control_client *cl = arg;

	return evbuffer_get_length(bufferevent_get_output(cl->bev)) < CONTROL_OUTPUT_MAX;
}

/* render_sink: the next part of the status document. */
static void
control_render_emit(void *arg, struct evbuffer *chunk, int done)
{
	struct control_client *cl = arg;

	evbuffer_add_buffer(bufferevent_get_output(cl->bev), chunk);
	if (done)
		cl->render = NULL; /* the next line is read once this reply is written */
}

/* render_sink: out of memory midway; the client sees a cut line, and is closed. */
static void
control_render_fail(void *arg)
{
	struct control_client *cl = arg;

	cl->render = NULL;
	cl->closing = 1;
	control_client_maybe_close(cl);
}

/*
 * status: the document, written a slice at a time across turns of the loop
 * (render.h) as the client reads it; status NAME: one worker, at once.
 */
static int
control_cmd_status(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	struct supervisor *sv = cl->ctl->sv;

	if (*arg != '\0') {
		struct worker *w = registry_find(&sv->registry, arg, strlen(arg));
		if (w == NULL)
			control_error(out, "no worker called '%s'", arg);
		else
			control_status_one(sv, w, out);
		return 0;
	}
	struct render_sink sink = {.room = control_render_room,
				   .emit = control_render_emit,
				   .fail = control_render_fail,
				   .arg = cl};
	if ((cl->render = render_start(sv, RENDER_STATUS, &sink)) == NULL)
		control_put(out, NULL);
	return 0;
}

/* events: from now on, every event is a line to this client. */
static int
control_cmd_events(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	size_t n = 0;

	if (cl->subscribed) {
		control_put(out, json_pack("{s:b}", "subscribed", 1));
		return 0;
	}
	for (struct control_client *c = cl->ctl->clients; c != NULL; c = c->next)
		n += c->subscribed;
	/* Subscribers are never idle-closed: they may hold only some of the client slots. */
	if (n >= CONTROL_MAX_SUBSCRIBERS) {
		control_error(out, "too many event subscribers (%d)", CONTROL_MAX_SUBSCRIBERS);
		return 0;
	}
	cl->subscribed = 1;
	/* A subscriber may stay quiet for as long as it likes; it must still read. */
	struct timeval stuck = {.tv_sec = CONTROL_WRITE_SEC};
	bufferevent_set_timeouts(cl->bev, NULL, &stuck);
	control_put(out, json_pack("{s:b}", "subscribed", 1));
	return 0;
}

/* forget NAME: drop a worker that is not alive (nor unwatched), with its history. */
static int
control_cmd_forget(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	struct supervisor *sv = cl->ctl->sv;
	struct worker *w = registry_find(&sv->registry, arg, strlen(arg));

	if (w == NULL) {
		control_error(out, "no worker called '%s'", arg);
		return 0;
	}
	/* An unwatched worker is alive too: it only asked not to be timed (WATCHDOG_USEC=0). */
	if (w->core.state == WORKER_ALIVE || w->core.state == WORKER_NEW ||
	    w->core.state == WORKER_UNWATCHED) {
		control_error(out, "worker %s is %s: only a stopped, dead, exited or missing "
				   "worker can be forgotten",
			      w->name, w->core.state == WORKER_UNWATCHED ? "unwatched (alive)" : "alive");
		return 0;
	}
	control_put(out, json_pack("{s:s}", "forgotten", arg));
	monitor_forget(sv, w);
	return 0;
}

/* reload: all or nothing; the reply says which, in one line. */
static int
control_cmd_reload(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	char msg[CONFIG_ERROR_LEN + 256];

	if (cl->ctl->reload == NULL) {
		control_error(out, "reload is not available");
		return 0;
	}
	if (cl->ctl->reload(cl->ctl->sv, msg, sizeof(msg)) == -1)
		control_error(out, "%s", msg);
	else
		control_put(out, json_pack("{s:b, s:s}", "reloaded", 1, "message", msg));
	return 0;
}

static int
control_cmd_version(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	control_put(out, json_pack("{s:s}", "version", VIGIL_VERSION));
	return 0;
}

static int
control_cmd_help(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	json_t *cmds = json_object();

	for (size_t i = 0; cmds != NULL && i < CONTROL_NCMDS; i++)
		json_object_set_new(cmds, control_cmds[i].name, json_string(control_cmds[i].help));
	control_put(out, cmds != NULL ? json_pack("{s:o}", "commands", cmds) : NULL);
	return 0;
}

static int
control_cmd_quit(struct control_client *cl, const char *arg, struct evbuffer *out)
{
	return -1;
}

/* Whether the client may change state: root, or the supervisor's own user. */
static int
control_privileged(const struct control_client *cl)
{
	return cl->uid == 0 || cl->uid == geteuid();
}

/* Answer one command; -1 for quit. */
static int
control_dispatch(struct control_client *cl, const struct command *cmd, struct evbuffer *out)
{
	char word[32], arg[COMMAND_MAX_LINE + 1];
	const struct control_cmd *c = NULL;

	for (size_t i = 0; i < CONTROL_NCMDS && c == NULL; i++) {
		if (strlen(control_cmds[i].name) == cmd->len &&
		    memcmp(control_cmds[i].name, cmd->word, cmd->len) == 0)
			c = &control_cmds[i];
	}
	command_word(cmd, word, sizeof(word));
	if (c == NULL) {
		control_error(out, "unknown command '%s' (try help)", word);
		return 0;
	}
	if (cmd->arglen > 0 && c->arg == CONTROL_ARG_NONE) {
		control_error(out, "%s takes no argument", c->name);
		return 0;
	}
	if (cmd->arglen == 0 && c->arg == CONTROL_ARG_REQUIRED) {
		control_error(out, "%s needs an argument (try help)", c->name);
		return 0;
	}
	if (c->privileged && !control_privileged(cl)) {
		if (geteuid() == 0)
			control_error(out, "permission denied: %s changes state, which only root "
					   "may do", c->name);
		else
			control_error(out, "permission denied: %s changes state, which only root "
					   "and uid %u (the supervisor's) may do",
				      c->name, (unsigned)geteuid());
		return 0;
	}
	/* Arguments are worker names: printable, no blanks (command.c saw to that). */
	memcpy(arg, cmd->arg, cmd->arglen);
	arg[cmd->arglen] = '\0';
	if (cmd->arglen > 0 && !vigil_wire_name_valid(arg, cmd->arglen)) {
		control_error(out, "invalid worker name (use 1 to 64 of A-Z a-z 0-9 . _ @ : -)");
		return 0;
	}
	return c->fn(cl, arg, out);
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
	render_cancel(cl->render);
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
		control_reply(cl, json_pack("{s:s}", "error",
					    "too many arguments: a command takes at most one (try help)"));
		return;
	case COMMAND_OK:
		if (control_dispatch(cl, &cmd, bufferevent_get_output(cl->bev)) == -1)
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
		if (cl->closing || cl->render != NULL || evbuffer_get_length(out) > 0)
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
	/*
	 * At EOF a client goes once answered, a subscriber too: a peer that is
	 * gone must not hold its slot (a subscriber keeps its side open).
	 */
	if (cl->eof && evbuffer_get_length(in) == 0)
		cl->closing = 1;
}

/* A closing client goes once its replies are written (a document's last part too). */
static void
control_client_maybe_close(struct control_client *cl)
{
	if (!cl->closing || cl->render != NULL)
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

/*
 * The client's output drained to CONTROL_OUTPUT_LOW (or empty): a document
 * in progress goes on; a reply written out lets the next line be read, or
 * the client close.
 */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	if (cl->render != NULL) {
		render_kick(cl->render);
		return;
	}
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
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	cl->uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) == 0 ? cred.uid
										 : (uid_t)-1;
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
	bufferevent_setwatermark(cl->bev, EV_WRITE, CONTROL_OUTPUT_LOW, 0);
	struct timeval idle = {.tv_sec = CONTROL_IDLE_SEC}, stuck = {.tv_sec = CONTROL_WRITE_SEC};
	bufferevent_set_timeouts(cl->bev, &idle, &stuck);
	bufferevent_priority_set(cl->bev, SV_PRIO_CONTROL);
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
			"accept on %s: %s (pausing new control clients)",
			ctl->sv->set->control_path, strerror(saved));
	/*
	 * Out of descriptors (EMFILE, ENFILE) or memory: the pending connection
	 * stays queued and the socket stays readable, so retrying at once would
	 * spin. Stop accepting for a moment; heartbeats are not affected.
	 */
	evconnlistener_disable(lev);
	event_add(ctl->resume, &pause);
}

struct control *
control_start(struct supervisor *sv, control_reload_fn reload, char *err, size_t errlen)
{
	struct control *ctl = calloc(1, sizeof(*ctl));

	if (ctl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->sv = sv;
	ctl->reload = reload;
	/* Accepted sockets close on exec: a hook must not hold a vigilctl connection open. */
	ctl->listener = evconnlistener_new(sv->base, control_accept_cb, ctl, LEV_OPT_CLOSE_ON_EXEC,
					   -1, sv->ctl_sock.fd);
	if (ctl->listener == NULL) {
		snprintf(err, errlen, "cannot accept on %s", sv->set->control_path);
		free(ctl);
		return NULL;
	}
	evconnlistener_set_error_cb(ctl->listener, control_error_cb);
	if ((ctl->resume = evtimer_new(sv->base, control_resume_cb, ctl)) == NULL ||
	    events_subscribe(&sv->events, control_event, ctl) == -1) {
		snprintf(err, errlen, "cannot set up %s", sv->set->control_path);
		control_free(ctl);
		return NULL;
	}
	return ctl;
}

/* events_cb: stream ev to every "events" subscriber. */
static void
control_event(const struct sv_event *ev, void *arg)
{
	struct control *ctl = arg;
	struct evbuffer *line = NULL;

	for (struct control_client *cl = ctl->clients; cl != NULL; cl = cl->next) {
		if (!cl->subscribed || cl->closing)
			continue;
		struct evbuffer *out = bufferevent_get_output(cl->bev);
		if (evbuffer_get_length(out) > CONTROL_EVENTS_QUEUE) {
			cl->dropped++; /* it reads too slowly: it is told how many it lost */
			continue;
		}
		if (cl->dropped > 0) {
			control_put(out, json_pack("{s:s, s:I}", "event", "overflow", "dropped",
						   (json_int_t)cl->dropped));
			cl->dropped = 0;
		}
		if (line == NULL) {
			line = evbuffer_new();
			if (line == NULL)
				return;
			control_put(line, events_to_json(ev));
		}
		evbuffer_add(out, evbuffer_pullup(line, -1), evbuffer_get_length(line));
	}
	if (line != NULL)
		evbuffer_free(line);
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	events_unsubscribe(&ctl->sv->events, control_event, ctl);
	while (ctl->clients != NULL)
		control_client_free(ctl->clients);
	evconnlistener_free(ctl->listener);
	if (ctl->resume != NULL)
		event_free(ctl->resume);
	free(ctl);
}
