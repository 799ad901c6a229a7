/*
 * view.c: the fleet view. See view.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keys.h"
#include "log.h"
#include "view.h"

int
view_init(struct view *v, view_emit_cb emit, void *arg)
{
	memset(v, 0, sizeof(*v));
	v->hosts = json_object();
	v->workers = json_object();
	v->emit = emit;
	v->arg = arg;
	return v->hosts != NULL && v->workers != NULL ? 0 : -1;
}

void
view_free(struct view *v)
{
	json_decref(v->hosts);
	json_decref(v->workers);
	v->hosts = v->workers = NULL;
}

static void
view_emit(struct view *v, json_t *change, uint64_t now_ms)
{
	if (change == NULL)
		return;
	json_object_set_new(change, "time", json_integer((json_int_t)now_ms));
	if (v->emit != NULL)
		v->emit(change, v->arg);
	json_decref(change);
}

/* The host's entry in hosts, created (not present, lost since an unknown time) if new. */
static json_t *
view_host(json_t *hosts, const char *host)
{
	json_t *h = json_object_get(hosts, host);

	if (h == NULL) {
		h = json_pack("{s:b,s:I}", "present", 0, "lost_since", (json_int_t)0);
		json_object_set_new(hosts, host, h);
	}
	return h;
}

static int
view_present(const json_t *hosts, const char *host)
{
	return json_is_true(json_object_get(json_object_get(hosts, host), "present"));
}

/* How many workers of host the map holds. */
static size_t
view_count(const json_t *workers, const char *host)
{
	size_t n = 0, len = strlen(host);
	const char *k;
	json_t *val;

	json_object_foreach((json_t *)workers, k, val)
	{
		n += strncmp(k, host, len) == 0 && k[len] == '/';
	}
	return n;
}

static uint64_t
view_uint(const json_t *o, const char *key)
{
	json_int_t x = json_integer_value(json_object_get(o, key));

	return x > 0 ? (uint64_t)x : 0;
}

static int
view_same(const json_t *a, const json_t *b)
{
	const char *sa = json_string_value(json_object_get(a, "state"));
	const char *sb = json_string_value(json_object_get(b, "state"));

	return a != NULL && b != NULL && sa != NULL && sb != NULL && strcmp(sa, sb) == 0 &&
	       view_uint(a, "pid") == view_uint(b, "pid");
}

static json_t *
view_worker_change(const char *hw, const json_t *val)
{
	const char *slash = strchr(hw, '/');
	json_t *c = json_pack("{s:s,s:s#,s:s}", "event", "worker", "host", hw, (int)(slash - hw),
	                      "worker", slash + 1);

	if (c != NULL)
		json_object_update_missing(c, (json_t *)val);
	return c;
}

/* Whether a host key that disappears now is held (see view.h). */
static int
view_holding(const struct view *v, uint64_t now_ms)
{
	return v->grace_ms != 0 && (v->stale || now_ms < v->fresh_since_ms + v->grace_ms);
}

/* Hold host h, whose key disappeared at since_ms, instead of reporting it lost (see view.h). */
static void
view_hold(const struct view *v, json_t *h, uint64_t since_ms, uint64_t now_ms)
{
	json_object_set_new(h, "held_since", json_integer((json_int_t)since_ms));
	json_object_set_new(h, "held_grace", json_boolean(view_holding(v, now_ms)));
}

/* When a held host is reported lost: UINT64_MAX while that waits for the view to be fresh. */
static uint64_t
view_until(const struct view *v, const json_t *h)
{
	uint64_t held = view_uint(h, "held_since");

	if (!json_is_true(json_object_get(h, "held_grace")))
		return held + v->settle_ms;
	if (v->stale)
		return UINT64_MAX;
	return (held > v->fresh_since_ms ? held : v->fresh_since_ms) + v->grace_ms;
}

/* The host is lost since since_ms: no longer present, reported once. */
static void
view_lose(struct view *v, json_t *h, const char *host, const json_t *workers, uint64_t since_ms,
          uint64_t now_ms, int emit)
{
	json_object_set_new(h, "present", json_false());
	json_object_set_new(h, "lost_since", json_integer((json_int_t)since_ms));
	json_object_del(h, "held_since");
	json_object_del(h, "held_grace");
	if (emit)
		view_emit(v,
		          json_pack("{s:s,s:s,s:I,s:I}", "event", "host_lost", "host", host,
		                    "workers", (json_int_t)view_count(workers, host), "lost_since",
		                    (json_int_t)since_ms),
		          now_ms);
}

