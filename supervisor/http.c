/*
 * http.c: the HTTP endpoint. See http.h.
 *
 * libevent 2.1's evhttp has no limit on connections, so we count them: each
 * accepted connection gets its bufferevent from http_bev_cb (evhttp's hook
 * for that), which counts it and, at the limit, stops the listener. Later
 * in the same turn of the loop, before any of the connection's own events
 * can run (http_adopt_cb has the higher priority), the connection evhttp
 * built around that bufferevent is found through its callback argument and
 * given a close callback, which uncounts it and resumes the listener. The
 * extra reference taken in between keeps the bufferevent valid even if
 * evhttp dropped the connection at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "duration.h"
#include "http.h"
#include "metrics.h"
#include "render.h"
#include "statuspage.h"
#include "supervisor.h"

/* A reply in progress: a document rendered in slices, sent as HTTP chunks. */
struct http_reply {
	struct http *h;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct render *render;
	int in_flight; /* a chunk is still being written: no room for the next */
	int head;      /* HEAD: the document is rendered only to count its bytes */
	size_t length; /* ... counted so far */
	struct http_reply *next;
};

struct http {
	struct supervisor *sv;
	struct netaddr addr; /* listened on: --metrics, or 0.0.0.0:PORT without IPv6 */
	struct http_reply *replies;
	struct evhttp *evh;
	struct evhttp_bound_socket *bound;
	struct event *adopt;  /* active while fresh[] holds connections to adopt */
	struct event *resume; /* re-enables accepting after running out of descriptors */
	struct bufferevent *fresh[HTTP_MAX_CONNECTIONS]; /* accepted, not adopted yet */
	size_t nfresh;
	struct evhttp_connection *conns[HTTP_MAX_CONNECTIONS]; /* open, with our close callback */
	size_t nconns;
	int closing;         /* http_free is running: connections close, nothing resumes */
	struct log_ratelimit rl_accept;
};

/* A resource of the endpoint: a document rendered in slices (render.h), or a fixed page. */
struct http_route {
	const char *path;
	const char *type; /* Content-Type */
	enum render_kind kind;
	const unsigned char *page; /* a fixed body instead of a document, */
	const size_t *page_len;    /* ... and its length */
};

/*
 * The status page may run its own inline script and style, and ask this
 * endpoint for /status; nothing else, from anywhere (it must work air-gapped,
 * and a worker's STATUS= text it shows can never pull anything in).
 */
#define HTTP_PAGE_CSP                                                                              \
	"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "              \
	"connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "                 \
	"frame-ancestors 'none'"

/* The listener's callback argument is evhttp's, so its error callback finds us here. */
static struct http *http_instance;

static const struct http_route http_routes[] = {
    {"/metrics", METRICS_CONTENT_TYPE, RENDER_METRICS, NULL, NULL},
    {"/status", "application/json", RENDER_STATUS, NULL, NULL},
    {"/", "text/html; charset=utf-8", RENDER_STATUS, statuspage_html, &statuspage_html_len},
};
#define HTTP_NROUTES (sizeof(http_routes) / sizeof(http_routes[0]))

/* A listening socket for a; -1 with err naming the address on failure. */
static int
http_listen(struct netaddr *a, char *err, size_t errlen)
{
	int fd, one = 1, zero = 0;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 && a->any && errno == EAFNOSUPPORT) {
		/* No IPv6 in this kernel: every IPv4 address, then. */
		struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
		uint16_t port = ((struct sockaddr_in6 *)&a->ss)->sin6_port;
		memset(&a->ss, 0, sizeof(a->ss));
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_ANY);
		in4->sin_port = port;
		a->len = sizeof(*in4);
		snprintf(a->text, sizeof(a->text), "0.0.0.0:%u", (unsigned)ntohs(port));
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd == -1) {
		snprintf(err, errlen, "cannot bind %s: %s", a->text, strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->any && a->ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a->ss, a->len) == -1 ||
	    listen(fd, HTTP_MAX_CONNECTIONS) == -1) {
		snprintf(err, errlen, "cannot bind %s: %s", a->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Accept again, unless the connections are at their limit or accepting is paused. */
static void
http_maybe_resume(struct http *h)
{
	if (h->closing || h->nfresh + h->nconns >= HTTP_MAX_CONNECTIONS ||
	    evtimer_pending(h->resume, NULL))
		return;
	evconnlistener_enable(evhttp_bound_socket_get_listener(h->bound));
}

/* Unlink reply from h's list and free it (its render is gone or cancelled by then). */
static void
http_reply_free(struct http_reply *reply)
{
	struct http *h = reply->h;

	for (struct http_reply **pp = &h->replies; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == reply) {
			*pp = reply->next;
			break;
		}
	}
	free(reply);
}

/* A connection closes: its replies in progress stop (evhttp frees their requests); uncount it. */
static void
http_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http *h = arg;

	for (struct http_reply *r = h->replies, *next; r != NULL; r = next) {
		next = r->next;
		if (r->evcon != evcon)
			continue;
		render_cancel(r->render);
		/*
		 * A connection that failed under a reply still being written (the
		 * client went away) leaves its request to us, detached from it:
		 * evhttp_send_reply_end then only frees it. One that evhttp itself
		 * closes (at exit) still holds it, and frees it right after this.
		 */
		if (evhttp_request_get_connection(r->req) == NULL)
			evhttp_send_reply_end(r->req);
		http_reply_free(r);
	}

	for (size_t i = 0; i < h->nconns; i++) {
		if (h->conns[i] == evcon) {
			h->conns[i] = h->conns[--h->nconns];
			break;
		}
	}
	http_maybe_resume(h);
}

