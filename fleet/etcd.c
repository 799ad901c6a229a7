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
#include "etcdtls.h"
#include "log.h"

#define ETCD_WATCH_IDLE_SEC 86400 /* a watch may be quiet for long: staleness is probed apart */

struct etcd_endpoint {
	char url[128];
	char host[64];
	uint16_t port;
	int tls; /* https: a connection per request (see etcd_conn) */
	struct evhttp_connection *conn[ETCD_NCHANNELS];
};

/* A TLS connection done with, freed from the loop once its callback has returned. */
struct etcd_dead_conn {
	struct evhttp_connection *conn;
	struct etcd_dead_conn *next;
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
	struct evhttp_connection *tls_conn; /* its own connection, over https */
	SSL *ssl;                           /* that connection's (owned by it) */
	int noauth;                         /* the authentication request itself */
	int reauthed;                       /* sent again once after a new token */
	struct etcd_req *next_waiting;      /* waiting for a token */
	struct etcd_req *next_tls;          /* in etcd's list of requests with a TLS connection */
	struct etcd_req *prev, *next;       /* in etcd's list of every request not freed yet */
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
	SSL_CTX *ssl_ctx;            /* for https endpoints */
	struct etcd_dead_conn *dead; /* TLS connections to free */
	struct event *reap;          /* frees them */
	int reap_now;                /* etcd_free: free at once */
	char *user, *password;       /* etcd authentication, if any */
	char *token;                 /* its token, once authenticated */
	int authenticating;          /* the request for one is out */
	struct etcd_req *waiting;    /* requests waiting for a token, in order */
	struct etcd_req **waiting_tail;
	struct etcd_req *tls_reqs; /* requests holding a TLS connection (for etcd_free) */
	struct etcd_req *reqs;     /* every request not freed yet: evhttp drops what is in
	                              flight when etcd_free frees its connection, untold */
};

static int etcd_send(struct etcd_req *r);
static int etcd_submit(struct etcd_req *r);
static struct etcd_req *etcd_req_new(struct etcd *e, enum etcd_channel ch, const char *path,
                                     json_t *body);
static void etcd_unwait(struct etcd *e, struct etcd_req *r);

/* r's endpoint failed: the next request goes to the next one (once per failure of it). */
static void
etcd_next(struct etcd *e, const struct etcd_req *r)
{
	if (e->cur == r->ep)
		e->cur = (e->cur + 1) % e->n;
}

/* One "http[s]://HOST:PORT" into ep; -1 if it is not that. */
static int
etcd_parse_url(const char *url, size_t len, struct etcd_endpoint *ep)
{
	unsigned port;
	char rest[8];
	size_t skip;

	if (len >= sizeof(ep->url))
		return -1;
	if (strncmp(url, "http://", 7) == 0)
		skip = 7;
	else if (strncmp(url, "https://", 8) == 0)
		skip = 8, ep->tls = 1;
	else
		return -1;
	memcpy(ep->url, url, len);
	ep->url[len] = '\0';
	if (sscanf(ep->url + skip, "%63[^:/]:%u%7s", ep->host, &port, rest) != 2 || port == 0 ||
	    port > 65535)
		return -1;
	ep->port = (uint16_t)port;
	return 0;
}

/* Free the TLS connections done with (from the loop, never within their callbacks). */
static void
etcd_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct etcd *e = arg;

	(void)fd;
	(void)what;
	while (e->dead != NULL) {
		struct etcd_dead_conn *d = e->dead;

		e->dead = d->next;
		evhttp_connection_free(d->conn);
		free(d);
	}
}

static void
etcd_bury(struct etcd *e, struct evhttp_connection *conn)
{
	struct etcd_dead_conn *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return; /* leaked rather than freed under its own callback */
	if (e->reap_now) {
		free(d);
		evhttp_connection_free(conn);
		return;
	}
	d->conn = conn;
	d->next = e->dead;
	e->dead = d;
	event_active(e->reap, 0, 0);
}

