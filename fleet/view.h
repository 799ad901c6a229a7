/*
 * view.h: the fleet view, without I/O: what etcd holds under /vigil/v1/,
 * with each worker's derived state. A worker's state is its key's while its
 * host's key exists; once the host key is gone (its lease expired) every
 * worker of that host is `unknown` and the host is `lost`: one host
 * incident, never one death per worker. The view is `stale` while etcd
 * cannot be read. Changes are reported one by one to an emit callback
 * (vigil-fleet watch prints them).
 *
 * A host key that disappears while the view is stale, or within grace after
 * it turned fresh, is not reported at once: when etcd's quorum returns, a
 * leader that was stopped meanwhile can revoke every lease at once (its
 * clock jumped past their TTLs), and live publishers claim their host keys
 * again within a keepalive period. Such a host is reported lost only if its
 * key is still gone grace after the view turned fresh (view_tick), and then
 * as lost since its key disappeared; a host whose key comes back in time
 * is reported as host_renewed, not as an incident. Outside that window a
 * host key gone is held for settle only (VIEW_SETTLE_MS in watch): a
 * publisher taking over from an older one deletes the key and claims it
 * again a few ms later, which is no incident either.
 */
#ifndef VIGIL_FLEET_VIEW_H
#define VIGIL_FLEET_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "etcdmsg.h"

/*
 * A change, as a JSON object with "event" one of host_up, host_lost
 * (with "workers", how many became unknown, and "lost_since"),
 * host_renewed (its key came back within the grace), worker (a present host's
 * worker changed state or pid: "state", "pid", "since", ...), worker_gone,
 * stale, fresh; and "time", the wall clock in ms when the view learned it.
 */
typedef void (*view_emit_cb)(const json_t *change, void *arg);

struct view {
	json_t *hosts;   /* host -> {"present":bool,"lost_since":ms,"value":{...}} */
	json_t *workers; /* "host/name" -> the worker key's value */
	int stale;
	uint64_t stale_since_ms;
	char stale_why[200];
	uint64_t fresh_since_ms; /* when the view last turned fresh (0: never stale) */
	uint64_t grace_ms;       /* see above; 0 reports every loss at once */
	uint64_t settle_ms;      /* see above; 0 reports a loss outside the grace at once */
	int64_t revision;        /* of the last load or watch event */
	view_emit_cb emit;
	void *arg;
};

int view_init(struct view *v, view_emit_cb emit, void *arg);
void view_free(struct view *v);

/* Replace the view with a full read of the prefix (a range reply's kvs), emitting the differences.
 */
void view_load(struct view *v, const struct etcd_kv *kvs, size_t n, int64_t revision,
               uint64_t now_ms);

/* One watch event: a put (value non-NULL) or a delete of key. */
void view_apply(struct view *v, const char *key, const char *value, uint64_t now_ms);

/* Report the held host losses whose grace or settle time is over. */
void view_tick(struct view *v, uint64_t now_ms);
/* When view_tick has something to do next (ms since the epoch), 0 if nothing is held. */
uint64_t view_next_deadline(const struct view *v);

/* etcd could (not) be read: the view is stale (why says how) or fresh again. */
void view_set_stale(struct view *v, int stale, const char *why, uint64_t now_ms);

/*
 * The whole view as JSON: {"stale":bool,["stale_since":ms,"stale_why":...,]
 * "hosts":[{"host","state":"up"|"lost",["lost_since":ms,]"info":{...},
 * "workers":[{"worker","state",["reported_state",]"pid","since",...}]}]},
 * hosts and workers in name order. A new reference.
 */
json_t *view_json(const struct view *v);

/* The same as an aligned table for people. */
void view_print(const struct view *v, FILE *fp);

/*
 * The view as Prometheus metrics (text format 0.0.4): vigil_fleet_stale,
 * vigil_fleet_host_up{host} and vigil_fleet_worker_state{host,worker,state}
 * (1 for the derived state: unknown while the host is lost).
 */
void view_metrics(const struct view *v, FILE *fp);

/* One change as a line for people ("12:00:01.234 host b lost: 3 workers unknown"). */
void view_print_change(const json_t *change, FILE *fp);

#endif
