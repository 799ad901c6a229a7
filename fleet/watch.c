/*
 * watch.c: status and watch. See watch.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "duration.h"
#include "etcdmsg.h"
#include "keys.h"
#include "log.h"
#include "view.h"
#include "watch.h"

/* A probe of one endpoint: its callback's argument. */
struct watch_probe {
	struct watch *w;
	size_t ep;
};

struct watch {
	struct event_base *base;
	struct etcd *etcd;
	struct watch_settings set;
	struct view view;
	struct event *probe, *reopen, *reopen_cancel, *tick;
	struct evhttp *http;
	int loading;                     /* a full read in flight */
	int probing[ETCD_MAX_ENDPOINTS]; /* a probe in flight to that endpoint */
	struct watch_probe probes[ETCD_MAX_ENDPOINTS];
	int watching; /* the etcd watch is open and trusted */
	int exit_status;
	int serializable; /* status: the serializable tries made after the linearizable one */
};

static uint64_t
watch_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static void
watch_emit_cb(const json_t *change, void *arg)
{
	struct watch *w = arg;

	if (!w->set.follow)
		return;
	if (w->set.json) {
		char *s = json_dumps(change, JSON_COMPACT);

		if (s != NULL)
			printf("%s\n", s);
		free(s);
		fflush(stdout);
	} else {
		view_print_change(change, stdout);
	}
}

static void watch_load(struct watch *w);

/* Arm the tick for the next held host's deadline, if any. */
static void
watch_arm_tick(struct watch *w)
{
	uint64_t next = view_next_deadline(&w->view), now = watch_now_ms();
	struct timeval tv = {0, 0};

	if (next == 0)
		return;
	if (next > now) {
		tv.tv_sec = (time_t)((next - now) / 1000);
		tv.tv_usec = (suseconds_t)((next - now) % 1000 * 1000);
	}
	evtimer_add(w->tick, &tv);
}

static void
watch_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	view_tick(&w->view, watch_now_ms());
	watch_arm_tick(w);
}

static void
watch_print(struct watch *w)
{
	if (w->set.json) {
		json_t *doc = view_json(&w->view);
		char *s = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

		if (s != NULL)
			printf("%s\n", s);
		free(s);
		json_decref(doc);
	} else {
		view_print(&w->view, stdout);
	}
	fflush(stdout);
}

/* One line of the etcd watch: its events into the view. */
static void
watch_stream_cb(const json_t *line, const char *why, void *arg)
{
	struct watch *w = arg;
	const json_t *res = json_object_get(line, "result"), *ev;
	size_t i;
	char err[128];

	if (line == NULL) {
		w->watching = 0; /* reopened after the next good probe */
		return;
	}
	if (res == NULL || json_is_true(json_object_get(res, "canceled"))) {
		/* Compacted past our revision, or an error: read everything again. */
		w->watching = 0;
		event_active(w->reopen, 0, 0);
		return;
	}
	json_array_foreach(json_object_get(res, "events"), i, ev)
	{
		const json_t *kvj = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		struct etcd_kv kv;

		if (etcdmsg_kv(kvj, &kv, err, sizeof(err)) == -1)
			continue;
		view_apply(&w->view, kv.key,
		           type != NULL && strcmp(type, "DELETE") == 0 ? NULL : kv.value,
		           watch_now_ms());
		if (kv.mod_revision > w->view.revision)
			w->view.revision = kv.mod_revision;
		etcdmsg_kv_free(&kv);
	}
	watch_arm_tick(w);
}

static void
watch_open(struct watch *w)
{
	json_t *req = etcdmsg_range_prefix(KEYS_ROOT, 0, 0);

	json_object_set_new(req, "start_revision", json_integer(w->view.revision + 1));
	if (etcd_watch(w->etcd, json_pack("{s:o}", "create_request", req), watch_stream_cb, w) == 0)
		w->watching = 1;
}

