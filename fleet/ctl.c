/*
 * ctl.c: reading the supervisor's control socket. See ctl.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "ctl.h"
#include "duration.h"
#include "log.h"
#include "sock.h"

#define CTL_BACKOFF_MIN_USEC (100 * VIGIL_USEC_PER_MSEC)
#define CTL_BACKOFF_MAX_USEC (2 * VIGIL_USEC_PER_SEC)

enum ctl_phase { CTL_DOWN, CTL_SUBSCRIBING, CTL_SNAPSHOT, CTL_UP };

struct ctl {
	struct event_base *base;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_cbs cbs;
	void *arg;
	enum ctl_phase phase;
	struct bufferevent *events; /* subscribed to `events` */
	struct bufferevent *status; /* asking `status`, while a snapshot is wanted */
	struct evbuffer *held;      /* event lines that came while the snapshot was read */
	struct event *retry;
	uint64_t backoff_usec;
};

static void ctl_connect_cb(evutil_socket_t fd, short what, void *arg);

/* A connected bufferevent to the control socket, or NULL with err. */
static struct bufferevent *
ctl_dial(struct ctl *c, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct bufferevent *bev;
	int fd;

	if (vigil_sock_addr(c->path, &sun, &len, err, errlen) == -1)
		return NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, len) == -1) {
		snprintf(err, errlen, "cannot connect to %s: %s", c->path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
	}
	return bev;
}

static void
ctl_close(struct ctl *c)
{
	if (c->events != NULL)
		bufferevent_free(c->events);
	if (c->status != NULL)
		bufferevent_free(c->status);
	c->events = c->status = NULL;
	evbuffer_drain(c->held, evbuffer_get_length(c->held));
}

/* The connection is lost: tell, and try again after the backoff. */
static void
ctl_lost(struct ctl *c, const char *why)
{
	struct timeval tv;
	int was_up = c->phase != CTL_DOWN;

	ctl_close(c);
	c->phase = CTL_DOWN;
	if (was_up)
		c->cbs.down(why, c->arg);
	tv.tv_sec = (time_t)(c->backoff_usec / VIGIL_USEC_PER_SEC);
	tv.tv_usec = (suseconds_t)(c->backoff_usec % VIGIL_USEC_PER_SEC);
	evtimer_add(c->retry, &tv);
	c->backoff_usec *= 2;
	if (c->backoff_usec > CTL_BACKOFF_MAX_USEC)
		c->backoff_usec = CTL_BACKOFF_MAX_USEC;
}

static void
ctl_error_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl *c = arg;

	ctl_lost(c, (what & BEV_EVENT_EOF) ? "the supervisor closed the control connection"
	                                   : "the control connection failed");
}

static void ctl_status_read_cb(struct bufferevent *bev, void *arg);

/* Ask for a snapshot on a second connection; events are held meanwhile. */
static void
ctl_want_snapshot(struct ctl *c)
{
	char err[VIGIL_ERRLEN];

	c->phase = CTL_SNAPSHOT;
	if (c->status != NULL)
		bufferevent_free(c->status);
	if ((c->status = ctl_dial(c, err, sizeof(err))) == NULL) {
		ctl_lost(c, err);
		return;
	}
	bufferevent_setcb(c->status, ctl_status_read_cb, NULL, ctl_error_cb, c);
	bufferevent_enable(c->status, EV_READ);
	bufferevent_write(c->status, "status\n", 7);
}

/* Hand over the event lines in buf (all of them, or up to an overflow). */
static void
ctl_deliver(struct ctl *c, struct evbuffer *buf)
{
	char *line;
	size_t len;

	while (c->phase == CTL_UP && (line = evbuffer_readln(buf, &len, EVBUFFER_EOL_LF)) != NULL) {
		int r = c->cbs.event(line, len, c->arg);

		free(line);
		if (r == 2) {
			log_warnx("events were lost (the supervisor's queue for us overflowed): "
			          "reading a fresh status");
			ctl_want_snapshot(c);
		}
	}
	if (c->phase == CTL_SNAPSHOT && buf != c->held)
		evbuffer_add_buffer(c->held, buf);
}

static void
ctl_status_read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl *c = arg;
	size_t len;
	char *line = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF);
	json_t *doc;

	if (line == NULL)
		return; /* not whole yet */
	doc = json_loadb(line, len, 0, NULL);
	free(line);
	bufferevent_free(c->status);
	c->status = NULL;
	if (doc == NULL || json_object_get(doc, "workers") == NULL) {
		json_decref(doc);
		ctl_lost(c, "the supervisor's status reply is not a status document");
		return;
	}
	c->phase = CTL_UP;
	c->backoff_usec = CTL_BACKOFF_MIN_USEC;
	c->cbs.snapshot(doc, c->arg);
	json_decref(doc);
	ctl_deliver(c, c->held);
}

static void
ctl_events_read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	if (c->phase == CTL_SUBSCRIBING) {
		if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) == NULL)
			return;
		int ok = strstr(line, "\"subscribed\":true") != NULL;
		char msg[300];

		char safe[200];

		log_escape(line, len, safe, sizeof(safe));
		snprintf(msg, sizeof(msg), "the supervisor refused `events`: %s", safe);
		free(line);
		if (!ok) {
			ctl_lost(c, msg);
			return;
		}
		ctl_want_snapshot(c);
		if (c->phase == CTL_DOWN)
			return;
	}
	if (c->phase == CTL_SNAPSHOT) {
		evbuffer_add_buffer(c->held, in);
		return;
	}
	ctl_deliver(c, in);
}

static void
ctl_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl *c = arg;
	char err[VIGIL_ERRLEN];

	if ((c->events = ctl_dial(c, err, sizeof(err))) == NULL) {
		ctl_lost(c, err);
		return;
	}
	c->phase = CTL_SUBSCRIBING;
	bufferevent_setcb(c->events, ctl_events_read_cb, NULL, ctl_error_cb, c);
	bufferevent_enable(c->events, EV_READ);
	bufferevent_write(c->events, "events\n", 7);
}

struct ctl *
ctl_new(struct event_base *base, const char *path, const struct ctl_cbs *cbs, void *arg)
{
	struct ctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->base = base;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->cbs = *cbs;
	c->arg = arg;
	c->backoff_usec = CTL_BACKOFF_MIN_USEC;
	c->held = evbuffer_new();
	c->retry = evtimer_new(base, ctl_connect_cb, c);
	if (c->held == NULL || c->retry == NULL) {
		ctl_free(c);
		return NULL;
	}
	return c;
}

void
ctl_start(struct ctl *c)
{
	ctl_connect_cb(-1, 0, c);
}

void
ctl_free(struct ctl *c)
{
	if (c == NULL)
		return;
	ctl_close(c);
	if (c->held != NULL)
		evbuffer_free(c->held);
	if (c->retry != NULL)
		event_free(c->retry);
	free(c);
}
