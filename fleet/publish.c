/*
 * publish.c: the publisher's state. See publish.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "publish.h"

#define PUB_BUCKETS_MIN 64

void
pub_init(struct pub *p)
{
	memset(p, 0, sizeof(*p));
}

void
pub_free(struct pub *p)
{
	for (size_t b = 0; b < p->nbuckets; b++) {
		struct pub_worker *w = p->buckets[b], *next;

		for (; w != NULL; w = next) {
			next = w->next;
			free(w);
		}
	}
	free(p->buckets);
	memset(p, 0, sizeof(*p));
}

/* FNV-1a. */
static size_t
pub_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

struct pub_worker *
pub_find(const struct pub *p, const char *name)
{
	if (p->nbuckets == 0)
		return NULL;
	for (struct pub_worker *w = p->buckets[pub_hash(name) % p->nbuckets]; w != NULL;
	     w = w->next)
		if (strcmp(w->name, name) == 0)
			return w;
	return NULL;
}

/* Keep the load factor at most 1: double the table when it is full. */
static int
pub_grow(struct pub *p)
{
	size_t n = p->nbuckets == 0 ? PUB_BUCKETS_MIN : p->nbuckets * 2;
	struct pub_worker **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return -1;
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct pub_worker *w = p->buckets[i], *next;

		for (; w != NULL; w = next) {
			size_t h = pub_hash(w->name) % n;

			next = w->next;
			w->next = b[h];
			b[h] = w;
		}
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = n;
	return 0;
}

/* The worker called name, added (fresh, dirty) if new; NULL when out of memory. */
static struct pub_worker *
pub_get(struct pub *p, const char *name)
{
	struct pub_worker *w = pub_find(p, name);
	size_t h;

	if (w != NULL)
		return w;
	if (p->count >= p->nbuckets && pub_grow(p) == -1)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->gen = 1;
	h = pub_hash(name) % p->nbuckets;
	w->next = p->buckets[h];
	p->buckets[h] = w;
	p->count++;
	return w;
}

static void
pub_remove(struct pub *p, struct pub_worker *gone)
{
	struct pub_worker **pp = &p->buckets[pub_hash(gone->name) % p->nbuckets];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == gone) {
			*pp = gone->next;
			free(gone);
			p->count--;
			return;
		}
	}
}

static uint64_t
pub_uint(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* "2026-11-29T08:39:10.847Z" as ms since the epoch; 0 if it is not that. */
static uint64_t
pub_time_ms(const char *s)
{
	struct tm tm = {0};
	unsigned ms;
	char z;

	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3u%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z) != 8 ||
	    z != 'Z')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	return t < 0 ? 0 : (uint64_t)t * 1000 + ms;
}