struct etcd *
etcd_new(struct event_base *base, const char *urls, uint64_t timeout_usec,
         const struct etcd_security *sec, char *err, size_t errlen)
{
	struct etcd *e = calloc(1, sizeof(*e));
	const char *p = urls;
	int tls = 0;

	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->base = base;
	e->timeout_usec = timeout_usec;
	e->waiting_tail = &e->waiting;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");

		if (e->n == ETCD_MAX_ENDPOINTS) {
			snprintf(err, errlen, "--etcd: more than %d endpoints", ETCD_MAX_ENDPOINTS);
			goto fail;
		}
		if (etcd_parse_url(p, len, &e->ep[e->n]) == -1) {
			snprintf(err, errlen, "--etcd: '%.*s' is not http[s]://HOST:PORT", (int)len,
			         p);
			goto fail;
		}
		tls |= e->ep[e->n].tls;
		e->n++;
		p += len;
		if (*p == ',')
			p++;
	}
	if (e->n == 0) {
		snprintf(err, errlen, "--etcd: no endpoint given");
		goto fail;
	}
	if (sec != NULL && !tls && (sec->cacert || sec->cert || sec->key)) {
		snprintf(err, errlen, "--cacert, --cert and --key need an https:// endpoint");
		goto fail;
	}
	if (sec != NULL && (sec->cert == NULL) != (sec->key == NULL)) {
		snprintf(err, errlen, "--cert and --key go together");
		goto fail;
	}
	if (tls &&
	    (e->ssl_ctx = etcdtls_ctx_new(sec->cacert, sec->cert, sec->key, err, errlen)) == NULL)
		goto fail;
	if ((e->reap = event_new(base, -1, 0, etcd_reap_cb, e)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (sec != NULL && sec->user != NULL) {
		e->user = strdup(sec->user);
		e->password = strdup(sec->password);
		if (e->user == NULL || e->password == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	return e;
fail:
	etcd_free(e);
	return NULL;
}

/* r gives up its TLS connection: freed later (or now, by etcd_free). */
static void
etcd_req_drop_conn(struct etcd_req *r)
{
	if (r->tls_conn == NULL)
		return;
	for (struct etcd_req **p = &r->e->tls_reqs; *p != NULL; p = &(*p)->next_tls) {
		if (*p == r) {
			*p = r->next_tls;
			break;
		}
	}
	etcd_bury(r->e, r->tls_conn);
	r->tls_conn = NULL;
	r->ssl = NULL;
}

static void
etcd_req_free(struct etcd_req *r)
{
	etcd_req_drop_conn(r);
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->e->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
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
	e->reap_now = 1;
	while (e->tls_reqs != NULL) /* in flight: freeing the connection drops the request */
		etcd_req_free(e->tls_reqs);
	while (e->waiting != NULL) {
		struct etcd_req *r = e->waiting;

		e->waiting = r->next_waiting;
		etcd_req_free(r);
	}
	for (size_t i = 0; i < e->n; i++)
		for (int c = 0; c < ETCD_NCHANNELS; c++)
			if (e->ep[i].conn[c] != NULL)
				evhttp_connection_free(e->ep[i].conn[c]);
	while (e->reqs != NULL) /* in flight on the connections just freed */
		etcd_req_free(e->reqs);
	if (e->reap != NULL) {
		etcd_reap_cb(-1, 0, e);
		event_free(e->reap);
	}
	/*
	 * A TLS connection's bufferevent defers its callbacks, each holding a
	 * reference: freed while one is queued (a SIGTERM just as a handshake
	 * failed), it is only let go when the loop runs that callback, and
	 * event_base_free does not: its SSL leaked at exit (LeakSanitizer, in
	 * test_fleet_tls). Their callbacks are cleared: this only lets them go.
	 * EVLOOP_NONBLOCK runs whatever is ready, on the whole base, until
	 * nothing is: the callers free everything else on the base first.
	 */
	if (e->ssl_ctx != NULL) {
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		SSL_CTX_free(e->ssl_ctx);
	}
	if (e->password != NULL)
		explicit_bzero(e->password, strlen(e->password));
	free(e->user);
	free(e->password);
	free(e->token);
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

/* A connection's deadline (a watch's is long: it may be quiet) and no retries by evhttp. */
static void
etcd_conn_setup(struct etcd *e, struct evhttp_connection *conn, enum etcd_channel ch)
{
	struct timeval tv;

	if (ch == ETCD_CH_WATCH) {
		tv.tv_sec = ETCD_WATCH_IDLE_SEC;
		tv.tv_usec = 0;
	} else {
		tv.tv_sec = (time_t)(e->timeout_usec / VIGIL_USEC_PER_SEC);
		tv.tv_usec = (suseconds_t)(e->timeout_usec % VIGIL_USEC_PER_SEC);
	}
	evhttp_connection_set_timeout_tv(conn, &tv);
	evhttp_connection_set_retries(conn, 0);
}

static struct evhttp_connection *
etcd_conn(struct etcd *e, struct etcd_endpoint *ep, enum etcd_channel ch)
{
	if (ep->conn[ch] != NULL)
		return ep->conn[ch];
	ep->conn[ch] = evhttp_connection_base_new(e->base, NULL, ep->host, ep->port);
	if (ep->conn[ch] != NULL)
		etcd_conn_setup(e, ep->conn[ch], ch);
	return ep->conn[ch];
}

/* A connection of r's own, over TLS to ep. */
static struct evhttp_connection *
etcd_tls_conn(struct etcd *e, struct etcd_endpoint *ep, struct etcd_req *r)
{
	struct evhttp_connection *conn =
	    etcdtls_connect(e->base, e->ssl_ctx, ep->host, ep->port, &r->ssl);

	if (conn != NULL)
		etcd_conn_setup(e, conn, r->ch);
	return conn;
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
	char why[512];
	json_t *reply = NULL;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (r->stream_cb != NULL) {
		if (e->watch != r || e->watch_gen != r->watch_gen)
			return; /* cancelled: etcd_watch_cancel freed r's owner already */
		if (req != NULL && code == 200)
			etcd_chunk_cb(req, r);
		char tls[200];

		etcdtls_why(r->ssl, r->tls_conn, tls, sizeof(tls));
		snprintf(why, sizeof(why), "watch on %s ended: %s", e->ep[e->cur].url,
		         tls[0] != '\0' ? tls
		         : code == 0    ? etcd_error_name(r->error)
		                        : "closed by the server");
		e->watch = NULL;
		e->cur = (e->cur + 1) % e->n;
		r->stream_cb(NULL, why, r->arg);
		etcd_req_free(r);
		return;
	}
	if (code == 0) {
		uint64_t spent = vigil_now_usec() - r->started;
		char tls[200];

		etcdtls_why(r->ssl, r->tls_conn, tls, sizeof(tls));
		if (tls[0] != '\0') { /* a certificate refused: never retried, always said */
			snprintf(why, sizeof(why), "%s: %s", e->ep[r->ep].url, tls);
			etcd_next(e, r);
			r->cb(NULL, why, r->arg);
			etcd_req_free(r);
			return;
		}
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
	if (msg != NULL && e->user != NULL && !r->noauth && !r->reauthed &&
	    (strstr(msg, "invalid auth token") != NULL ||
	     strstr(msg, "user name is empty") != NULL)) {
		/* The token expired (or etcd restarted): a new one, and r once more. */
		log_info("etcd: %s; authenticating again as %s", msg, e->user);
		free(e->token);
		e->token = NULL;
		r->reauthed = 1;
		json_decref(reply);
		etcd_req_drop_conn(r); /* freed once this callback has returned */
		if (etcd_submit(r) == -1) {
			r->cb(NULL, "cannot send the request again", r->arg);
			etcd_req_free(r);
		}
		return;
	}
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
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	char host[80];

	etcd_req_drop_conn(r); /* a retry: the failed connection goes */
	/*
	 * Over https every request has a connection of its own: libevent 2.1's
	 * evhttp would reconnect a closed TLS connection with its spent TLS state.
	 */
	if (ep->tls) {
		if ((conn = r->tls_conn = etcd_tls_conn(e, ep, r)) != NULL) {
			r->next_tls = e->tls_reqs;
			e->tls_reqs = r;
		}
	} else {
		conn = etcd_conn(e, ep, r->ch);
	}

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
	if (e->token != NULL && !r->noauth)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization",
		                  e->token);
	evbuffer_add(evhttp_request_get_output_buffer(req), r->body, r->len);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, r->path) == -1)
		return -1; /* evhttp_make_request freed req */
	e->requests++;
	e->bytes += r->len;
	return 0;
}

/* r failed before it was sent: its callback, and r is freed. */
static void
etcd_fail(struct etcd_req *r, const char *why)
{
	struct etcd *e = r->e;

	if (r->stream_cb != NULL) {
		if (e->watch == r) {
			e->watch = NULL;
			r->stream_cb(NULL, why, r->arg);
		}
	} else {
		r->cb(NULL, why, r->arg);
	}
	etcd_req_free(r);
}

static void
etcd_unwait(struct etcd *e, struct etcd_req *r)
{
	for (struct etcd_req **p = &e->waiting; *p != NULL; p = &(*p)->next_waiting) {
		if (*p == r) {
			*p = r->next_waiting;
			if (*p == NULL)
				e->waiting_tail = p;
			r->next_waiting = NULL;
			return;
		}
	}
}

/* The reply to POST /v3/auth/authenticate: send, or fail, what waited for it. */
static void
etcd_auth_cb(const json_t *reply, const char *why, void *arg)
{
	struct etcd *e = arg;
	struct etcd_req *list = e->waiting;
	const char *token =
	    reply != NULL ? json_string_value(json_object_get(reply, "token")) : NULL;
	char msg[320];

	e->authenticating = 0;
	e->waiting = NULL;
	e->waiting_tail = &e->waiting;
	if (token != NULL && (e->token = strdup(token)) == NULL)
		why = "out of memory";
	else if (token == NULL && why == NULL)
		why = "no token in the reply";
	if (e->token == NULL)
		snprintf(msg, sizeof(msg), "authentication as %s failed: %s", e->user, why);
	while (list != NULL) {
		struct etcd_req *r = list;

		list = r->next_waiting;
		r->next_waiting = NULL;
		if (e->token == NULL)
			etcd_fail(r, msg);
		else if (etcd_send(r) == -1)
			etcd_fail(r, "cannot send the request");
	}
}

/* Send r, or first get a token if etcd wants one and there is none. */
static int
etcd_submit(struct etcd_req *r)
{
	struct etcd *e = r->e;
	struct etcd_req *a;

	if (e->user == NULL || r->noauth || e->token != NULL)
		return etcd_send(r);
	*e->waiting_tail = r;
	e->waiting_tail = &r->next_waiting;
	if (e->authenticating)
		return 0;
	a = etcd_req_new(e, ETCD_CH_LEASE, "/v3/auth/authenticate",
	                 json_pack("{s:s, s:s}", "name", e->user, "password", e->password));
	if (a == NULL) {
		etcd_unwait(e, r);
		return -1;
	}
	a->noauth = 1;
	a->cb = etcd_auth_cb;
	a->arg = e;
	e->authenticating = 1;
	if (etcd_send(a) == -1) {
		e->authenticating = 0;
		etcd_unwait(e, r);
		etcd_req_free(a);
		return -1;
	}
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
	r->next = e->reqs;
	if (e->reqs != NULL)
		e->reqs->prev = r;
	e->reqs = r;
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
	if (etcd_submit(r) == -1) {
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
	if (etcd_submit(r) == -1) {
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
	if (etcd_submit(r) == -1) {
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
	etcd_unwait(e, r);
	if (r->tls_conn != NULL) {
		int now = e->reap_now;

		e->reap_now = 1; /* freed at once: its callback must not run */
		etcd_req_drop_conn(r);
		e->reap_now = now;
	}
	for (size_t i = 0; i < e->n; i++) {
		if (e->ep[i].conn[ETCD_CH_WATCH] != NULL) {
			evhttp_connection_free(e->ep[i].conn[ETCD_CH_WATCH]);
			e->ep[i].conn[ETCD_CH_WATCH] = NULL;
		}
	}
	etcd_req_free(r);
}