/* A put or delete into the maps hosts and workers, emitting what it changes. */
static void
view_change(struct view *v, json_t *hosts, json_t *workers, const char *key, const char *value,
            uint64_t now_ms, int emit)
{
	char host[VIGIL_NAME_MAX + 1], name[VIGIL_NAME_MAX + 1], hw[2 * VIGIL_NAME_MAX + 2];
	enum keys_kind kind = keys_parse(key, host, name);
	json_t *h, *val = value != NULL ? json_loads(value, 0, NULL) : NULL;

	if (kind == KEYS_OTHER || (value != NULL && !json_is_object(val))) {
		json_decref(val);
		return; /* a key this version does not know, or a value that is not ours */
	}
	h = view_host(hosts, host);
	if (kind == KEYS_HOST) {
		int was = json_is_true(json_object_get(h, "present"));
		uint64_t held = view_uint(h, "held_since");

		if (value != NULL) {
			json_object_set_new(h, "present", json_true());
			json_object_set_new(h, "info", val);
			json_object_del(h, "lost_since");
			json_object_del(h, "held_since");
			json_object_del(h, "held_grace");
			if (emit && held != 0)
				view_emit(v,
				          json_pack("{s:s,s:s,s:I}", "event", "host_renewed",
				                    "host", host, "held_ms",
				                    (json_int_t)(now_ms - held)),
				          now_ms);
			else if (!was && emit)
				view_emit(v,
				          json_pack("{s:s,s:s}", "event", "host_up", "host", host),
				          now_ms);
		} else if (was && held == 0) {
			if (emit && (view_holding(v, now_ms) || v->settle_ms != 0)) {
				view_hold(v, h, now_ms, now_ms);
				return;
			}
			view_lose(v, h, host, workers, now_ms, now_ms, emit);
		}
		return;
	}
	snprintf(hw, sizeof(hw), "%s/%s", host, name);
	if (value == NULL) {
		if (json_object_get(workers, hw) != NULL) {
			json_object_del(workers, hw);
			if (emit)
				view_emit(v,
				          json_pack("{s:s,s:s,s:s}", "event", "worker_gone", "host",
				                    host, "worker", name),
				          now_ms);
		}
		return;
	}
	if (emit && json_is_true(json_object_get(h, "present")) &&
	    !view_same(json_object_get(workers, hw), val))
		view_emit(v, view_worker_change(hw, val), now_ms);
	json_object_set_new(workers, hw, val);
}

void
view_apply(struct view *v, const char *key, const char *value, uint64_t now_ms)
{
	view_change(v, v->hosts, v->workers, key, value, now_ms, 1);
}

void
view_load(struct view *v, const struct etcd_kv *kvs, size_t n, int64_t revision, uint64_t now_ms)
{
	json_t *hosts = json_object(), *workers = json_object(), *h, *val;
	const char *k;
	void *tmp;

	if (hosts == NULL || workers == NULL) {
		json_decref(hosts);
		json_decref(workers);
		return;
	}
	for (size_t i = 0; i < n; i++)
		view_change(v, hosts, workers, kvs[i].key, kvs[i].value, now_ms, 0);
	/* Hosts: up, lost (now if it was up; keep an earlier loss's time), held, or new and lost.
	 */
	json_object_foreach(hosts, k, h)
	{
		const json_t *old = json_object_get(v->hosts, k);
		int was = view_present(v->hosts, k), is = view_present(hosts, k);
		uint64_t held = view_uint(old, "held_since");

		if (is && held != 0) {
			view_emit(v,
			          json_pack("{s:s,s:s,s:I}", "event", "host_renewed", "host", k,
			                    "held_ms", (json_int_t)(now_ms - held)),
			          now_ms);
		} else if (is && !was) {
			view_emit(v, json_pack("{s:s,s:s}", "event", "host_up", "host", k), now_ms);
		} else if (!is && was &&
		           (held != 0 || view_holding(v, now_ms) || v->settle_ms != 0)) {
			json_object_set_new(h, "present", json_true());
			json_object_set(h, "info", json_object_get(old, "info"));
			if (held != 0) {
				json_object_set(h, "held_since",
				                json_object_get(old, "held_since"));
				json_object_set(h, "held_grace",
				                json_object_get(old, "held_grace"));
			} else {
				view_hold(v, h, now_ms, now_ms);
			}
		} else if (!is && (was || old == NULL)) {
			view_lose(v, h, k, workers, was ? now_ms : 0, now_ms, 1);
		} else if (!is) {
			json_object_set(h, "lost_since", json_object_get(old, "lost_since"));
		}
	}
	/* A host that is gone from etcd altogether (its keys deleted) is forgotten. */
	json_object_foreach_safe(v->workers, tmp, k, val)
	{
		if (json_object_get(workers, k) == NULL) {
			const char *slash = strchr(k, '/');

			view_emit(v,
			          json_pack("{s:s,s:s#,s:s}", "event", "worker_gone", "host", k,
			                    (int)(slash - k), "worker", slash + 1),
			          now_ms);
		}
	}
	json_object_foreach(workers, k, val)
	{
		char host[VIGIL_NAME_MAX + 1];
		const char *slash = strchr(k, '/');

		snprintf(host, sizeof(host), "%.*s", (int)(slash - k), k);
		if (view_present(hosts, host) && !view_same(json_object_get(v->workers, k), val))
			view_emit(v, view_worker_change(k, val), now_ms);
	}
	json_decref(v->hosts);
	json_decref(v->workers);
	v->hosts = hosts;
	v->workers = workers;
	v->revision = revision;
}

