/*
 * client.c: libvigil, the worker's side of the protocol. See vigil.h.
 *
 * The socket is bound (TIMEOUTs come to it) and connect()ed to the
 * supervisor's. Attached to a libevent base, a full supervisor queue
 * (EAGAIN) makes the datagram wait in pending[] for EV_WRITE: for a
 * connected datagram socket the kernel raises it when the peer's queue has
 * room, waking waiters in turn, so a heartbeat is not starved by a sender
 * that spins on EAGAIN. Nothing blocks. A newer message replaces a pending
 * one. Without a loop, EAGAIN is returned to the caller instead.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "sock.h"
#include "vigil.h"
#include "wire.h"

#define CLIENT_INTERVAL_DEFAULT 1000000ULL /* 1 s */
#define CLIENT_INTERVAL_MIN 1000ULL        /* 1 ms */
#define CLIENT_INTERVAL_MAX (24 * 3600 * 1000000ULL)
#define CLIENT_TIMEOUT_MAX (7 * 24 * 3600 * 1000000ULL)
#define CLIENT_STATUS_MAX 127
#define CLIENT_READ_BATCH 16 /* TIMEOUTs are rare: a few per wakeup bounds a flood */

struct vigil_client {
	char name[VIGIL_NAME_MAX + 1];
	char supervisor_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* "": abstract */
	uint64_t interval; /* usec */
	uint64_t timeout;  /* usec, sent as WATCHDOG_USEC= when set_timeout was called */
	int has_timeout;
	unsigned jitter_pct;
	char status[CLIENT_STATUS_MAX + 1];
	int has_status;
	vigil_event_cb event_cb;
	void *event_arg;
	vigil_health_cb health_cb;
	void *health_arg;

	struct vigil_sock sock; /* fd -1 until open */
	struct sockaddr_un sup_addr;
	socklen_t sup_addrlen;
	int connected;       /* the socket is connected to the supervisor's */
	uint64_t seq;        /* the last SEQ sent; the first heartbeat carries 1 */
	int unreachable;     /* the last datagram could not be delivered */
	uint64_t undelivered; /* heartbeats lost during the current outage */
	uint64_t rng;        /* xorshift state for jitter */

	/* attached */
	struct event_base *base;
	struct event *timer;
	struct event *readable;
	struct event *writable; /* while pending[] waits for room */
	char pending[VIGIL_WIRE_MAX + 1];
	size_t pending_len;
	int waiting;
	int pending_is_beat; /* pending[] is a heartbeat: losing it counts as undelivered */

	/*
	 * A user callback may detach or even free the client. Inside one
	 * (depth > 0) a free only detaches and dooms it; the outermost call
	 * into the library frees it on the way out (client_settle). After
	 * every callback the code checks doomed and base before going on.
	 */
	int depth;
	int doomed;

	char err[VIGIL_ERRLEN];
};

static int __attribute__((format(printf, 3, 4)))
client_fail(struct vigil_client *c, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	errno = errnum;
	return -1;
}

const char *
vigil_version(void)
{
	return VIGIL_VERSION;
}

