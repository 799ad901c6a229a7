/*
 * agent.c: the publisher's I/O. See agent.h for the steps.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"
#include "ctl.h"
#include "duration.h"
#include "etcdmsg.h"
#include "keys.h"
#include "log.h"
#include "publish.h"

#define AGENT_BACKOFF_MIN_USEC (200 * VIGIL_USEC_PER_MSEC)
#define AGENT_BACKOFF_MAX_USEC (5 * VIGIL_USEC_PER_SEC)

enum agent_phase { AGENT_LEASE, AGENT_CLAIM, AGENT_TAKEOVER, AGENT_RECONCILE, AGENT_READY };

struct agent {
	struct event_base *base;
	struct etcd *etcd;
	struct ctl *ctl;
	struct pub pub;
	struct agent_settings set;
	char host[VIGIL_NAME_MAX + 1];
	char hostkey[KEYS_MAX];
	char boot_id[40];
	char started[40];
	enum agent_phase phase;
	int64_t lease;
	int64_t guard;          /* the host key's creation revision, once claimed */
	int64_t takeover_mod;   /* the mod revision of the older host key we delete */
	int64_t takeover_lease; /* its lease, revoked once the key is ours */
	int busy;               /* a request of the steps in flight */
	int waiting;            /* the backoff timer is armed */
	int keepalive_busy;
	int ctl_up;
	int have_snapshot;
	int host_dirty; /* the host's value changed (supervisor pid) */
	uint64_t published_pid;
	char **stale; /* worker names etcd has and the supervisor does not */
	size_t nstale;
	/* The batch in flight. */
	struct pub_worker *batch[AGENT_TXN_OPS];
	uint64_t gens[AGENT_TXN_OPS];
	size_t nbatch, nbatch_stale;
	int batch_host;
	/* Reachability, logged once each way. */
	int unreachable;
	uint64_t unreachable_since;
	uint64_t backoff_usec;
	struct event *keepalive, *retry, *kick;
	int exit_status;
};

static void agent_step(struct agent *a);

static void
agent_stop(struct agent *a, int status)
{
	a->exit_status = status;
	event_base_loopbreak(a->base);
}

/* A request failed to reach etcd: log once, retry after the backoff. */
static void
agent_unreachable(struct agent *a, const char *what, const char *why)
{
	struct timeval tv;

	if (!a->unreachable) {
		char safe[300]; /* why may quote etcd's reply */

		log_escape(why, strlen(why), safe, sizeof(safe));
		a->unreachable = 1;
		a->unreachable_since = vigil_now_usec();
		log_warnx("etcd unreachable (%s: %s): the supervisor goes on watching; keeping the "
		          "latest state of %zu workers and retrying",
		          what, safe, a->pub.count);
	}
	if (a->waiting)
		return;
	tv.tv_sec = (time_t)(a->backoff_usec / VIGIL_USEC_PER_SEC);
	tv.tv_usec = (suseconds_t)(a->backoff_usec % VIGIL_USEC_PER_SEC);
	a->waiting = 1;
	evtimer_add(a->retry, &tv);
	a->backoff_usec = a->backoff_usec * 2 > AGENT_BACKOFF_MAX_USEC ? AGENT_BACKOFF_MAX_USEC
	                                                               : a->backoff_usec * 2;
}

static void
agent_reachable(struct agent *a)
{
	if (a->unreachable) {
		a->unreachable = 0;
		log_info("etcd reachable again (%s) after %.1f s", etcd_endpoint(a->etcd),
		         (double)(vigil_now_usec() - a->unreachable_since) / 1e6);
		/* etcd may have dropped our lease as its quorum returned: know at once. */
		event_active(a->keepalive, EV_TIMEOUT, 0);
	}
	if (a->waiting) {
		/* No more backoff: what waited for etcd (a write, a claim) goes at once. */
		struct timeval now = {0, 0};

		evtimer_add(a->retry, &now);
	}
	a->backoff_usec = AGENT_BACKOFF_MIN_USEC;
}

/* Our lease or our claim is gone: start over from a new lease. */
static void
agent_restart_claim(struct agent *a, const char *why)
{
	if (a->phase == AGENT_LEASE && a->lease == 0)
		return; /* under way already */
	log_warnx("%s: granting a new lease and publishing every worker again", why);
	a->lease = 0;
	a->guard = 0;
	a->phase = AGENT_LEASE;
}