void
view_tick(struct view *v, uint64_t now_ms)
{
	const char *k;
	json_t *h;

	json_object_foreach(v->hosts, k, h)
	{
		if (view_uint(h, "held_since") != 0 && now_ms >= view_until(v, h))
			view_lose(v, h, k, v->workers, view_uint(h, "held_since"), now_ms, 1);
	}
}

uint64_t
view_next_deadline(const struct view *v)
{
	uint64_t next = UINT64_MAX;
	const char *k;
	json_t *h;

	json_object_foreach(v->hosts, k, h)
	{
		if (view_uint(h, "held_since") != 0 && view_until(v, h) < next)
			next = view_until(v, h);
	}
	return next == UINT64_MAX ? 0 : next;
}

void
view_set_stale(struct view *v, int stale, const char *why, uint64_t now_ms)
{
	if (stale == v->stale)
		return;
	v->stale = stale;
	if (stale) {
		v->stale_since_ms = now_ms;
		/* why may quote etcd's reply: printable ASCII only, for terminals. */
		log_escape(why != NULL ? why : "", why != NULL ? strlen(why) : 0, v->stale_why,
		           sizeof(v->stale_why));
		view_emit(v, json_pack("{s:s,s:s}", "event", "stale", "why", v->stale_why), now_ms);
	} else {
		v->fresh_since_ms = now_ms;
		view_emit(v,
		          json_pack("{s:s,s:I}", "event", "fresh", "stale_ms",
		                    (json_int_t)(now_ms - v->stale_since_ms)),
		          now_ms);
	}
}

/* Order "host/name" keys by host, then name (plain strcmp would put "a.b/x" before "a/x"). */
static int
view_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t hx = strcspn(x, "/"), hy = strcspn(y, "/");
	int c = strncmp(x, y, hx < hy ? hx : hy);

	if (c != 0 || hx != hy)
		return c != 0 ? c : (hx < hy ? -1 : 1);
	return strcmp(x + hx, y + hy);
}

/* The keys of obj in order (borrowed strings), or NULL. */
static const char **
view_sorted(const json_t *obj, size_t *n)
{
	const char **keys = malloc((json_object_size(obj) + 1) * sizeof(*keys));
	const char *k;
	json_t *val;

	*n = 0;
	if (keys == NULL)
		return NULL;
	json_object_foreach((json_t *)obj, k, val)
	{
		keys[(*n)++] = k;
	}
	qsort(keys, *n, sizeof(*keys), view_cmp);
	return keys;
}