struct vigil_client *
vigil_client_new(const char *name)
{
	struct vigil_client *c;
	size_t n;

	if (name == NULL || !vigil_wire_name_valid(name, n = strlen(name))) {
		errno = EINVAL;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	memcpy(c->name, name, n + 1);
	snprintf(c->supervisor_path, sizeof(c->supervisor_path), "%s", VIGIL_SUPERVISOR_DEFAULT);
	if (snprintf(c->socket_path, sizeof(c->socket_path), "%s/%s.sock",
		     VIGIL_SOCKET_DIR_DEFAULT, name) >= (int)sizeof(c->socket_path)) {
		free(c); /* cannot happen with a 64-byte name; keep it honest anyway */
		errno = EINVAL;
		return NULL;
	}
	c->interval = CLIENT_INTERVAL_DEFAULT;
	c->sock.fd = -1;
	if (getrandom(&c->rng, sizeof(c->rng), GRND_NONBLOCK) != sizeof(c->rng) || c->rng == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->rng = ((uint64_t)ts.tv_nsec << 20) ^ ((uint64_t)getpid() << 32) ^
			 0x9e3779b97f4a7c15ULL;
	}
	return c;
}

static int
client_settable(struct vigil_client *c)
{
	if (c->sock.fd != -1)
		return client_fail(c, EBUSY, "settings must come before vigil_client_open");
	return 0;
}

static int
client_set_path(struct vigil_client *c, char *dst, size_t cap, const char *path, const char *what)
{
	if (client_settable(c) == -1)
		return -1;
	if (path == NULL)
		return client_fail(c, EINVAL, "%s path is NULL", what);
	if (strlen(path) >= cap)
		return client_fail(c, EINVAL, "%s path %s is too long (at most %zu bytes)", what,
				   path, cap - 1);
	memcpy(dst, path, strlen(path) + 1);
	return 0;
}

int
vigil_client_set_supervisor(struct vigil_client *c, const char *path)
{
	if (path != NULL && *path == '\0')
		return client_fail(c, EINVAL, "supervisor socket path is empty");
	return client_set_path(c, c->supervisor_path, sizeof(c->supervisor_path), path,
			       "supervisor socket");
}

int
vigil_client_set_socket(struct vigil_client *c, const char *path)
{
	return client_set_path(c, c->socket_path, sizeof(c->socket_path), path, "socket");
}

int
vigil_client_set_interval(struct vigil_client *c, uint64_t usec)
{
	if (client_settable(c) == -1)
		return -1;
	if (usec < CLIENT_INTERVAL_MIN || usec > CLIENT_INTERVAL_MAX)
		return client_fail(c, EINVAL, "interval %llu us is not from 1ms to 24h",
				   (unsigned long long)usec);
	c->interval = usec;
	return 0;
}

int
vigil_client_set_jitter(struct vigil_client *c, unsigned percent)
{
	if (client_settable(c) == -1)
		return -1;
	if (percent > 50)
		return client_fail(c, EINVAL, "jitter %u%% is over 50%%", percent);
	c->jitter_pct = percent;
	return 0;
}

int
vigil_client_set_timeout(struct vigil_client *c, uint64_t usec)
{
	if (usec > CLIENT_TIMEOUT_MAX)
		return client_fail(c, EINVAL, "timeout %llu us is over 168h",
				   (unsigned long long)usec);
	c->timeout = usec;
	c->has_timeout = 1;
	return 0;
}

void
vigil_client_set_event_cb(struct vigil_client *c, vigil_event_cb cb, void *arg)
{
	c->event_cb = cb;
	c->event_arg = arg;
}

void
vigil_client_set_health_cb(struct vigil_client *c, vigil_health_cb cb, void *arg)
{
	c->health_cb = cb;
	c->health_arg = arg;
}

int
vigil_client_set_status(struct vigil_client *c, const char *text)
{
	size_t n;

	if (text == NULL) {
		c->has_status = 0;
		return 0;
	}
	if ((n = strlen(text)) > CLIENT_STATUS_MAX)
		return client_fail(c, EINVAL, "status text is %zu bytes, at most %d", n,
				   CLIENT_STATUS_MAX);
	for (size_t i = 0, k; i < n; i += k)
		if ((k = vigil_wire_utf8_len(text + i, n - i)) == 0 ||
		    (k == 1 && (text[i] < 0x20 || text[i] == 0x7f)))
			return client_fail(c, EINVAL, "status text has a control character or a byte "
						      "that is not UTF-8 at offset %zu", i);
	memcpy(c->status, text, n + 1);
	c->has_status = 1;
	return 0;
}

uint64_t
vigil_client_seq(const struct vigil_client *c)
{
	return c->seq;
}

const char *
vigil_client_error(const struct vigil_client *c)
{
	return c->err;
}

int
vigil_client_fd(const struct vigil_client *c)
{
	return c->sock.fd;
}

static void
client_event(struct vigil_client *c, struct vigil_event *ev)
{
	if (c->event_cb == NULL || c->doomed)
		return;
	c->depth++;
	c->event_cb(c, ev, c->event_arg);
	c->depth--;
}

/* May a heartbeat go? Asks the health callback, if any. */
static int
client_healthy(struct vigil_client *c)
{
	int ok;

	if (c->health_cb == NULL)
		return 1;
	c->depth++;
	ok = c->health_cb(c, c->health_arg);
	c->depth--;
	return ok;
}

static void
client_destroy(struct vigil_client *c)
{
	if (c->sock.fd != -1)
		vigil_sock_close(&c->sock);
	free(c);
}

/*
 * On the way out of the library (a public call, or a libevent callback): a
 * free asked for by a callback happens now. 1 if c is gone. errno is kept.
 */
static int
client_settle(struct vigil_client *c)
{
	int e = errno;

	if (!c->doomed || c->depth > 0)
		return 0;
	client_destroy(c);
	errno = e;
	return 1;
}

int
vigil_client_open(struct vigil_client *c)
{
	if (c->sock.fd != -1)
		return 0;
	if (vigil_sock_addr(c->supervisor_path, &c->sup_addr, &c->sup_addrlen, c->err,
			    sizeof(c->err)) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (c->socket_path[0] != '\0') {
		if (vigil_sock_bind(&c->sock, c->socket_path, SOCK_DGRAM, 0660, c->err,
				    sizeof(c->err)) == -1) {
			return -1; /* errno from vigil_sock_bind */
		}
		return 0;
	}
	/* An anonymous address: the kernel picks a unique abstract name (autobind). */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (fd == -1)
		return client_fail(c, errno, "cannot create a socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sa_family_t)) == -1) {
		int e = errno;
		close(fd);
		return client_fail(c, e, "cannot bind an anonymous socket: %s", strerror(e));
	}
	c->sock.fd = fd;
	c->sock.path[0] = '\0'; /* nothing to unlink */
	return 0;
}

/* Note a datagram that will not arrive; report it once per outage. */
static void
client_lost(struct vigil_client *c, int err, int beat)
{
	struct vigil_event ev = {.type = VIGIL_EVENT_UNREACHABLE, .error = err};

	if (beat)
		c->undelivered++;
	snprintf(c->err, sizeof(c->err), "cannot reach the supervisor at %s: %s",
		 c->supervisor_path, strerror(err));
	if (c->unreachable)
		return;
	c->unreachable = 1;
	ev.reason = c->err;
	client_event(c, &ev);
}

static void
client_delivered(struct vigil_client *c)
{
	struct vigil_event ev = {.type = VIGIL_EVENT_REACHABLE};

	if (!c->unreachable)
		return;
	ev.undelivered = c->undelivered;
	c->unreachable = 0;
	c->undelivered = 0;
	client_event(c, &ev);
}

/*
 * Send len bytes of buf: 0 sent, -1 with errno (EAGAIN: no room now). A
 * refused connection (the supervisor restarted: a new socket at the path)
 * is retried once on a fresh connect().
 */
static int
client_send(struct vigil_client *c, const char *buf, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!c->connected) {
			if (connect(c->sock.fd, (struct sockaddr *)&c->sup_addr, c->sup_addrlen) == -1)
				return -1; /* ENOENT, ECONNREFUSED, EACCES... */
			c->connected = 1;
		}
		if (send(c->sock.fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -1;
		c->connected = 0; /* the peer went away: connect to the path again */
	}
	return -1;
}

/* Try to deliver pending[]: 0 sent or waiting for room (EAGAIN), -1 lost (errno). */
static int
client_try_pending(struct vigil_client *c)
{
	if (client_send(c, c->pending, c->pending_len) == 0) {
		c->waiting = 0;
		client_delivered(c);
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->waiting = 1;
		if (c->base != NULL)
			event_add(c->writable, NULL);
		return 0;
	}
	int e = errno;
	c->waiting = 0;
	client_lost(c, e, c->pending_is_beat);
	errno = e;
	return -1;
}

/* Encode m with our name and pid, then send it (or queue it, attached). */
static int
client_emit(struct vigil_client *c, struct vigil_msg *m, int beat)
{
	char buf[VIGIL_WIRE_MAX + 1];
	int len;

	if (c->sock.fd == -1)
		return client_fail(c, ENOTCONN, "the client is not open");
	m->fields |= VIGIL_F_WORKER | VIGIL_F_PID;
	memcpy(m->worker, c->name, strlen(c->name) + 1);
	m->pid = (uint64_t)getpid();
	if ((len = vigil_wire_encode(m, buf, sizeof(buf))) < 0)
		return client_fail(c, EMSGSIZE, "cannot encode the message");
	if (c->base != NULL) {
		int lost = c->waiting, lost_beat = c->pending_is_beat;
		memcpy(c->pending, buf, (size_t)len);
		c->pending_len = (size_t)len;
		c->pending_is_beat = beat;
		c->waiting = 0;
		event_del(c->writable);
		if (lost) /* a whole period without room: the older one goes */
			client_lost(c, EAGAIN, lost_beat);
		if (c->doomed || c->base == NULL)
			return client_fail(c, ECANCELED, "the client was detached by a callback");
		if (client_try_pending(c) == -1) {
			int e = errno;
			return client_fail(c, e, "cannot reach the supervisor at %s: %s",
					   c->supervisor_path, strerror(e));
		}
		return 0;
	}
	if (client_send(c, buf, (size_t)len) == 0) {
		client_delivered(c);
		return 0;
	}
	int e = errno;
	client_lost(c, e, beat);
	return client_fail(c, e, "cannot reach the supervisor at %s: %s", c->supervisor_path,
			   strerror(e));
}

/* A heartbeat, unless the health callback holds it back: 0 sent, 1 held, -1 failed. */
static int
client_beat(struct vigil_client *c)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_SEQ | VIGIL_F_INTERVAL_MS};

	if (c->sock.fd == -1)
		return client_fail(c, ENOTCONN, "the client is not open");
	if (!client_healthy(c))
		return 1;
	if (c->doomed)
		return client_fail(c, ECANCELED, "the client was freed by a callback");
	m.seq = ++c->seq;
	m.interval_ms = c->interval / 1000;
	if (c->has_timeout) {
		m.fields |= VIGIL_F_WATCHDOG_USEC;
		m.watchdog_usec = c->timeout;
	}
	if (c->has_status) {
		m.fields |= VIGIL_F_STATUS;
		m.status = c->status;
		m.status_len = strlen(c->status);
	}
	return client_emit(c, &m, 1);
}