/* A connection is accepted: its bufferevent, counted, to be adopted in a moment. */
static struct bufferevent *
http_bev_cb(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (bev == NULL || h->nfresh + h->nconns >= HTTP_MAX_CONNECTIONS)
		return bev; /* cannot happen: the listener stops at the limit */
	bufferevent_incref(bev);
	h->fresh[h->nfresh++] = bev;
	if (h->nfresh == 1)
		event_active(h->adopt, EV_TIMEOUT, 1);
	if (h->nfresh + h->nconns >= HTTP_MAX_CONNECTIONS)
		evconnlistener_disable(evhttp_bound_socket_get_listener(h->bound));
	return bev;
}

/* Give each connection accepted in this turn of the loop our close callback. */
static void
http_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	for (size_t i = 0; i < h->nfresh; i++) {
		struct bufferevent *bev = h->fresh[i];
		void *cbarg = NULL;

		/* evhttp makes the connection the argument of its bufferevent's callbacks. */
		bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
		struct evhttp_connection *evcon = cbarg;
		if (evcon != NULL && evhttp_connection_get_bufferevent(evcon) == bev) {
			bufferevent_priority_set(bev, SV_PRIO_CONTROL);
			h->conns[h->nconns++] = evcon;
			evhttp_connection_set_closecb(evcon, http_close_cb, h);
		}
		bufferevent_decref(bev);
	}
	h->nfresh = 0;
	http_maybe_resume(h);
}

static void
http_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	http_maybe_resume(arg);
}

static void
http_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct http *h = http_instance;
	int saved = errno;
	struct timeval pause = {.tv_sec = 0, .tv_usec = HTTP_ACCEPT_PAUSE_USEC};

	log_ratelimited(&h->rl_accept, vigil_now_usec(), LOG_LEVEL_WARN,
			"accept on %s: %s (pausing new HTTP clients)", h->addr.text,
			strerror(saved));
	/* As in control.c: a pending connection keeps the socket readable; do not spin. */
	evconnlistener_disable(lev);
	event_add(h->resume, &pause);
}

/* A Content-Length header: evhttp adds none to a reply to HEAD, which has no body to count. */
static void
http_content_length(struct evhttp_request *req, size_t len)
{
	char text[32];

	snprintf(text, sizeof(text), "%zu", len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", text);
}

/* render_sink: room for the next chunk once the last one is written. */
static int
http_render_room(void *arg)
{
	struct http_reply *reply = arg;

	return reply->head || !reply->in_flight;
}

/* The chunk handed to evhttp is written out: render the next. */
static void
http_chunk_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_reply *reply = arg;

	(void)evcon;
	reply->in_flight = 0;
	if (reply->render != NULL)
		render_kick(reply->render);
}

/* render_sink: the next part of the body, as an HTTP chunk; the end of the reply if done. */
static void
http_render_emit(void *arg, struct evbuffer *chunk, int done)
{
	struct http_reply *reply = arg;

	if (reply->head) {
		/* HEAD: the length GET would have sent, and no body. */
		reply->length += evbuffer_get_length(chunk);
		evbuffer_drain(chunk, evbuffer_get_length(chunk));
		if (done) {
			http_content_length(reply->req, reply->length);
			evhttp_send_reply(reply->req, HTTP_OK, "OK", NULL);
			http_reply_free(reply);
		}
		return;
	}
	if (evbuffer_get_length(chunk) > 0) {
		reply->in_flight = 1;
		evhttp_send_reply_chunk_with_cb(reply->req, chunk, http_chunk_cb, reply);
	}
	if (done) {
		evhttp_send_reply_end(reply->req); /* evhttp frees the request once it is written */
		http_reply_free(reply);
	}
}

/* render_sink: out of memory midway; the client cannot be told in the body: drop it. */
static void
http_render_fail(void *arg)
{
	struct http_reply *reply = arg;
	struct evhttp_connection *evcon = reply->evcon;

	http_reply_free(reply);
	evhttp_connection_free(evcon); /* http_close_cb finds no reply of ours left */
}

