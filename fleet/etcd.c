/*
 * etcd.c: the gateway client on evhttp. See etcd.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "duration.h"
#include "etcd.h"
#include "etcdmsg.h"

#define ETCD_WATCH_IDLE_SEC 86400 /* a watch may be quiet for long: staleness is probed apart */

struct etcd_endpoint {
	char url[128];
	char host[64];
	uint16_t port;
	struct evhttp_connection *conn[ETCD_NCHANNELS];
};

struct etcd_req {
	struct etcd *e;
	enum etcd_channel ch;
	char path[64];
	char *body;
	size_t len;
	etcd_cb cb;
	etcd_stream_cb stream_cb;
	void *arg;
	size_t attempts;
	size_t ep;  /* the endpoint it was sent to */
	int pinned; /* sent to endpoint ep only, never elsewhere */
	uint64_t started;
	enum evhttp_request_error error;
	int failed_error;       /* error_cb ran */
	struct evbuffer *lines; /* a watch's partial line */
	uint64_t watch_gen;
};

struct etcd {
	struct event_base *base;
	struct etcd_endpoint ep[ETCD_MAX_ENDPOINTS];
	size_t n, cur;
	uint64_t timeout_usec;
	uint64_t requests, bytes;
	struct etcd_req *watch; /* the open watch, if any */
	size_t watch_ep;        /* its endpoint */
	uint64_t watch_gen;
};

static int etcd_send(struct etcd_req *r);

/* r's endpoint failed: the next request goes to the next one (once per failure of it). */
static void
etcd_next(struct etcd *e, const struct etcd_req *r)
{
	if (e->cur == r->ep)
		e->cur = (e->cur + 1) % e->n;
}

/* One "http://HOST:PORT" into ep; -1 if it is not that. */
static int
etcd_parse_url(const char *url, size_t len, struct etcd_endpoint *ep)
{
	unsigned port;
	char rest[8];

	if (len >= sizeof(ep->url) || strncmp(url, "http://", 7) != 0)
		return -1;
	memcpy(ep->url, url, len);
	ep->url[len] = '\0';
	if (sscanf(ep->url + 7, "%63[^:/]:%u%7s", ep->host, &port, rest) != 2 || port == 0 ||
	    port > 65535)
		return -1;
	ep->port = (uint16_t)port;
	return 0;
}

struct etcd *
etcd_new(struct event_base *base, const char *urls, uint64_t timeout_usec, char *err, size_t errlen)
{
	struct etcd *e = calloc(1, sizeof(*e));
	const char *p = urls;

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->base = base;
	e->timeout_usec = timeout_usec;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (e->n == ETCD_MAX_ENDPOINTS) {
			snprintf(err, errlen, "--etcd: more than %d endpoints", ETCD_MAX_ENDPOINTS);
			goto fail;
		}
		if (etcd_parse_url(p, len, &e->ep[e->n]) == -1) {
			snprintf(err, errlen, "--etcd: '%.*s' is not http://HOST:PORT", (int)len,
			         p);
			goto fail;
		}
		e->n++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (e->n == 0) {
		snprintf(err, errlen, "--etcd: no endpoint given");
		goto fail;
	}
	return e;
fail:
	free(e);
	return NULL;
}

static void
etcd_req_free(struct etcd_req *r)
{
	if (r->lines != NULL)
		evbuffer_free(r->lines);
	free(r->body);
	free(r);
}

void
etcd_free(struct etcd *e)
{
	if (e == NULL)
		return;
	etcd_watch_cancel(e);
	for (size_t i = 0; i < e->n; i++)
		for (int c = 0; c < ETCD_NCHANNELS; c++)
			if (e->ep[i].conn[c] != NULL)
				evhttp_connection_free(e->ep[i].conn[c]);
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->ep[e->cur].url;
}

uint64_t
etcd_requests(const struct etcd *e)
{
	return e->requests;
}

uint64_t
etcd_bytes_sent(const struct etcd *e)
{
	return e->bytes;
}