/* The next delay: interval +/- jitter_pct percent, uniformly. */
static uint64_t
client_next_delay(struct vigil_client *c)
{
	uint64_t iv = c->interval;

	if (c->jitter_pct == 0)
		return iv;
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	uint64_t span = iv * c->jitter_pct / 100;
	return iv - span + c->rng % (2 * span + 1);
}

static void
client_arm(struct vigil_client *c)
{
	uint64_t d = client_next_delay(c);
	struct timeval tv = {.tv_sec = (time_t)(d / 1000000), .tv_usec = (suseconds_t)(d % 1000000)};

	event_add(c->timer, &tv);
}

/* A heartbeat now; attached, the next one a full interval from now. */
static int
client_heartbeat_now(struct vigil_client *c)
{
	int r = client_beat(c);

	if (r == 0 && c->base != NULL && !c->doomed)
		client_arm(c);
	return r;
}

int
vigil_client_heartbeat(struct vigil_client *c)
{
	int r = client_heartbeat_now(c);

	client_settle(c);
	return r;
}

int
vigil_client_stopping(struct vigil_client *c)
{
	struct vigil_msg m = {.fields = VIGIL_F_STOPPING | VIGIL_F_SEQ};

	m.seq = c->seq;
	int r = client_emit(c, &m, 0);
	client_settle(c);
	return r;
}

