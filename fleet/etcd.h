/*
 * etcd.h: a client of etcd v3's HTTP/JSON gateway on libevent's evhttp.
 * Several endpoints for failover: a request that fails at once (refused,
 * reset) is sent again to the next endpoint; one that times out (each
 * request has its own deadline, shorter than etcd's own 7 s without a
 * leader) or gets an error reply fails, and the next request starts at the
 * next endpoint. Requests on different channels use different connections,
 * so that a slow write never delays a lease keepalive. Over https, each
 * request has a connection of its own, the server's certificate checked
 * against a CA and the endpoint's host name. With etcd authentication, a
 * token is fetched before the first request, sent with every one, and
 * fetched again when etcd says it is no longer valid.
 */
#ifndef VIGIL_FLEET_ETCD_H
#define VIGIL_FLEET_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#define ETCD_MAX_ENDPOINTS 8

enum etcd_channel { ETCD_CH_KV, ETCD_CH_LEASE, ETCD_CH_WATCH, ETCD_NCHANNELS };

struct etcd;

/*
 * The reply to a request: reply is the parsed JSON body (NULL on failure,
 * with why saying what failed: "timed out after 2s", "connection refused",
 * "HTTP 503: etcdserver: no leader", ...). The reply is borrowed.
 */
typedef void (*etcd_cb)(const json_t *reply, const char *why, void *arg);

/* One line of a watch stream (a parsed JSON object), or its end (line NULL, why set). */
typedef void (*etcd_stream_cb)(const json_t *line, const char *why, void *arg);

/* TLS files and credentials; any may be NULL. */
struct etcd_security {
	const char *cacert;          /* the CA the servers' certificates must chain to */
	const char *cert, *key;      /* a client certificate, and its key */
	const char *user, *password; /* etcd authentication (both, or neither) */
};

/*
 * Parse "http[s]://HOST:PORT[,...]" (at most ETCD_MAX_ENDPOINTS) and load
 * sec's files (sec may be NULL); NULL with err naming what is wrong.
 */
struct etcd *etcd_new(struct event_base *base, const char *urls, uint64_t timeout_usec,
                      const struct etcd_security *sec, char *err, size_t errlen);
/*
 * Free e and every request it has out (their callbacks never run). Over
 * https it then runs the loop without blocking (every callback ready on the
 * base, until none is), so that libevent can finish freeing the TLS
 * connections: free everything else on the base first. etcd_new's failure
 * path does the same on a base that holds nothing of ours yet.
 */
void etcd_free(struct etcd *e);

/*
 * POST body (stolen) to path (e.g. "/v3/kv/txn") on channel; cb once with
 * the reply. Returns 0, or -1 when out of memory (cb is not called).
 */
int etcd_post(struct etcd *e, enum etcd_channel ch, const char *path, json_t *body, etcd_cb cb,
              void *arg);

/*
 * Open a watch (body: {"create_request":{...}}, stolen) on ETCD_CH_WATCH:
 * cb for every line, then once with NULL when the stream ends. Only one
 * watch at a time; etcd_watch_cancel ends it without a callback (never call
 * it, or etcd_watch, from within cb: they free the connection cb reads from).
 */
int etcd_watch(struct etcd *e, json_t *body, etcd_stream_cb cb, void *arg);
void etcd_watch_cancel(struct etcd *e);

/*
 * POST to endpoint ep (0 to etcd_nendpoints - 1) only, on ETCD_CH_LEASE,
 * with no failover: for probing members one by one.
 */
int etcd_post_to(struct etcd *e, size_t ep, const char *path, json_t *body, etcd_cb cb, void *arg);
size_t etcd_nendpoints(const struct etcd *e);
/* The endpoint the open watch reads from, -1 if none. */
int etcd_watch_endpoint(const struct etcd *e);
/* Send the next requests (and the next watch) to endpoint ep. */
void etcd_prefer(struct etcd *e, size_t ep);

/* The endpoint the next request goes to ("http://127.0.0.1:2379"). */
const char *etcd_endpoint(const struct etcd *e);

/* Requests sent and bytes of request bodies sent, since etcd_new (for sizing). */
uint64_t etcd_requests(const struct etcd *e);
uint64_t etcd_bytes_sent(const struct etcd *e);

#endif