int
pub_apply_status(struct pub *p, const json_t *doc, uint64_t now_ms, char *err, size_t errlen)
{
	const json_t *rows = json_object_get(doc, "workers");
	const json_t *sup = json_object_get(doc, "supervisor");
	const json_t *row;
	size_t i;

	if (!json_is_array(rows) || !json_is_object(sup)) {
		snprintf(err, errlen,
		         "not a status document (no workers array or supervisor object)");
		return -1;
	}
	json_array_foreach(rows, i, row)
	{
		const char *name = json_string_value(json_object_get(row, "name"));
		const char *state = json_string_value(json_object_get(row, "state"));

		if (name == NULL || state == NULL || !vigil_wire_name_valid(name, strlen(name))) {
			snprintf(err, errlen, "status row %zu has no valid name or state", i);
			return -1;
		}
	}
	/* Forget all, then bring back those in the document. */
	for (size_t b = 0; b < p->nbuckets; b++)
		for (struct pub_worker *w = p->buckets[b]; w != NULL; w = w->next)
			w->forgotten = 1;
	json_array_foreach(rows, i, row)
	{
		struct pub_worker *w = pub_get(p, json_string_value(json_object_get(row, "name")));
		const char *state = json_string_value(json_object_get(row, "state"));

		if (w == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (strcmp(w->state, state) != 0 || w->since_ms == 0)
			w->since_ms = now_ms;
		snprintf(w->state, sizeof(w->state), "%s", state);
		w->forgotten = 0;
		w->pid = pub_uint(row, "pid");
		w->seq = pub_uint(row, "last_seq");
		w->missed = pub_uint(row, "missed");
		w->timeouts = pub_uint(row, "timeouts");
		w->restarts = pub_uint(row, "restarts");
		w->timeout_ms = pub_uint(row, "timeout_ms");
		w->silent_ms =
		    (uint64_t)(json_number_value(json_object_get(row, "silent_s")) * 1000);
	}
	p->supervisor_pid = pub_uint(sup, "pid");
	/* Everything, forgotten workers included, goes to etcd again. */
	pub_all_dirty(p);
	return 0;
}

int
pub_apply_event(struct pub *p, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "event"));
	const char *name = json_string_value(json_object_get(ev, "worker"));
	const char *state = json_string_value(json_object_get(ev, "state"));
	struct pub_worker *w;
	int changed = 0;

	if (type != NULL && strcmp(type, "overflow") == 0) {
		json_decref(ev);
		return 2;
	}
	if (type == NULL || name == NULL || state == NULL ||
	    !vigil_wire_name_valid(name, strlen(name)) || strlen(state) >= sizeof(w->state) ||
	    (w = pub_get(p, name)) == NULL) {
		p->ignored++;
		json_decref(ev);
		return -1;
	}
	p->events++;
	uint64_t pid = pub_uint(ev, "pid"), missed = pub_uint(ev, "missed");
	uint64_t when = pub_time_ms(json_string_value(json_object_get(ev, "time")));

	if (strcmp(type, "forgotten") == 0) {
		w->forgotten = 1;
		w->gen++;
		json_decref(ev);
		return 1;
	}
	/*
	 * A rival claimant's silence (supervisor/monitor.c: pid the rival's,
	 * other_pid the name's process): not the worker's timeout, nor its pid.
	 */
	if (strcmp(type, "timeout") == 0 && pub_uint(ev, "other_pid") != 0) {
		json_decref(ev);
		return 0;
	}
	if (strcmp(type, "restarted") == 0 && pid != w->pid)
		w->restarts++;
	if (strcmp(type, "timeout") == 0) {
		/* Reported at missed 1, 2, 3, 4, 8, ...: the count of periods is missed itself. */
		if (strcmp(w->state, "dead") != 0)
			w->timeouts += missed;
		else if (missed > w->missed)
			w->timeouts += missed - w->missed;
		w->missed = missed;
		w->silent_ms = pub_uint(ev, "silent_ms");
	} else if (strcmp(state, "alive") == 0) {
		w->missed = 0;
		w->silent_ms = 0;
	}
	if (json_object_get(ev, "seq") != NULL)
		w->seq = pub_uint(ev, "seq");
	if (strcmp(w->state, state) != 0 || (pid != 0 && pid != w->pid) || w->forgotten) {
		snprintf(w->state, sizeof(w->state), "%s", state);
		w->since_ms = when;
		w->forgotten = 0;
		changed = 1;
	}
	if (pid != 0)
		w->pid = pid;
	if (changed)
		w->gen++;
	json_decref(ev);
	return changed;
}

char *
pub_worker_value(const struct pub_worker *w)
{
	json_t *o =
	    json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "state", w->state, "pid",
	              (json_int_t)w->pid, "since", (json_int_t)w->since_ms, "missed",
	              (json_int_t)w->missed, "silent_ms", (json_int_t)w->silent_ms, "seq",
	              (json_int_t)w->seq, "timeout_ms", (json_int_t)w->timeout_ms, "restarts",
	              (json_int_t)w->restarts, "timeouts", (json_int_t)w->timeouts);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

size_t
pub_take_dirty(struct pub *p, struct pub_worker **out, uint64_t *gens, size_t max)
{
	size_t n = 0;

	for (size_t b = 0; b < p->nbuckets && n < max; b++) {
		for (struct pub_worker *w = p->buckets[b]; w != NULL && n < max; w = w->next) {
			if (w->gen == w->sent)
				continue;
			w->sent = w->gen;
			gens[n] = w->gen;
			out[n++] = w;
		}
	}
	return n;
}

void
pub_sent(struct pub *p, struct pub_worker **ws, const uint64_t *gens, size_t n, int ok)
{
	for (size_t i = 0; i < n; i++) {
		struct pub_worker *w = ws[i];

		if (w->gen != gens[i])
			continue; /* changed meanwhile: still dirty */
		if (!ok)
			w->sent = 0;
		else if (w->forgotten)
			pub_remove(p, w);
	}
}

void
pub_all_dirty(struct pub *p)
{
	for (size_t b = 0; b < p->nbuckets; b++)
		for (struct pub_worker *w = p->buckets[b]; w != NULL; w = w->next)
			w->sent = 0;
}

size_t
pub_dirty_count(const struct pub *p)
{
	size_t n = 0;

	for (size_t b = 0; b < p->nbuckets; b++)
		for (struct pub_worker *w = p->buckets[b]; w != NULL; w = w->next)
			n += w->gen != w->sent;
	return n;
}