/* One datagram from our socket: a TIMEOUT for us from our supervisor, or dropped. */
static int
client_read_one(struct vigil_client *c, const char *buf, size_t len, const struct sockaddr_un *from,
		socklen_t fromlen)
{
	struct vigil_event ev = {.type = VIGIL_EVENT_DROPPED};
	struct vigil_wire_error werr;
	struct vigil_msg m;
	char why[160] = "";

	/*
	 * Connected, the kernel takes datagrams from the supervisor's socket
	 * only (whatever path spelling reached it: a symlink, a relative one);
	 * until then, the source address must be the one we send to.
	 */
	if (!c->connected &&
	    (fromlen != c->sup_addrlen || memcmp(from, &c->sup_addr, fromlen) != 0))
		snprintf(why, sizeof(why), "not from the supervisor at %s", c->supervisor_path);
	else if (vigil_wire_decode(buf, len, &m, &werr) == -1)
		vigil_wire_describe(&werr, why, sizeof(why));
	else if (vigil_wire_kind(&m) != VIGIL_MSG_TIMEOUT)
		snprintf(why, sizeof(why), "not a TIMEOUT");
	else if (!(m.fields & VIGIL_F_WORKER) || strcmp(m.worker, c->name) != 0)
		snprintf(why, sizeof(why), "a TIMEOUT without our name (%s)", c->name);
	if (why[0] != '\0') {
		ev.reason = why;
		client_event(c, &ev);
		return 0;
	}
	ev.type = VIGIL_EVENT_TIMEOUT;
	ev.missed = m.missed;
	ev.silent_ms = m.silent_ms;
	ev.last_seq = m.last_seq;
	client_event(c, &ev);
	return 1;
}

