/*
 * heartbeat.c: the worker's heartbeat timer and sender. See heartbeat.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#include "child.h"
#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "worker.h"

/*
 * The worker's socket is connect()ed to the supervisor's. When the
 * supervisor's queue is full (EAGAIN: load, or a flood from another
 * sender), the datagram waits in pending[] for the socket to become
 * writable: for a connected datagram socket the kernel reports that when
 * the peer's queue has room, and wakes waiters in turn, so a heartbeat is
 * not starved by a sender that spins on EAGAIN. Nothing blocks. A newer
 * message replaces a pending one.
 */
struct heartbeat {
	struct worker_ctx *w;
	struct event *timer;
	struct event *writable; /* EV_WRITE on the socket while pending[] waits */
	char pending[VIGIL_WIRE_MAX];
	size_t pending_len;
	int waiting;            /* pending[] is not delivered yet */
	int connected;          /* the socket is connected to the supervisor's */
	uint64_t seq;          /* the last SEQ sent; the first heartbeat carries 1 */
	int stalled;           /* SIGUSR1: skip heartbeats, stay responsive */
	int unreachable;       /* the supervisor refused our last datagram */
	uint64_t undelivered;  /* heartbeats lost during the current outage */
	uint64_t rng;          /* xorshift state for jitter */
};

/* The next delay: interval +/- jitter_pct percent, uniformly. */
static uint64_t
heartbeat_next_delay(struct heartbeat *hb)
{
	uint64_t iv = hb->w->interval;

	if (hb->w->jitter_pct == 0)
		return iv;
	hb->rng ^= hb->rng << 13;
	hb->rng ^= hb->rng >> 7;
	hb->rng ^= hb->rng << 17;
	uint64_t span = iv * hb->w->jitter_pct / 100; /* at most the interval itself */
	return iv - span + hb->rng % (2 * span + 1);
}

static void
heartbeat_arm(struct heartbeat *hb)
{
	uint64_t d = heartbeat_next_delay(hb);
	struct timeval tv = {.tv_sec = (time_t)(d / 1000000), .tv_usec = (suseconds_t)(d % 1000000)};

	event_add(hb->timer, &tv);
}

/* (Re)connect to the supervisor's socket: after start, or after it was restarted. */
static int
heartbeat_connect(struct heartbeat *hb)
{
	struct worker_ctx *w = hb->w;

	hb->connected = connect(w->sock.fd, (struct sockaddr *)&w->sup_addr, w->sup_addrlen) == 0;
	return hb->connected ? 0 : -1;
}

/* Note a datagram that will not arrive; say so once per outage. */
static void
heartbeat_lost(struct heartbeat *hb, int err)
{
	struct worker_ctx *w = hb->w;
	char d[32];

	hb->undelivered++;
	if (hb->unreachable)
		return;
	hb->unreachable = 1;
	vigil_duration_format(w->interval, d, sizeof(d));
	errno = err;
	log_warn("cannot reach supervisor at %s (retrying every %s)", w->supervisor_path, d);
}

/* Try to deliver pending[]: sent, waiting for room (EAGAIN), or lost. */
static void
heartbeat_try(struct heartbeat *hb)
{
	struct worker_ctx *w = hb->w;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!hb->connected && heartbeat_connect(hb) == -1)
			break; /* errno from connect: ENOENT, ECONNREFUSED, EACCES... */
		if (send(w->sock.fd, hb->pending, hb->pending_len, MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    (ssize_t)hb->pending_len) {
			hb->waiting = 0;
			if (hb->unreachable)
				log_info("supervisor at %s reachable again (%" PRIu64
					 " heartbeats were not delivered)",
					 w->supervisor_path, hb->undelivered);
			hb->unreachable = 0;
			hb->undelivered = 0;
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* Room will come: the kernel wakes us when the supervisor reads. */
			hb->waiting = 1;
			event_add(hb->writable, NULL);
			return;
		}
		/* The peer went away (a restarted supervisor): connect to the path again. */
		hb->connected = 0;
	}
	hb->waiting = 0;
	heartbeat_lost(hb, errno);
}

