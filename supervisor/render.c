/*
 * render.c: documents in slices. See render.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "duration.h"
#include "hooks.h"
#include "metrics.h"
#include "render.h"
#include "statusdoc.h"
#include "supervisor.h"

struct render {
	struct supervisor *sv;
	enum render_kind kind;
	struct render_sink sink;
	struct event *ev;       /* active while a slice is to run */
	struct evbuffer *chunk; /* what a slice writes, handed to the sink */
	uint64_t started;       /* monotonic usec */
	size_t slices;
	uint64_t longest;     /* usec, the longest slice (wall clock) */
	uint64_t longest_cpu; /* usec, the most CPU time one slice took */
	union {
		struct statusdoc status;
		struct metrics_doc metrics;
	} doc;
};

/*
 * The control plane's share of the loop. Each slice's CPU time is paid
 * for with wall-clock time: the next slice, of any render, may start only
 * once RENDER_SHARE_PCT of the time since this one began has been its work
 * (one supervisor per process, so one account). A supervisor that renders
 * for 9 clients flat out therefore stays below a core's worth of work, and
 * the kernel keeps scheduling it at once when a heartbeat or a timer is due.
 */
static uint64_t render_next; /* monotonic usec before which no slice starts */

static void
render_free(struct render *r)
{
	if (r->kind == RENDER_STATUS)
		statusdoc_end(&r->doc.status);
	else
		metrics_end(&r->doc.metrics);
	if (r->ev != NULL)
		event_free(r->ev);
	if (r->chunk != NULL)
		evbuffer_free(r->chunk);
	free(r);
}

/* One slice of the status document into r->chunk. */
static int
render_status_step(struct render *r, const struct slice *sl)
{
	struct supervisor *sv = r->sv;
	struct statusdoc_input in = {
	    .now = vigil_now_usec(),
	    .started = sv->started,
	    .pid = (uint64_t)getpid(),
	    .version = VIGIL_VERSION,
	    .timeout = sv->set->timeout,
	    .workers = sv->registry.count,
	    .max_workers = sv->set->max_workers,
	    .counters = sv->counters,
	};

	hooks_counts(sv->hooks, &in.hooks_started, &in.hooks_refused, &in.hooks_killed);
	return statusdoc_step(&r->doc.status, &in, r->chunk, sl);
}

/* One slice of the metrics into r->chunk. */
static int
render_metrics_step(struct render *r, const struct slice *sl)
{
	struct supervisor *sv = r->sv;
	struct metrics_input in = {
	    .counters = &sv->counters,
	    .events = sv->events.total,
	    .max_workers = sv->set->max_workers,
	    .http_connections = r->sink.http_connections,
	    .now = vigil_now_usec(),
	    .start_time = sv->start_time,
	    .version = VIGIL_VERSION,
	};

	hooks_counts(sv->hooks, &in.hooks_started, &in.hooks_refused, &in.hooks_killed);
	return metrics_step(&r->doc.metrics, &in, r->chunk, sl);
}

/* A turn of the loop for r: a slice, if its client has room for it. */
static void
render_slice_cb(evutil_socket_t fd, short what, void *arg)
{
	struct render *r = arg;
	uint64_t t0 = vigil_now_usec();
	struct slice sl = {.clock = vigil_now_usec,
			   .deadline = t0 + RENDER_SLICE_USEC,
			   .max_bytes = RENDER_CHUNK_MAX};
	int rc;

	(void)fd;
	(void)what;
	if (!r->sink.room(r->sink.arg))
		return; /* render_kick brings us back */
	if (t0 < render_next) {
		/* The control plane had its share: this render waits its turn. */
		struct timeval tv = {.tv_sec = 0, .tv_usec = (suseconds_t)(render_next - t0)};
		event_add(r->ev, &tv);
		return;
	}
	uint64_t c0 = vigil_thread_cpu_usec();
	rc = r->kind == RENDER_STATUS ? render_status_step(r, &sl) : render_metrics_step(r, &sl);
	uint64_t t1 = vigil_now_usec(), c1 = vigil_thread_cpu_usec();
	r->slices++;
	if (t1 - t0 > r->longest)
		r->longest = t1 - t0;
	if (c1 - c0 > r->longest_cpu)
		r->longest_cpu = c1 - c0;
	render_next = t0 + (c1 - c0) * 100 / RENDER_SHARE_PCT;
	if (rc == -1) {
		log_warnx("%s: out of memory after %zu slices",
			  r->kind == RENDER_STATUS ? "status" : "metrics", r->slices);
		r->sink.fail(r->sink.arg);
		render_free(r);
		return;
	}
	if (rc == 1) {
		log_debug("%s: %zu workers in %zu slices over %.1f ms, the longest %.3f ms "
			  "(%.3f ms of CPU)",
			  r->kind == RENDER_STATUS ? "status" : "metrics", r->sv->registry.count,
			  r->slices, (double)(t1 - r->started) / 1e3, (double)r->longest / 1e3,
			  (double)r->longest_cpu / 1e3);
		r->sink.emit(r->sink.arg, r->chunk, 1);
		render_free(r);
		return;
	}
	if (evbuffer_get_length(r->chunk) > 0)
		r->sink.emit(r->sink.arg, r->chunk, 0);
	event_active(r->ev, EV_TIMEOUT, 1);
}

struct render *
render_start(struct supervisor *sv, enum render_kind kind, const struct render_sink *sink)
{
	struct render *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL)
		return NULL;
	r->sv = sv;
	r->kind = kind;
	r->sink = *sink;
	r->started = vigil_now_usec();
	rc = kind == RENDER_STATUS ? statusdoc_start(&r->doc.status, &sv->registry)
				   : metrics_start(&r->doc.metrics, &sv->registry);
	if (rc == -1) {
		free(r);
		return NULL;
	}
	if ((r->chunk = evbuffer_new()) == NULL ||
	    (r->ev = event_new(sv->base, -1, 0, render_slice_cb, r)) == NULL ||
	    event_priority_set(r->ev, SV_PRIO_CONTROL) == -1) {
		render_free(r);
		return NULL;
	}
	event_active(r->ev, EV_TIMEOUT, 1);
	return r;
}

void
render_kick(struct render *r)
{
	/* Pending already: active, or waiting for the control plane's turn. */
	if (!event_pending(r->ev, EV_TIMEOUT, NULL))
		event_active(r->ev, EV_TIMEOUT, 1);
}

void
render_cancel(struct render *r)
{
	if (r != NULL)
		render_free(r);
}