json_t *
view_json(const struct view *v)
{
	size_t nh, nw, j = 0;
	const char **hosts = view_sorted(v->hosts, &nh), **ws = view_sorted(v->workers, &nw);
	json_t *out = json_pack("{s:b,s:[]}", "stale", v->stale, "hosts");
	json_t *arr = json_object_get(out, "hosts");

	if (out == NULL || hosts == NULL || ws == NULL) {
		free(hosts);
		free(ws);
		json_decref(out);
		return NULL;
	}
	if (v->stale) {
		json_object_set_new(out, "stale_since",
		                    json_integer((json_int_t)v->stale_since_ms));
		json_object_set_new(out, "stale_why", json_string(v->stale_why));
	}
	for (size_t i = 0; i < nh; i++) {
		const json_t *h = json_object_get(v->hosts, hosts[i]);
		int present = json_is_true(json_object_get(h, "present"));
		size_t len = strlen(hosts[i]);
		json_t *ho = json_pack("{s:s,s:s,s:[]}", "host", hosts[i], "state",
		                       present ? "up" : "lost", "workers");
		json_t *wa = json_object_get(ho, "workers");

		if (!present)
			json_object_set(ho, "lost_since", json_object_get(h, "lost_since"));
		if (json_object_get(h, "info") != NULL)
			json_object_set(ho, "info", json_object_get(h, "info"));
		if (json_object_get(h, "held_since") != NULL)
			json_object_set(ho, "key_gone_since", json_object_get(h, "held_since"));
		/* Worker keys sort by host, as hosts do (view_cmp): skip earlier hosts' ones. */
		while (j < nw && view_cmp(&ws[j], &hosts[i]) < 0)
			j++;
		for (; j < nw && strncmp(ws[j], hosts[i], len) == 0 && ws[j][len] == '/'; j++) {
			const json_t *val = json_object_get(v->workers, ws[j]);
			json_t *wo = json_pack("{s:s}", "worker", ws[j] + len + 1);

			json_object_update_missing(wo, (json_t *)val);
			if (!present) {
				json_object_set(wo, "reported_state",
				                json_object_get(val, "state"));
				json_object_set_new(wo, "state", json_string("unknown"));
			}
			json_array_append_new(wa, wo);
		}
		json_array_append_new(arr, ho);
	}
	free(hosts);
	free(ws);
	return out;
}

static const char *view_label_state(const char *s);