static void
heartbeat_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	struct heartbeat *hb = arg;

	if (hb->waiting)
		heartbeat_try(hb);
}

/* Send one message to the supervisor (it replaces one still waiting for room). */
static void
heartbeat_send(struct heartbeat *hb, struct vigil_msg *m)
{
	struct worker_ctx *w = hb->w;
	int len;

	if (hb->waiting)
		heartbeat_lost(hb, EAGAIN); /* a whole interval without room */
	m->fields |= VIGIL_F_WORKER | VIGIL_F_PID;
	memcpy(m->worker, w->name, strlen(w->name) + 1);
	m->pid = (uint64_t)getpid();
	if ((len = vigil_wire_encode(m, hb->pending, sizeof(hb->pending))) < 0)
		fatalx("cannot encode a heartbeat"); /* our own fields: a bug */
	hb->pending_len = (size_t)len;
	hb->waiting = 0;
	event_del(hb->writable);
	heartbeat_try(hb);
}

/*
 * Send a heartbeat, unless we must not: stalled (SIGUSR1), or --check's
 * last run failed (or has not passed yet). Every heartbeat goes through
 * here, the first one included; 1 if one was sent.
 */
static int
heartbeat_send_beat(struct heartbeat *hb)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_SEQ | VIGIL_F_INTERVAL_MS};

	if (hb->stalled || !child_healthy(hb->w->child))
		return 0;
	m.seq = ++hb->seq;
	m.interval_ms = hb->w->interval / 1000;
	heartbeat_send(hb, &m);
	return 1;
}

/* The heartbeat timer: send if we may, start the next check, re-arm with fresh jitter. */
static void
heartbeat_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct heartbeat *hb = arg;

	heartbeat_send_beat(hb);
	child_tick(hb->w->child);
	heartbeat_arm(hb);
}

void
heartbeat_send_now(struct heartbeat *hb)
{
	if (heartbeat_send_beat(hb))
		heartbeat_arm(hb); /* the next one a full interval from now */
}

void
heartbeat_send_stopping(struct heartbeat *hb)
{
	struct vigil_msg m = {.fields = VIGIL_F_STOPPING | VIGIL_F_SEQ};

	m.seq = hb->seq;
	heartbeat_send(hb, &m);
}

int
heartbeat_toggle_stall(struct heartbeat *hb)
{
	hb->stalled = !hb->stalled;
	return hb->stalled;
}

int
heartbeat_stalled(const struct heartbeat *hb)
{
	return hb->stalled;
}

struct heartbeat *
heartbeat_start(struct worker_ctx *w, char *err, size_t errlen)
{
	struct heartbeat *hb = calloc(1, sizeof(*hb));

	if (hb == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	hb->w = w;
	if (getrandom(&hb->rng, sizeof(hb->rng), GRND_NONBLOCK) != sizeof(hb->rng) || hb->rng == 0)
		hb->rng = vigil_now_usec() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
	hb->timer = event_new(w->base, -1, 0, heartbeat_timer_cb, hb);
	hb->writable = event_new(w->base, w->sock.fd, EV_WRITE, heartbeat_writable_cb, hb);
	if (hb->timer == NULL || hb->writable == NULL) {
		snprintf(err, errlen, "cannot create the heartbeat timers");
		heartbeat_free(hb);
		return NULL;
	}
	/* The first heartbeat goes out at once: register before the first interval. */
	heartbeat_send_beat(hb);
	heartbeat_arm(hb);
	return hb;
}

void
heartbeat_free(struct heartbeat *hb)
{
	if (hb == NULL)
		return;
	if (hb->timer != NULL)
		event_free(hb->timer);
	if (hb->writable != NULL)
		event_free(hb->writable);
	free(hb);
}
