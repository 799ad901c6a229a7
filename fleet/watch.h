/*
 * watch.h: the fleet view's I/O, for `vigil-fleet status` and `vigil-fleet
 * watch`. status reads every key under /vigil/v1/ once (a linearizable read;
 * if etcd has no quorum, a serializable one from any member, printed as
 * stale). watch reads them, then follows an etcd watch from the next
 * revision, printing each change; every --probe it makes a small
 * linearizable read with the --timeout deadline: when that fails the view
 * is stale (said once), and when it works again the view is read anew and
 * the watch reopened, printing what changed meanwhile. Host keys that
 * disappear as the quorum returns are held for --grace, others for
 * WATCH_SETTLE_MS (view.h). With --metrics, watch serves the view as
 * Prometheus metrics (view_metrics) over HTTP.
 */
#ifndef VIGIL_FLEET_WATCH_H
#define VIGIL_FLEET_WATCH_H

#include <stdint.h>

#include <event2/event.h>

#include "etcd.h"

#define WATCH_SETTLE_MS 100 /* a host key gone this long is a host lost (view.h) */
#define WATCH_EXIT_STALE 3  /* status: printed, but from a member without quorum */

struct watch_settings {
	int json;            /* JSON instead of text */
	int follow;          /* watch (1) or status (0) */
	uint64_t probe_usec; /* watch: how often etcd's quorum is checked */
	uint64_t
	    grace_usec; /* watch: how long a host key lost with the quorum may take to return */
	const char *metrics; /* watch: serve GET /metrics on this HOST:PORT (NULL: no) */
};

/*
 * Split "HOST:PORT" ("[::1]:9478", "127.0.0.1:9478") into host and port; -1
 * with err if it is not that.
 */
int watch_parse_addr(const char *s, char *host, size_t cap, uint16_t *port, char *err,
                     size_t errlen);

/* Run status or watch on base until done (status) or the loop is broken; the exit status. */
int watch_run(struct event_base *base, struct etcd *etcd, const struct watch_settings *set);

#endif