static void
watch_load_cb(const json_t *reply, const char *why, void *arg)
{
	struct watch *w = arg;
	struct etcd_kv *kvs;
	size_t n;
	int64_t rev;
	char err[128];

	w->loading = 0;
	if (reply == NULL || etcdmsg_revision(reply, &rev, err, sizeof(err)) == -1 ||
	    etcdmsg_kvs(reply, &kvs, &n, err, sizeof(err)) == -1) {
		view_set_stale(&w->view, 1, why != NULL ? why : err, watch_now_ms());
		if (!w->set.follow) {
			/* What any member has, marked stale: each member in turn (a failed
			 * request moves the client to the next endpoint). */
			if ((size_t)w->serializable < etcd_nendpoints(w->etcd)) {
				w->serializable++;
				watch_load(w);
				return;
			}
			fprintf(stderr, "vigil-fleet: no etcd member answered: %s\n",
			        why != NULL ? why : err);
			w->exit_status = 1;
			event_base_loopbreak(w->base);
		}
		return;
	}
	view_load(&w->view, kvs, n, rev, watch_now_ms());
	etcdmsg_kvs_free(kvs, n);
	if (!w->set.follow) {
		watch_print(w);
		w->exit_status = w->serializable ? WATCH_EXIT_STALE : 0;
		event_base_loopbreak(w->base);
		return;
	}
	view_set_stale(&w->view, 0, NULL, watch_now_ms());
	watch_arm_tick(w);
	watch_open(w);
}

static void
watch_load(struct watch *w)
{
	if (w->loading)
		return;
	w->loading = 1;
	if (etcd_post(w->etcd, ETCD_CH_KV, "/v3/kv/range",
	              etcdmsg_range_prefix(KEYS_ROOT, 0, w->serializable > 0), watch_load_cb, w) == -1)
		w->loading = 0;
}

static void
watch_reopen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	etcd_watch_cancel(w->etcd);
	watch_load(w);
}

/* Close the watch that can no longer be trusted (outside its own callbacks). */
static void
watch_cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	if (!w->watching)
		etcd_watch_cancel(w->etcd);
}

static void
watch_probe_cb(const json_t *reply, const char *why, void *arg)
{
	const struct watch_probe *p = arg;
	struct watch *w = p->w;
	size_t ep = p->ep;

	w->probing[ep] = 0;
	if (reply == NULL) {
		if (w->watching && etcd_watch_endpoint(w->etcd) == (int)ep) {
			/* The watch's member cannot serve: nothing it says is news any more. */
			view_set_stale(&w->view, 1, why, watch_now_ms());
			w->watching = 0;
			event_active(w->reopen_cancel, 0, 0);
		} else if (!w->watching && !w->loading) {
			view_set_stale(&w->view, 1, why, watch_now_ms());
		}
		return;
	}
	if (!w->watching && !w->loading) {
		/* This member serves: read everything there, then watch there. */
		etcd_prefer(w->etcd, ep);
		watch_reopen_cb(-1, 0, w);
	}
}

/* Probe one endpoint with a linearizable read (it needs a leader and a quorum): a count. */
static void
watch_probe_send(struct watch *w, size_t ep)
{
	json_t *req = etcdmsg_range_prefix(KEYS_HOSTS, 1, 0);

	if (req == NULL)
		return;
	json_object_set_new(req, "count_only", json_true());
	w->probes[ep].w = w;
	w->probes[ep].ep = ep;
	w->probing[ep] = 1;
	if (etcd_post_to(w->etcd, ep, "/v3/kv/range", req, watch_probe_cb, &w->probes[ep]) == -1)
		w->probing[ep] = 0;
}

/*
 * While the watch is trusted, probe its own member (a frozen one is seen
 * though the others serve); otherwise every member at once, so that the
 * first to serve again is where everything is read anew.
 */
static void
watch_probe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	int wep = etcd_watch_endpoint(w->etcd);

	if (w->loading)
		return;
	for (size_t i = 0; i < etcd_nendpoints(w->etcd); i++) {
		if (w->probing[i] || (w->watching && wep >= 0 && (size_t)wep != i))
			continue;
		watch_probe_send(w, i);
	}
}