static struct evhttp_connection *
etcd_conn(struct etcd *e, struct etcd_endpoint *ep, enum etcd_channel ch)
{
	struct timeval tv;

	if (ep->conn[ch] != NULL)
		return ep->conn[ch];
	ep->conn[ch] = evhttp_connection_base_new(e->base, NULL, ep->host, ep->port);
	if (ep->conn[ch] == NULL)
		return NULL;
	if (ch == ETCD_CH_WATCH) {
		tv.tv_sec = ETCD_WATCH_IDLE_SEC;
		tv.tv_usec = 0;
	} else {
		tv.tv_sec = (time_t)(e->timeout_usec / VIGIL_USEC_PER_SEC);
		tv.tv_usec = (suseconds_t)(e->timeout_usec % VIGIL_USEC_PER_SEC);
	}
	evhttp_connection_set_timeout_tv(ep->conn[ch], &tv);
	evhttp_connection_set_retries(ep->conn[ch], 0);
	return ep->conn[ch];
}

static const char *
etcd_error_name(enum evhttp_request_error err)
{
	switch (err) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid reply header";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection failed";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "cancelled";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "reply too long";
	}
	return "failed";
}

static void
etcd_error_cb(enum evhttp_request_error err, void *arg)
{
	struct etcd_req *r = arg;

	r->error = err;
	r->failed_error = 1;
}

/* Split what a watch received into lines, each handed over parsed. */
static void
etcd_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct etcd_req *r = arg;
	struct etcd *e = r->e;
	uint64_t gen = r->watch_gen;
	char *line;
	size_t len;

	evbuffer_add_buffer(r->lines, evhttp_request_get_input_buffer(req));
	while (e->watch == r && e->watch_gen == gen &&
	       (line = evbuffer_readln(r->lines, &len, EVBUFFER_EOL_LF)) != NULL) {
		json_t *j = json_loadb(line, len, 0, NULL);

		free(line);
		if (j != NULL)
			r->stream_cb(j, NULL, r->arg);
		json_decref(j);
	}
}

static void
etcd_done_cb(struct evhttp_request *req, void *arg)
{
	struct etcd_req *r = arg;
	struct etcd *e = r->e;
	char why[256];
	json_t *reply = NULL;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (r->stream_cb != NULL) {
		if (e->watch != r || e->watch_gen != r->watch_gen)
			return; /* cancelled: etcd_watch_cancel freed r's owner already */
		if (req != NULL && code == 200)
			etcd_chunk_cb(req, r);
		snprintf(why, sizeof(why), "watch on %s ended: %s", e->ep[e->cur].url,
		         code == 0 ? etcd_error_name(r->error) : "closed by the server");
		e->watch = NULL;
		e->cur = (e->cur + 1) % e->n;
		r->stream_cb(NULL, why, r->arg);
		etcd_req_free(r);
		return;
	}
	if (code == 0) {
		uint64_t spent = vigil_now_usec() - r->started;

		etcd_next(e, r);
		/* Refused or reset at once: the next endpoint may answer within the deadline. */
		if (!r->pinned && r->attempts < e->n && spent < e->timeout_usec / 2 &&
		    r->error != EVREQ_HTTP_TIMEOUT && etcd_send(r) == 0)
			return;
		snprintf(why, sizeof(why), "%s%s", etcd_error_name(r->error),
		         r->error == EVREQ_HTTP_TIMEOUT ? " (request deadline)" : "");
		r->cb(NULL, why, r->arg);
		etcd_req_free(r);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	reply = json_loadb((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, 0, NULL);
	const char *msg = reply != NULL ? etcdmsg_error(reply) : NULL;
	if (code != 200 || reply == NULL || msg != NULL) {
		snprintf(why, sizeof(why), "HTTP %d from %s: %s", code, e->ep[e->cur].url,
		         msg != NULL ? msg : "reply is not JSON");
		e->cur = (e->cur + 1) % e->n;
		r->cb(NULL, why, r->arg);
		json_decref(reply);
		etcd_req_free(r);
		return;
	}
	r->cb(reply, NULL, r->arg);
	json_decref(reply);
	etcd_req_free(r);
}

/* Send r to the current endpoint; 0, or -1 if not even that could be done. */
static int
etcd_send(struct etcd_req *r)
{
	struct etcd *e = r->e;
	size_t i = r->pinned ? r->ep : e->cur;
	struct etcd_endpoint *ep = &e->ep[i];
	struct evhttp_connection *conn = etcd_conn(e, ep, r->ch);
	struct evhttp_request *req;
	char host[80];

	if (conn == NULL || (req = evhttp_request_new(etcd_done_cb, r)) == NULL)
		return -1;
	r->attempts++;
	r->ep = i;
	r->failed_error = 0;
	r->error = EVREQ_HTTP_EOF;
	if (r->started == 0)
		r->started = vigil_now_usec();
	evhttp_request_set_error_cb(req, etcd_error_cb);
	if (r->stream_cb != NULL)
		evhttp_request_set_chunked_cb(req, etcd_chunk_cb);
	snprintf(host, sizeof(host), "%s:%u", ep->host, (unsigned)ep->port);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), r->body, r->len);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, r->path) == -1)
		return -1; /* evhttp_make_request freed req */
	e->requests++;
	e->bytes += r->len;
	return 0;
}