/* ms since the epoch as local "HH:MM:SS.mmm", or "-" for 0. */
static void
view_clock(uint64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char hms[16];

	if (ms == 0) {
		snprintf(buf, cap, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03u", hms, (unsigned)(ms % 1000));
}

void
view_print(const struct view *v, FILE *fp)
{
	json_t *doc = view_json(v), *h, *w;
	size_t i, k;
	char c1[32], c2[32];

	if (doc == NULL)
		return;
	if (v->stale) {
		view_clock(v->stale_since_ms, c1, sizeof(c1));
		fprintf(fp, "STALE since %s: %s; the view below is as etcd last answered\n", c1,
		        v->stale_why);
	}
	fprintf(fp, "%-20s %-8s %-8s %s\n", "HOST", "STATE", "WORKERS", "DETAIL");
	json_array_foreach(json_object_get(doc, "hosts"), i, h)
	{
		const char *st = json_string_value(json_object_get(h, "state"));

		view_clock(view_uint(h, "lost_since"), c1, sizeof(c1));
		fprintf(fp, "%-20s %-8s %-8zu ", json_string_value(json_object_get(h, "host")), st,
		        json_array_size(json_object_get(h, "workers")));
		if (strcmp(st, "lost") == 0)
			fprintf(fp, "host lost since %s\n",
			        view_uint(h, "lost_since") != 0 ? c1 : "before this view began");
		else if (json_object_get(h, "key_gone_since") != NULL)
			fprintf(fp, "key gone since %s: lost unless claimed again soon\n",
			        (view_clock(view_uint(h, "key_gone_since"), c1, sizeof(c1)), c1));
		else
			fprintf(fp, "supervisor pid %" PRIu64 "\n",
			        view_uint(json_object_get(h, "info"), "supervisor_pid"));
	}
	fprintf(fp, "\n%-20s %-24s %-8s %-8s %-12s %s\n", "HOST", "WORKER", "STATE", "PID", "SINCE",
	        "DETAIL");
	json_array_foreach(json_object_get(doc, "hosts"), i, h)
	{
		json_array_foreach(json_object_get(h, "workers"), k, w)
		{
			view_clock(view_uint(w, "since"), c1, sizeof(c1));
			view_clock(view_uint(h, "lost_since"), c2, sizeof(c2));
			fprintf(fp, "%-20s %-24s %-8s %-8" PRIu64 " %-12s ",
			        json_string_value(json_object_get(h, "host")),
			        json_string_value(json_object_get(w, "worker")),
			        view_label_state(json_string_value(json_object_get(w, "state"))),
			        view_uint(w, "pid"), c1);
			if (json_object_get(w, "reported_state") != NULL)
				fprintf(fp, "host lost since %s (last reported %s)\n",
				        view_uint(h, "lost_since") != 0 ? c2 : "before this view",
				        view_label_state(json_string_value(
				            json_object_get(w, "reported_state"))));
			else
				fprintf(fp,
				        "missed %" PRIu64 ", restarts %" PRIu64
				        ", timeouts %" PRIu64 "\n",
				        view_uint(w, "missed"), view_uint(w, "restarts"),
				        view_uint(w, "timeouts"));
		}
	}
	json_decref(doc);
}

void
view_print_change(const json_t *c, FILE *fp)
{
	const char *ev = json_string_value(json_object_get(c, "event"));
	const char *host = json_string_value(json_object_get(c, "host"));
	char t[32];

	view_clock(view_uint(c, "time"), t, sizeof(t));
	if (ev == NULL)
		return;
	if (strcmp(ev, "host_up") == 0)
		fprintf(fp, "%s host %s up\n", t, host);
	else if (strcmp(ev, "host_lost") == 0)
		fprintf(fp, "%s host %s lost: its %" PRIu64 " workers are unknown\n", t, host,
		        view_uint(c, "workers"));
	else if (strcmp(ev, "host_renewed") == 0)
		fprintf(fp,
		        "%s host %s claimed its key again %" PRIu64
		        " ms after etcd dropped it (etcd's quorum returned; not an incident)\n",
		        t, host, view_uint(c, "held_ms"));
	else if (strcmp(ev, "worker") == 0)
		fprintf(fp, "%s %s/%s %s (pid %" PRIu64 ", missed %" PRIu64 ")\n", t, host,
		        json_string_value(json_object_get(c, "worker")),
		        view_label_state(json_string_value(json_object_get(c, "state"))),
		        view_uint(c, "pid"), view_uint(c, "missed"));
	else if (strcmp(ev, "worker_gone") == 0)
		fprintf(fp, "%s %s/%s forgotten\n", t, host,
		        json_string_value(json_object_get(c, "worker")));
	else if (strcmp(ev, "stale") == 0)
		fprintf(fp, "%s STALE: %s; nothing below is news until etcd answers\n", t,
		        json_string_value(json_object_get(c, "why")));
	else if (strcmp(ev, "fresh") == 0)
		fprintf(fp, "%s fresh again after %" PRIu64 " ms\n", t, view_uint(c, "stale_ms"));
	fflush(fp);
}

/* A state as a label value: the letters of what the key says, else "other". */
static const char *
view_label_state(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 15)
		return "other";
	for (const char *p = s; *p != '\0'; p++)
		if (*p < 'a' || *p > 'z')
			return "other";
	return s;
}

void
view_metrics(const struct view *v, FILE *fp)
{
	json_t *doc = view_json(v), *h, *w;
	size_t i, k;

	if (doc == NULL)
		return;
	fprintf(fp,
	        "# HELP vigil_fleet_stale Whether the view is stale: etcd could not be read "
	        "with a quorum at the last probe.\n"
	        "# TYPE vigil_fleet_stale gauge\nvigil_fleet_stale %d\n",
	        v->stale);
	fprintf(fp, "# HELP vigil_fleet_host_up Whether the host's key exists (its publisher "
	            "keeps its lease); 0 once the host is lost.\n"
	            "# TYPE vigil_fleet_host_up gauge\n");
	json_array_foreach(json_object_get(doc, "hosts"), i, h)
	{
		fprintf(fp, "vigil_fleet_host_up{host=\"%s\"} %d\n",
		        json_string_value(json_object_get(h, "host")),
		        strcmp(json_string_value(json_object_get(h, "state")), "up") == 0);
	}
	fprintf(fp, "# HELP vigil_fleet_worker_state The state of the worker as the fleet view "
	            "derives it: its key's while its host is up, unknown while it is lost.\n"
	            "# TYPE vigil_fleet_worker_state gauge\n");
	json_array_foreach(json_object_get(doc, "hosts"), i, h)
	{
		json_array_foreach(json_object_get(h, "workers"), k, w)
		{
			fprintf(
			    fp,
			    "vigil_fleet_worker_state{host=\"%s\",worker=\"%s\",state=\"%s\"} 1\n",
			    json_string_value(json_object_get(h, "host")),
			    json_string_value(json_object_get(w, "worker")),
			    view_label_state(json_string_value(json_object_get(w, "state"))));
		}
	}
	json_decref(doc);
}
