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

#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "worker.h"

struct heartbeat {
	struct worker_ctx *w;
	struct event *timer;
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

/* Send one datagram to the supervisor, tracking (and logging) reachability. */
static void
heartbeat_send(struct heartbeat *hb, struct vigil_msg *m)
{
	struct worker_ctx *w = hb->w;
	char buf[VIGIL_WIRE_MAX];
	int len;

	m->fields |= VIGIL_F_WORKER | VIGIL_F_PID;
	memcpy(m->worker, w->name, strlen(w->name) + 1);
	m->pid = (uint64_t)getpid();
	if ((len = vigil_wire_encode(m, buf, sizeof(buf))) < 0)
		fatalx("cannot encode a heartbeat"); /* our own fields: a bug */
	ssize_t n = sendto(w->sock.fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
			   (struct sockaddr *)&w->sup_addr, w->sup_addrlen);
	if (n == len) {
		if (hb->unreachable)
			log_info("supervisor at %s reachable again (%" PRIu64
				 " heartbeats were not delivered)",
				 w->supervisor_path, hb->undelivered);
		hb->unreachable = 0;
		hb->undelivered = 0;
		return;
	}
	hb->undelivered++;
	if (!hb->unreachable) {
		char d[32];
		vigil_duration_format(w->interval, d, sizeof(d));
		log_warn("cannot reach supervisor at %s (retrying every %s)", w->supervisor_path,
			 d);
	}
	hb->unreachable = 1;
}

static void
heartbeat_send_beat(struct heartbeat *hb)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_SEQ | VIGIL_F_INTERVAL_MS};

	m.seq = ++hb->seq;
	m.interval_ms = hb->w->interval / 1000;
	heartbeat_send(hb, &m);
}

/* The heartbeat timer: send unless stalled, then re-arm with fresh jitter. */
static void
heartbeat_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct heartbeat *hb = arg;

	if (!hb->stalled)
		heartbeat_send_beat(hb);
	heartbeat_arm(hb);
}

void
heartbeat_send_now(struct heartbeat *hb)
{
	if (hb->stalled)
		return;
	heartbeat_send_beat(hb);
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
	if (hb->timer == NULL) {
		snprintf(err, errlen, "cannot create the heartbeat timer");
		free(hb);
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
	event_free(hb->timer);
	free(hb);
}
