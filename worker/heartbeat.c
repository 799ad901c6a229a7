/*
 * heartbeat.c: vigil-worker on libvigil. See heartbeat.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <event2/event.h>

#include "child.h"
#include "duration.h"
#include "heartbeat.h"
#include "log.h"
#include "vigil.h"
#include "worker.h"

/* Before every heartbeat: may it go? */
static int
heartbeat_health_cb(struct vigil_client *c, void *arg)
{
	struct worker_ctx *w = arg;

	/* Relaying, only the program's pings go (sdproxy.c), none of our own periods. */
	return !w->stalled && !w->stopping && !w->program_stopping && child_healthy(w->child) &&
	       (!w->relay || w->relay_beat);
}

static void
heartbeat_timeout(struct worker_ctx *w, const struct vigil_event *ev)
{
	log_warnx("supervisor declared us unresponsive: missed %" PRIu64 ", silent for %" PRIu64
		  "ms, last seq %" PRIu64 "%s",
		  ev->missed, ev->silent_ms, ev->last_seq,
		  w->stalled ? " (we are stalled: SIGUSR1 resumes)" : "");
	if (w->on_timeout == WORKER_ON_TIMEOUT_EXIT) {
		log_warnx("exiting so that the service manager restarts us (--on-timeout exit)");
		w->exit_status = 1;
		vigil_client_detach(w->client); /* no answering heartbeat: we are going */
		event_base_loopbreak(w->base);
	}
	/* Otherwise the client answers with a heartbeat at once (if we may send one). */
}

static void
heartbeat_event_cb(struct vigil_client *c, const struct vigil_event *ev, void *arg)
{
	struct worker_ctx *w = arg;
	char d[32];

	switch (ev->type) {
	case VIGIL_EVENT_TIMEOUT:
		heartbeat_timeout(w, ev);
		break;
	case VIGIL_EVENT_UNREACHABLE:
		vigil_duration_format(w->interval, d, sizeof(d));
		errno = ev->error;
		log_warn("cannot reach supervisor at %s (retrying every %s)", w->supervisor_path, d);
		break;
	case VIGIL_EVENT_REACHABLE:
		log_info("supervisor at %s reachable again (%" PRIu64
			 " heartbeats were not delivered)", w->supervisor_path, ev->undelivered);
		break;
	case VIGIL_EVENT_DROPPED:
		log_ratelimited(&w->rl_dropped, vigil_now_usec(), LOG_LEVEL_WARN,
				"dropped datagram on %s: %s", w->socket_path, ev->reason);
		break;
	}
}

int
heartbeat_start(struct worker_ctx *w, char *err, size_t errlen)
{
	struct vigil_client *c = vigil_client_new(w->name);

	if (c == NULL) {
		snprintf(err, errlen, "cannot create the client: %s", strerror(errno));
		return -1;
	}
	w->client = c;
	if (vigil_client_set_supervisor(c, w->supervisor_path) == -1 ||
	    vigil_client_set_socket(c, w->socket_path) == -1 ||
	    vigil_client_set_interval(c, w->interval) == -1 ||
	    vigil_client_set_jitter(c, w->jitter_pct) == -1 ||
	    (w->relay && vigil_client_set_timeout(c, w->timeout) == -1)) {
		snprintf(err, errlen, "%s", vigil_client_error(c));
		return -1;
	}
	vigil_client_set_health_cb(c, heartbeat_health_cb, w);
	vigil_client_set_event_cb(c, heartbeat_event_cb, w);
	if (vigil_client_open(c) == -1) {
		snprintf(err, errlen, "%s", vigil_client_error(c));
		return -1;
	}
	return 0;
}

/* Attach to the loop: the first heartbeat goes at once (if --check allows it). */
int
heartbeat_run(struct worker_ctx *w, char *err, size_t errlen)
{
	if (vigil_client_attach(w->client, w->base) == -1) {
		snprintf(err, errlen, "%s", vigil_client_error(w->client));
		return -1;
	}
	return 0;
}

void
heartbeat_stop(struct worker_ctx *w)
{
	vigil_client_free(w->client);
	w->client = NULL;
}

void
heartbeat_send_now(struct worker_ctx *w)
{
	vigil_client_heartbeat(w->client);
}

void
heartbeat_send_stopping(struct worker_ctx *w)
{
	vigil_client_stopping(w->client);
}

int
heartbeat_toggle_stall(struct worker_ctx *w)
{
	w->stalled = !w->stalled;
	return w->stalled;
}
