/*
 * agent.h: the publisher, the I/O around publish.h. It holds the host's one
 * lease, claims the host key, and turns the supervisor's snapshot and events
 * into guarded transactions:
 *
 *   1. grant a lease (TTL --ttl), kept alive every --keepalive while the
 *      supervisor's control socket is connected;
 *   2. claim the host key: a put if it does not exist (create revision 0);
 *      if it does, the newest publisher of the host (by the "started" time
 *      in the key's value) wins: an older one's key is deleted (and its
 *      lease revoked, so that it learns at its next keepalive) and claimed
 *      again, so that its creation revision becomes our guard; a newer
 *      one's makes us exit 3;
 *   3. reconcile: read the host's worker keys, delete those the supervisor
 *      no longer knows, rewrite every other;
 *   4. then, on every change, one transaction (at most AGENT_TXN_OPS
 *      operations) with what changed, guarded by the host key's creation
 *      revision. A failed guard means the host key is gone (the lease
 *      expired: back to 1) or belongs to another publisher (as in 2).
 *
 * When etcd cannot be reached nothing but this process notices: it logs
 * once, keeps the latest state per worker, retries with a backoff (200 ms
 * doubling to 5 s) and logs once when etcd answers again.
 */
#ifndef VIGIL_FLEET_AGENT_H
#define VIGIL_FLEET_AGENT_H

#include <stdint.h>

#include <event2/event.h>

#include "etcd.h"

#define AGENT_TXN_OPS 128 /* etcd's default --max-txn-ops */
#define AGENT_EXIT_SUPERSEDED 3

struct agent_settings {
	const char *host;
	const char *control;
	uint64_t ttl_usec;
	uint64_t keepalive_usec;
};

struct agent;

/* A publisher on base; NULL when out of memory or if the control path does not fit. */
struct agent *agent_new(struct event_base *base, struct etcd *etcd,
                        const struct agent_settings *set);
/* Start reading the control socket and publishing. */
void agent_start(struct agent *a);
/* 0 after a clean stop, AGENT_EXIT_SUPERSEDED when a newer publisher took the host key. */
int agent_exit_status(const struct agent *a);
void agent_free(struct agent *a);

#endif