static struct etcd_req *
etcd_req_new(struct etcd *e, enum etcd_channel ch, const char *path, json_t *body)
{
	struct etcd_req *r = calloc(1, sizeof(*r));

	if (r == NULL || body == NULL || (r->body = json_dumps(body, JSON_COMPACT)) == NULL) {
		free(r);
		json_decref(body);
		return NULL;
	}
	json_decref(body);
	r->e = e;
	r->ch = ch;
	r->len = strlen(r->body);
	snprintf(r->path, sizeof(r->path), "%s", path);
	return r;
}

int
etcd_post(struct etcd *e, enum etcd_channel ch, const char *path, json_t *body, etcd_cb cb,
          void *arg)
{
	struct etcd_req *r = etcd_req_new(e, ch, path, body);

	if (r == NULL)
		return -1;
	r->cb = cb;
	r->arg = arg;
	if (etcd_send(r) == -1) {
		etcd_req_free(r);
		return -1;
	}
	return 0;
}

int
etcd_post_to(struct etcd *e, size_t ep, const char *path, json_t *body, etcd_cb cb, void *arg)
{
	struct etcd_req *r = etcd_req_new(e, ETCD_CH_LEASE, path, body);

	if (r == NULL)
		return -1;
	r->cb = cb;
	r->arg = arg;
	r->pinned = 1;
	r->ep = ep % e->n;
	if (etcd_send(r) == -1) {
		etcd_req_free(r);
		return -1;
	}
	return 0;
}

size_t
etcd_nendpoints(const struct etcd *e)
{
	return e->n;
}

int
etcd_watch_endpoint(const struct etcd *e)
{
	return e->watch != NULL ? (int)e->watch_ep : -1;
}

void
etcd_prefer(struct etcd *e, size_t ep)
{
	e->cur = ep % e->n;
}

int
etcd_watch(struct etcd *e, json_t *body, etcd_stream_cb cb, void *arg)
{
	struct etcd_req *r = etcd_req_new(e, ETCD_CH_WATCH, "/v3/watch", body);

	etcd_watch_cancel(e);
	if (r == NULL || (r->lines = evbuffer_new()) == NULL) {
		if (r != NULL)
			etcd_req_free(r);
		return -1;
	}
	r->stream_cb = cb;
	r->arg = arg;
	r->attempts = e->n; /* a watch is never sent twice by us: its owner opens a new one */
	r->watch_gen = ++e->watch_gen;
	e->watch = r;
	e->watch_ep = e->cur;
	if (etcd_send(r) == -1) {
		e->watch = NULL;
		etcd_req_free(r);
		return -1;
	}
	return 0;
}

void
etcd_watch_cancel(struct etcd *e)
{
	struct etcd_req *r = e->watch;

	if (r == NULL)
		return;
	e->watch = NULL;
	e->watch_gen++;
	/* Freeing the connection drops the request without calling back. */
	for (size_t i = 0; i < e->n; i++) {
		if (e->ep[i].conn[ETCD_CH_WATCH] != NULL) {
			evhttp_connection_free(e->ep[i].conn[ETCD_CH_WATCH]);
			e->ep[i].conn[ETCD_CH_WATCH] = NULL;
		}
	}
	etcd_req_free(r);
}