static char *
agent_host_value(struct agent *a)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:s,s:I,s:I}", "boot_id", a->boot_id, "started", a->started,
	              "version", VIGIL_VERSION, "supervisor_pid", (json_int_t)a->pub.supervisor_pid,
	              "publisher_pid", (json_int_t)getpid());
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static void
agent_lease_cb(const json_t *reply, const char *why, void *arg)
{
	struct agent *a = arg;
	int64_t id = 0;

	a->busy = 0;
	if (reply == NULL || etcdmsg_int(reply, "ID", &id) == -1 || id == 0) {
		agent_unreachable(a, "lease grant", why != NULL ? why : "no lease ID in the reply");
		return;
	}
	agent_reachable(a);
	a->lease = id;
	a->phase = AGENT_CLAIM;
	log_info("lease %" PRIx64 " granted (TTL %" PRIu64 " s)", (uint64_t)id,
	         (uint64_t)(a->set.ttl_usec / VIGIL_USEC_PER_SEC));
	agent_step(a);
}

/*
 * The host key as a failed transaction's failure branch read it, into kv;
 * 0 if it does not exist.
 */
static int
agent_failed_host(const json_t *reply, struct etcd_kv *kv)
{
	const json_t *rr = json_object_get(json_array_get(json_object_get(reply, "responses"), 0),
	                                   "response_range");
	const json_t *kvj = json_array_get(json_object_get(rr, "kvs"), 0);
	char err[128];

	return kvj != NULL && etcdmsg_kv(kvj, kv, err, sizeof(err)) == 0;
}

/*
 * Another publisher holds the host key kv: the newest one wins. If it
 * started after us (its "started"), we stop; else we take the key over,
 * and revoke its lease so that it learns at its next keepalive.
 */
static void
agent_contest(struct agent *a, const struct etcd_kv *kv)
{
	json_t *val = json_loads(kv->value, 0, NULL);
	const char *theirs = json_string_value(json_object_get(val, "started"));

	if (theirs != NULL && strcmp(theirs, a->started) > 0) {
		log_error("%s belongs to a newer publisher (started %s, pid %" PRId64
		          "): this one (started %s) stops",
		          a->hostkey, theirs,
		          (int64_t)json_integer_value(json_object_get(val, "publisher_pid")),
		          a->started);
		json_decref(val);
		agent_stop(a, AGENT_EXIT_SUPERSEDED);
		return;
	}
	log_info("%s is held by an older publisher (started %s, revision %" PRId64
	         "): taking it over",
	         a->hostkey, theirs != NULL ? theirs : "?", kv->create_revision);
	json_decref(val);
	a->takeover_mod = kv->mod_revision;
	a->takeover_lease = kv->lease != a->lease ? kv->lease : 0;
	a->guard = 0;
	a->phase = AGENT_TAKEOVER;
}

static void
agent_claim_cb(const json_t *reply, const char *why, void *arg)
{
	struct agent *a = arg;
	int64_t rev;
	struct etcd_kv kv;
	char err[128];

	a->busy = 0;
	if (reply == NULL || etcdmsg_revision(reply, &rev, err, sizeof(err)) == -1) {
		agent_unreachable(a, "claiming the host key", why != NULL ? why : err);
		return;
	}
	agent_reachable(a);
	if (json_is_true(json_object_get(reply, "succeeded"))) {
		a->guard = rev;
		a->published_pid = a->pub.supervisor_pid;
		a->phase = AGENT_RECONCILE;
		log_info("published host %s (key %s, revision %" PRId64 ")", a->host, a->hostkey,
		         rev);
	} else if (agent_failed_host(reply, &kv)) {
		agent_contest(a, &kv);
		etcdmsg_kv_free(&kv);
		if (a->exit_status != 0)
			return;
	}
	agent_step(a);
}

static void
agent_ignore_cb(const json_t *reply, const char *why, void *arg)
{
}

