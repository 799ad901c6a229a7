/*
 * listener.c: TIMEOUT datagrams arriving on the worker's socket. See
 * listener.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <event2/event.h>

#include "duration.h"
#include "heartbeat.h"
#include "listener.h"
#include "log.h"
#include "worker.h"

struct listener {
	struct worker_ctx *w;
	struct event *ev;
	struct log_ratelimit rl_invalid;
};

/* One TIMEOUT from the supervisor: say so, then answer or exit. */
static void
listener_timeout(struct listener *l, const struct vigil_msg *m)
{
	struct worker_ctx *w = l->w;

	log_warnx("supervisor declared us unresponsive: missed %" PRIu64 ", silent for %" PRIu64
		  "ms, last seq %" PRIu64 "%s",
		  m->missed, m->silent_ms, m->last_seq,
		  heartbeat_stalled(w->hb) ? " (we are stalled: SIGUSR1 resumes)" : "");
	if (w->on_timeout == WORKER_ON_TIMEOUT_EXIT) {
		log_warnx("exiting so that the service manager restarts us (--on-timeout exit)");
		w->exit_status = 1;
		event_base_loopbreak(w->base);
		return;
	}
	heartbeat_send_now(w->hb);
}

static void
listener_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	const struct worker_ctx *w = l->w;
	char buf[VIGIL_WIRE_MAX + 1];
	struct vigil_wire_error err;
	struct vigil_msg m;

	/* TIMEOUTs are rare; a few per wakeup is plenty, and bounds a flood. */
	for (int i = 0; i < 16; i++) {
		struct sockaddr_un from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&from, &fromlen);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("receive on %s", l->w->socket_path);
			return;
		}
		/* MSG_TRUNC reports the real size: anything past buf is oversized anyway. */
		size_t len = (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n;
		char why[160] = "";
		/* Only the supervisor we heartbeat to may declare us late. */
		if (fromlen != w->sup_addrlen || memcmp(&from, &w->sup_addr, fromlen) != 0)
			snprintf(why, sizeof(why), "not from the supervisor at %s", w->supervisor_path);
		else if (vigil_wire_decode(buf, len, &m, &err) == -1)
			vigil_wire_describe(&err, why, sizeof(why));
		else if (vigil_wire_kind(&m) != VIGIL_MSG_TIMEOUT)
			snprintf(why, sizeof(why), "not a TIMEOUT");
		else if (!(m.fields & VIGIL_F_WORKER) || strcmp(m.worker, w->name) != 0)
			snprintf(why, sizeof(why), "TIMEOUT without our name (%s)", w->name);
		if (why[0] != '\0') {
			log_ratelimited(&l->rl_invalid, vigil_now_usec(), LOG_LEVEL_WARN,
					"dropped datagram on %s: %s", w->socket_path, why);
			continue;
		}
		listener_timeout(l, &m);
		if (l->w->exit_status != 0)
			return;
	}
}

struct listener *
listener_start(struct worker_ctx *w, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->w = w;
	l->ev = event_new(w->base, w->sock.fd, EV_READ | EV_PERSIST, listener_read_cb, l);
	if (l->ev == NULL || event_add(l->ev, NULL) == -1) {
		snprintf(err, errlen, "cannot watch %s", w->socket_path);
		listener_free(l);
		return NULL;
	}
	return l;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->ev != NULL)
		event_free(l->ev);
	free(l);
}