int
watch_parse_addr(const char *s, char *host, size_t cap, uint16_t *port, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;
	size_t hl;

	if (colon == NULL || colon == s) {
		snprintf(err, errlen, "'%s' is not HOST:PORT", s);
		return -1;
	}
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']') {
			snprintf(err, errlen, "'%s' is not [IPV6]:PORT", s);
			return -1;
		}
		s++;
		hl -= 2;
	}
	p = strtoul(colon + 1, &end, 10);
	if (hl >= cap || *end != '\0' || end == colon + 1 || p == 0 || p > 65535) {
		snprintf(err, errlen, "'%s' is not HOST:PORT (a port from 1 to 65535)", s);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* GET /metrics: the view in Prometheus' text format; anything else 404. */
static void
watch_http_cb(struct evhttp_request *req, void *arg)
{
	struct watch *w = arg;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;

	if (strcmp(evhttp_request_get_uri(req), "/metrics") != 0 ||
	    evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only GET /metrics");
		return;
	}
	if ((fp = open_memstream(&text, &len)) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	view_metrics(&w->view, fp);
	fclose(fp);
	struct evbuffer *out = evbuffer_new();
	if (out == NULL) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
		return;
	}
	evbuffer_add(out, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "text/plain; version=0.0.4");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* Serve --metrics; -1 with a message on stderr if it cannot be bound. */
static int
watch_serve(struct watch *w, const char *addr)
{
	char host[256], err[300];
	uint16_t port;

	if (watch_parse_addr(addr, host, sizeof(host), &port, err, sizeof(err)) == -1) {
		fprintf(stderr, "vigil-fleet: --metrics: %s\n", err);
		return -1;
	}
	if ((w->http = evhttp_new(w->base)) == NULL ||
	    evhttp_bind_socket(w->http, host, port) == -1) {
		fprintf(stderr, "vigil-fleet: --metrics: cannot listen on %s\n", addr);
		return -1;
	}
	evhttp_set_gencb(w->http, watch_http_cb, w);
	return 0;
}

int
watch_run(struct event_base *base, struct etcd *etcd, const struct watch_settings *set)
{
	struct watch w = {.base = base, .etcd = etcd, .set = *set};
	struct timeval tv = {(time_t)(set->probe_usec / VIGIL_USEC_PER_SEC),
	                     (suseconds_t)(set->probe_usec % VIGIL_USEC_PER_SEC)};

	if (view_init(&w.view, watch_emit_cb, &w) == -1) {
		fprintf(stderr, "vigil-fleet: out of memory\n");
		return 1;
	}
	w.view.grace_ms = set->follow ? set->grace_usec / VIGIL_USEC_PER_MSEC : 0;
	w.view.settle_ms = set->follow ? WATCH_SETTLE_MS : 0;
	w.probe = event_new(base, -1, EV_PERSIST, watch_probe_timer_cb, &w);
	w.reopen = event_new(base, -1, 0, watch_reopen_cb, &w);
	w.tick = evtimer_new(base, watch_tick_cb, &w);
	w.reopen_cancel = event_new(base, -1, 0, watch_cancel_cb, &w);
	if (w.probe == NULL || w.reopen == NULL || w.tick == NULL || w.reopen_cancel == NULL) {
		fprintf(stderr, "vigil-fleet: out of memory\n");
		w.exit_status = 1;
		goto out;
	}
	if (set->follow && set->metrics != NULL && watch_serve(&w, set->metrics) == -1) {
		w.exit_status = 1;
		goto out;
	}
	if (set->follow)
		event_add(w.probe, &tv);
	watch_load(&w);
	event_base_dispatch(base);
out:
	if (w.http != NULL)
		evhttp_free(w.http);
	etcd_watch_cancel(etcd);
	if (w.probe != NULL)
		event_free(w.probe);
	if (w.reopen != NULL)
		event_free(w.reopen);
	if (w.tick != NULL)
		event_free(w.tick);
	if (w.reopen_cancel != NULL)
		event_free(w.reopen_cancel);
	view_free(&w.view);
	return w.exit_status;
}