static void
agent_takeover_cb(const json_t *reply, const char *why, void *arg)
{
	struct agent *a = arg;

	a->busy = 0;
	if (reply == NULL) {
		agent_unreachable(a, "taking over the host key", why);
		return;
	}
	agent_reachable(a);
	if (a->takeover_lease != 0) {
		char id[24];

		snprintf(id, sizeof(id), "%" PRId64, a->takeover_lease);
		/* Best effort: were it lost, the older lease expires after its TTL anyway. */
		etcd_post(a->etcd, ETCD_CH_LEASE, "/v3/lease/revoke", json_pack("{s:s}", "ID", id),
		          agent_ignore_cb, a);
		a->takeover_lease = 0;
	}
	a->phase = AGENT_CLAIM;
	agent_step(a);
}

static void
agent_stale_free(struct agent *a)
{
	for (size_t i = 0; i < a->nstale; i++)
		free(a->stale[i]);
	free(a->stale);
	a->stale = NULL;
	a->nstale = 0;
}

static void
agent_reconcile_cb(const json_t *reply, const char *why, void *arg)
{
	struct agent *a = arg;
	struct etcd_kv *kvs;
	size_t n;
	char err[128], host[VIGIL_NAME_MAX + 1], name[VIGIL_NAME_MAX + 1];

	a->busy = 0;
	if (reply == NULL || etcdmsg_kvs(reply, &kvs, &n, err, sizeof(err)) == -1) {
		agent_unreachable(a, "reading the host's worker keys", why != NULL ? why : err);
		return;
	}
	agent_reachable(a);
	agent_stale_free(a);
	a->stale = calloc(n + 1, sizeof(*a->stale));
	for (size_t i = 0; a->stale != NULL && i < n; i++) {
		struct pub_worker *w;

		if (keys_parse(kvs[i].key, host, name) != KEYS_WORKER ||
		    ((w = pub_find(&a->pub, name)) != NULL && !w->forgotten))
			continue;
		a->stale[a->nstale++] = strdup(name);
	}
	etcdmsg_kvs_free(kvs, n);
	pub_all_dirty(&a->pub);
	a->phase = AGENT_READY;
	log_info("reconciling: %zu worker keys to write, %zu to delete", pub_dirty_count(&a->pub),
	         a->nstale);
	agent_step(a);
}

static void
agent_write_cb(const json_t *reply, const char *why, void *arg)
{
	struct agent *a = arg;
	int64_t rev;
	struct etcd_kv kv;
	char err[128];
	int ok = reply != NULL && etcdmsg_revision(reply, &rev, err, sizeof(err)) == 0 &&
	         json_is_true(json_object_get(reply, "succeeded"));

	a->busy = 0;
	pub_sent(&a->pub, a->batch, a->gens, a->nbatch, ok);
	if (ok) {
		/* The stale keys deleted were the first ones of the list. */
		for (size_t i = 0; i < a->nbatch_stale; i++)
			free(a->stale[i]);
		memmove(a->stale, a->stale + a->nbatch_stale,
		        (a->nstale - a->nbatch_stale) * sizeof(*a->stale));
		a->nstale -= a->nbatch_stale;
		if (a->batch_host)
			a->host_dirty = 0;
	}
	a->nbatch = a->nbatch_stale = 0;
	if (reply == NULL) {
		agent_unreachable(a, "publishing", why);
		return;
	}
	agent_reachable(a);
	if (!ok) {
		if (agent_failed_host(reply, &kv)) {
			agent_contest(a, &kv);
			etcdmsg_kv_free(&kv);
			if (a->exit_status != 0)
				return;
		} else {
			agent_restart_claim(a, "the host key is gone (the lease expired)");
		}
	}
	agent_step(a);
}