/* Reply with a status code and a one-line text body. */
static void
http_reply_text(struct evhttp_request *req, int code, const char *reason)
{
	struct evbuffer *body = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	if (body != NULL)
		evbuffer_add_printf(body, "%d %s\n", code, reason);
	evhttp_send_reply(req, code, reason, body);
	if (body != NULL)
		evbuffer_free(body);
}

/* The fixed page of route: its body, or for HEAD its length alone. */
static void
http_reply_page(struct evhttp_request *req, const struct http_route *route, int head)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *body = head ? NULL : evbuffer_new();

	evhttp_add_header(headers, "Content-Security-Policy", HTTP_PAGE_CSP);
	evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(headers, "Referrer-Policy", "no-referrer");
	if (head) {
		http_content_length(req, *route->page_len);
	} else if (body == NULL ||
		   evbuffer_add_reference(body, route->page, *route->page_len, NULL, NULL) == -1) {
		if (body != NULL)
			evbuffer_free(body);
		evhttp_clear_headers(headers);
		http_reply_text(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	if (body != NULL)
		evbuffer_free(body);
}

/* Every request: a known path, by GET (or HEAD), or an error. */
static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	const struct http_route *route = NULL;

	for (size_t i = 0; path != NULL && i < HTTP_NROUTES; i++)
		if (strcmp(path, http_routes[i].path) == 0)
			route = &http_routes[i];
	if (route == NULL) {
		http_reply_text(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		http_reply_text(req, HTTP_BADMETHOD, "Method Not Allowed");
		return;
	}

	evhttp_add_header(headers, "Content-Type", route->type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	if (route->page != NULL) {
		http_reply_page(req, route, method == EVHTTP_REQ_HEAD);
		return;
	}
	/*
	 * The body, in chunks, a slice of the document at a time, as the client
	 * reads; for HEAD, the same slices counted, then the headers alone.
	 */
	struct http_reply *reply = calloc(1, sizeof(*reply));
	struct render_sink sink = {.room = http_render_room,
				   .emit = http_render_emit,
				   .fail = http_render_fail,
				   .arg = reply,
				   .http_connections = h->nconns + h->nfresh};
	if (reply == NULL || (reply->render = render_start(h->sv, route->kind, &sink)) == NULL) {
		free(reply);
		log_warnx("GET %s: out of memory", route->path);
		evhttp_clear_headers(headers);
		http_reply_text(req, HTTP_INTERNAL, "Internal Server Error");
		return;
	}
	reply->h = h;
	reply->req = req;
	reply->evcon = evhttp_request_get_connection(req);
	reply->head = method == EVHTTP_REQ_HEAD;
	reply->next = h->replies;
	h->replies = reply;
	if (!reply->head)
		evhttp_send_reply_start(req, HTTP_OK, "OK");
}

struct http *
http_start(struct supervisor *sv, char *err, size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));
	int fd;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->sv = sv;
	h->addr = sv->set->metrics_addr;
	if ((fd = http_listen(&h->addr, err, errlen)) == -1) {
		free(h);
		return NULL;
	}
	if ((h->evh = evhttp_new(sv->base)) == NULL ||
	    (h->adopt = event_new(sv->base, -1, 0, http_adopt_cb, h)) == NULL ||
	    event_priority_set(h->adopt, 0) == -1 ||
	    (h->resume = evtimer_new(sv->base, http_resume_cb, h)) == NULL) {
		snprintf(err, errlen, "cannot set up HTTP on %s: out of memory", h->addr.text);
		close(fd);
		http_free(h);
		return NULL;
	}
	evhttp_set_max_headers_size(h->evh, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->evh, HTTP_MAX_BODY);
	evhttp_set_timeout(h->evh, HTTP_TIMEOUT_SEC);
	/* Every method reaches http_request_cb, so that the wrong one is a 405, not a 501. */
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
					       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					       EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
					       EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->evh, http_request_cb, h);
	evhttp_set_bevcb(h->evh, http_bev_cb, h);
	if ((h->bound = evhttp_accept_socket_with_handle(h->evh, fd)) == NULL) {
		snprintf(err, errlen, "cannot accept on %s", h->addr.text);
		close(fd);
		http_free(h);
		return NULL;
	}
	http_instance = h;
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(h->bound),
				    http_accept_error_cb);
	log_info("metrics on http://%s/metrics, status on http://%s/status, status page on "
		 "http://%s/", h->addr.text, h->addr.text, h->addr.text);
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	h->closing = 1;
	if (http_instance == h)
		http_instance = NULL;
	for (size_t i = 0; i < h->nfresh; i++)
		bufferevent_decref(h->fresh[i]);
	h->nfresh = 0;
	while (h->replies != NULL) {
		render_cancel(h->replies->render);
		http_reply_free(h->replies);
	}
	if (h->evh != NULL)
		evhttp_free(h->evh); /* closes the listener and every connection */
	if (h->adopt != NULL)
		event_free(h->adopt);
	if (h->resume != NULL)
		event_free(h->resume);
	free(h);
}