/* Read up to max datagrams; the number of TIMEOUTs, or -1 with errno. */
static int
client_read(struct vigil_client *c, int max)
{
	char buf[VIGIL_WIRE_MAX + 1];
	int timeouts = 0;

	if (c->sock.fd == -1)
		return client_fail(c, ENOTCONN, "the client is not open");
	for (int i = 0; max == 0 || i < max; i++) {
		struct sockaddr_un from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(c->sock.fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fromlen);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			return client_fail(c, errno, "cannot receive on %s: %s",
					   c->socket_path[0] ? c->socket_path : "(anonymous)",
					   strerror(errno));
		}
		/* MSG_TRUNC reports the real size: anything past buf is oversized anyway. */
		size_t len = (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n;
		int before = c->base != NULL;
		timeouts += client_read_one(c, buf, len, &from, fromlen);
		if (c->doomed || (before && c->base == NULL))
			break; /* the callback freed or detached us: stop reading */
	}
	return timeouts;
}

int
vigil_client_dispatch(struct vigil_client *c)
{
	int r = client_read(c, 0);

	client_settle(c);
	return r;
}

static void
client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vigil_client *c = arg;

	client_beat(c);
	if (c->base != NULL && !c->doomed)
		client_arm(c);
	client_settle(c);
}

static void
client_readable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vigil_client *c = arg;
	uint64_t seq = c->seq;
	int n = client_read(c, CLIENT_READ_BATCH);

	/* Answer a TIMEOUT with a heartbeat at once, unless the callback sent one or detached. */
	if (n > 0 && c->base != NULL && !c->doomed && c->seq == seq)
		client_heartbeat_now(c);
	client_settle(c);
}

static void
client_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vigil_client *c = arg;

	if (c->waiting)
		client_try_pending(c);
	client_settle(c);
}

void
vigil_client_detach(struct vigil_client *c)
{
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->readable != NULL)
		event_free(c->readable);
	if (c->writable != NULL)
		event_free(c->writable);
	c->timer = c->readable = c->writable = NULL;
	c->waiting = 0;
	c->base = NULL;
}

int
vigil_client_attach(struct vigil_client *c, struct event_base *base)
{
	if (c->base != NULL)
		return client_fail(c, EBUSY, "the client is already attached to a loop");
	if (base == NULL)
		return client_fail(c, EINVAL, "no event base");
	if (vigil_client_open(c) == -1)
		return -1;
	c->timer = event_new(base, -1, 0, client_timer_cb, c);
	c->readable = event_new(base, c->sock.fd, EV_READ | EV_PERSIST, client_readable_cb, c);
	c->writable = event_new(base, c->sock.fd, EV_WRITE, client_writable_cb, c);
	if (c->timer == NULL || c->readable == NULL || c->writable == NULL ||
	    event_add(c->readable, NULL) == -1) {
		vigil_client_detach(c);
		return client_fail(c, ENOMEM, "cannot create the client's events");
	}
	c->base = base;
	/*
	 * The first heartbeat goes out at once: register before the first
	 * interval. An unreachable supervisor is reported (an event), not an
	 * error: the client keeps trying every interval.
	 */
	client_beat(c);
	if (c->base != NULL && !c->doomed)
		client_arm(c);
	client_settle(c);
	return 0;
}

void
vigil_client_free(struct vigil_client *c)
{
	if (c == NULL)
		return;
	/*
	 * A message still waiting for room (a STOPPING=1 sent just before the
	 * free, under load) gets one last try: the supervisor may have read
	 * since, without our loop turning to notice.
	 */
	if (c->waiting && c->sock.fd != -1)
		(void)send(c->sock.fd, c->pending, c->pending_len, MSG_DONTWAIT | MSG_NOSIGNAL);
	vigil_client_detach(c);
	if (c->depth > 0) {
		c->doomed = 1; /* inside a callback: freed once it returns (client_settle) */
		return;
	}
	client_destroy(c);
}