/* Send what changed, guarded by our claim. */
static void
agent_write(struct agent *a)
{
	json_t *ops = json_array();
	char key[KEYS_MAX];
	size_t room = AGENT_TXN_OPS;

	if (ops == NULL)
		return;
	a->batch_host = 0;
	if (a->host_dirty || a->published_pid != a->pub.supervisor_pid) {
		char *v = agent_host_value(a);

		if (v != NULL) {
			json_array_append_new(ops, etcdmsg_txn_put(a->hostkey, v, a->lease));
			a->batch_host = 1;
			a->published_pid = a->pub.supervisor_pid;
			room--;
		}
		free(v);
	}
	a->nbatch_stale = a->nstale < room ? a->nstale : room;
	for (size_t i = 0; i < a->nbatch_stale; i++) {
		keys_worker(a->host, a->stale[i], key, sizeof(key));
		json_array_append_new(ops, etcdmsg_txn_delete(key));
	}
	room -= a->nbatch_stale;
	a->nbatch = pub_take_dirty(&a->pub, a->batch, a->gens, room);
	for (size_t i = 0; i < a->nbatch; i++) {
		const struct pub_worker *w = a->batch[i];
		char *v;

		keys_worker(a->host, w->name, key, sizeof(key));
		if (w->forgotten) {
			json_array_append_new(ops, etcdmsg_txn_delete(key));
		} else if ((v = pub_worker_value(w)) != NULL) {
			json_array_append_new(ops, etcdmsg_txn_put(key, v, 0));
			free(v);
		}
	}
	if (json_array_size(ops) == 0) {
		json_decref(ops);
		return;
	}
	a->busy = 1;
	if (etcd_post(a->etcd, ETCD_CH_KV, "/v3/kv/txn",
	              etcdmsg_txn_guarded(a->hostkey, a->guard, ops), agent_write_cb, a) == -1) {
		a->busy = 0;
		pub_sent(&a->pub, a->batch, a->gens, a->nbatch, 0);
		a->nbatch = a->nbatch_stale = 0;
	}
}

/* Do the next step, unless one is in flight or we wait for the backoff or the snapshot. */
static void
agent_step(struct agent *a)
{
	char *v;
	json_t *body = NULL;
	etcd_cb cb = NULL;
	const char *path = "/v3/kv/txn";
	enum etcd_channel ch = ETCD_CH_KV;
	char prefix[KEYS_MAX];

	if (a->busy || a->waiting || !a->have_snapshot || !a->ctl_up)
		return;
	switch (a->phase) {
	case AGENT_LEASE:
		body =
		    json_pack("{s:I}", "TTL", (json_int_t)(a->set.ttl_usec / VIGIL_USEC_PER_SEC));
		path = "/v3/lease/grant";
		ch = ETCD_CH_LEASE;
		cb = agent_lease_cb;
		break;
	case AGENT_CLAIM:
		if ((v = agent_host_value(a)) == NULL)
			return;
		body = etcdmsg_txn_guarded(
		    a->hostkey, 0, json_pack("[o?]", etcdmsg_txn_put(a->hostkey, v, a->lease)));
		free(v);
		cb = agent_claim_cb;
		break;
	case AGENT_TAKEOVER:
		body = json_pack("{s:[{s:s,s:s,s:o?,s:I}],s:[o?]}", "compare", "target", "MOD",
		                 "result", "EQUAL", "key", etcdmsg_key(a->hostkey), "mod_revision",
		                 (json_int_t)a->takeover_mod, "success",
		                 etcdmsg_txn_delete(a->hostkey));
		cb = agent_takeover_cb;
		break;
	case AGENT_RECONCILE:
		keys_host_workers(a->host, prefix, sizeof(prefix));
		body = etcdmsg_range_prefix(prefix, 1, 0);
		path = "/v3/kv/range";
		cb = agent_reconcile_cb;
		break;
	case AGENT_READY:
		agent_write(a);
		return;
	}
	a->busy = 1;
	if (etcd_post(a->etcd, ch, path, body, cb, a) == -1) {
		a->busy = 0;
		log_warnx("out of memory building a request to etcd");
	}
}

static void
agent_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	a->waiting = 0;
	agent_step(a);
}

static void
agent_keepalive_reply_cb(const json_t *reply, const char *why, void *arg)
{
	struct agent *a = arg;
	const json_t *res = json_object_get(reply, "result");
	int64_t ttl = 0, id = 0;

	a->keepalive_busy = 0;
	if (reply == NULL) {
		agent_unreachable(a, "lease keepalive", why);
		return;
	}
	agent_reachable(a);
	etcdmsg_int(res, "TTL", &ttl);
	if (etcdmsg_int(res, "ID", &id) == 0 && id != a->lease)
		return; /* about a lease we dropped already */
	if (ttl <= 0 && a->lease != 0 && a->phase != AGENT_LEASE) {
		agent_restart_claim(a, "etcd forgot our lease (it expired)");
		agent_step(a);
	}
}

static void
agent_keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	char id[24];

	if (a->lease == 0 || !a->ctl_up || a->keepalive_busy)
		return;
	snprintf(id, sizeof(id), "%" PRId64, a->lease);
	a->keepalive_busy = 1;
	if (etcd_post(a->etcd, ETCD_CH_LEASE, "/v3/lease/keepalive", json_pack("{s:s}", "ID", id),
	              agent_keepalive_reply_cb, a) == -1)
		a->keepalive_busy = 0;
}

static void
agent_snapshot_cb(const json_t *doc, void *arg)
{
	struct agent *a = arg;
	char err[256];
	uint64_t now_ms;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	now_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
	if (pub_apply_status(&a->pub, doc, now_ms, err, sizeof(err)) == -1) {
		log_warnx("ignoring the supervisor's status: %s", err);
		return;
	}
	log_info("supervisor (pid %" PRIu64 ") reports %zu workers", a->pub.supervisor_pid,
	         a->pub.count);
	a->ctl_up = 1;
	a->have_snapshot = 1;
	agent_keepalive_cb(-1, 0, a); /* at once: the lease may have expired meanwhile */
	agent_step(a);
}

static int
agent_event_cb(const char *line, size_t len, void *arg)
{
	struct agent *a = arg;
	int r = pub_apply_event(&a->pub, line, len);

	if (r == 1)
		agent_step(a);
	return r;
}

static void
agent_down_cb(const char *why, void *arg)
{
	struct agent *a = arg;

	a->ctl_up = 0;
	log_warnx("%s: keepalives stop until the supervisor is back (the host will show as "
	          "lost after %" PRIu64 " s)",
	          why, (uint64_t)(a->set.ttl_usec / VIGIL_USEC_PER_SEC));
}

static void
agent_read_boot_id(char *out, size_t cap)
{
	FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");

	snprintf(out, cap, "unknown");
	if (fp != NULL) {
		if (fgets(out, (int)cap, fp) != NULL)
			out[strcspn(out, "\n")] = '\0';
		fclose(fp);
	}
}

struct agent *
agent_new(struct event_base *base, struct etcd *etcd, const struct agent_settings *set)
{
	static const struct ctl_cbs cbs = {agent_snapshot_cb, agent_event_cb, agent_down_cb};
	struct agent *a = calloc(1, sizeof(*a));
	struct timeval tv, now;
	time_t t;
	struct tm tm;

	if (a == NULL)
		return NULL;
	a->base = base;
	a->etcd = etcd;
	a->set = *set;
	pub_init(&a->pub);
	snprintf(a->host, sizeof(a->host), "%s", set->host);
	keys_host(a->host, a->hostkey, sizeof(a->hostkey));
	agent_read_boot_id(a->boot_id, sizeof(a->boot_id));
	gettimeofday(&now, NULL);
	t = now.tv_sec;
	gmtime_r(&t, &tm);
	strftime(a->started, sizeof(a->started), "%Y-%m-%dT%H:%M:%S", &tm);
	/* Milliseconds: the newest publisher of a host wins by this string's order. */
	snprintf(a->started + strlen(a->started), sizeof(a->started) - strlen(a->started), ".%03uZ",
	         (unsigned)(now.tv_usec / 1000));
	a->backoff_usec = AGENT_BACKOFF_MIN_USEC;
	a->ctl = ctl_new(base, set->control, &cbs, a);
	a->keepalive = event_new(base, -1, EV_PERSIST, agent_keepalive_cb, a);
	a->retry = evtimer_new(base, agent_retry_cb, a);
	if (a->ctl == NULL || a->keepalive == NULL || a->retry == NULL) {
		agent_free(a);
		return NULL;
	}
	tv.tv_sec = (time_t)(set->keepalive_usec / VIGIL_USEC_PER_SEC);
	tv.tv_usec = (suseconds_t)(set->keepalive_usec % VIGIL_USEC_PER_SEC);
	event_add(a->keepalive, &tv);
	return a;
}

void
agent_start(struct agent *a)
{
	ctl_start(a->ctl);
}

int
agent_exit_status(const struct agent *a)
{
	return a->exit_status;
}

void
agent_free(struct agent *a)
{
	if (a == NULL)
		return;
	log_info("sent %" PRIu64 " requests (%" PRIu64 " bytes of request bodies) to etcd",
	         etcd_requests(a->etcd), etcd_bytes_sent(a->etcd));
	ctl_free(a->ctl);
	if (a->keepalive != NULL)
		event_free(a->keepalive);
	if (a->retry != NULL)
		event_free(a->retry);
	agent_stale_free(a);
	pub_free(&a->pub);
	free(a);
}
