/*
 * registry.c: worker table. See registry.h.
 */
#include <errno.h>
#include <malloc.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fdbudget.h"
#include "registry.h"

/* FNV-1a: short names, no adversarial-collision concern beyond the worker limit. */
static uint64_t
hash_name(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	return h;
}

int
registry_init(struct registry *r, size_t max)
{
	size_t n = 16;

	while (n < max && n < ((size_t)1 << 30))
		n <<= 1;
	memset(r, 0, sizeof(*r));
	r->buckets = calloc(n, sizeof(*r->buckets));
	if (r->buckets == NULL)
		return -1;
	r->nbuckets = n;
	r->max = max;
	return 0;
}

/* Everything w holds but its own block (where its name is). */
static void
worker_release(struct worker *w)
{
	if (event_initialized(w->timer))
		event_del(w->timer);
	registry_unwatch_exit(w);
	registry_drop_rival(w);
	free(w->addr);
	free(w->status);
	free(w->phi);
	w->addr = NULL;
	w->status = NULL;
	w->phi = NULL;
}

static void
worker_free(struct worker *w)
{
	worker_release(w);
	free(w);
}

/* Free the workers removed while the registry was pinned. */
static void
registry_free_removed(struct registry *r)
{
	while (r->removed != NULL) {
		struct worker *next = r->removed->next;
		free(r->removed);
		r->removed = next;
	}
}

void
registry_free(struct registry *r)
{
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct worker *w = r->buckets[i];
		while (w != NULL) {
			struct worker *next = w->next;
			worker_free(w);
			w = next;
		}
	}
	registry_free_removed(r);
	free(r->buckets);
	memset(r, 0, sizeof(*r));
}

struct worker *
registry_find(const struct registry *r, const char *name, size_t len)
{
	if (len > VIGIL_NAME_MAX)
		return NULL;
	struct worker *w = r->buckets[hash_name(name, len) & (r->nbuckets - 1)];

	for (; w != NULL; w = w->next) {
		if (w->name[len] == '\0' && memcmp(w->name, name, len) == 0)
			return w;
	}
	return NULL;
}

/*
 * Where a worker's timer lives in its block (registry_add): after the struct
 * and its name of len bytes, aligned for a struct event, which holds
 * pointers, integers and timevals (8 bytes on x86_64; a 64-bit time_t needs
 * 8 on 32-bit systems too). Not max_align_t: its 16 would cost a worker
 * with a long name 16 bytes.
 */
static size_t
timer_offset(size_t len)
{
	size_t align = alignof(void *) > alignof(int64_t) ? alignof(void *) : alignof(int64_t);

	return (offsetof(struct worker, name) + len + 1 + align - 1) & ~(align - 1);
}

void
registry_prefetch(const struct registry *r, const char *name, size_t len)
{
	if (len > VIGIL_NAME_MAX)
		return;
	const char *w = (const char *)r->buckets[hash_name(name, len) & (r->nbuckets - 1)];
	if (w == NULL)
		return;
	/* The whole block a heartbeat touches: the struct, the name, the timer. */
	size_t end = timer_offset(len) + event_get_struct_event_size();
	for (size_t at = 0; at < end; at += 64)
		__builtin_prefetch(w + at);
}

struct worker *
registry_add(struct registry *r, const char *name, size_t len)
{
	struct worker *w;

	if (len > VIGIL_NAME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (r->count >= r->max) {
		errno = ENOSPC;
		return NULL;
	}
	/* One block: the struct, the name, then the timer's storage. */
	size_t at = timer_offset(len);
	w = calloc(1, at + event_get_struct_event_size());
	if (w == NULL)
		return NULL;
	w->timer = (struct event *)(void *)((char *)w + at);
	memcpy(w->name, name, len);
	w->name[len] = '\0';
	size_t b = hash_name(name, len) & (r->nbuckets - 1);
	w->next = r->buckets[b];
	r->buckets[b] = w;
	r->count++;
	return w;
}

void
registry_remove(struct registry *r, struct worker *w)
{
	struct worker **pp = &r->buckets[hash_name(w->name, strlen(w->name)) & (r->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			r->count--;
			if (r->pins == 0) {
				worker_free(w);
				return;
			}
			worker_release(w);
			w->removed = 1;
			w->next = r->removed;
			r->removed = w;
			return;
		}
	}
}

void
registry_pin(struct registry *r)
{
	r->pins++;
}

void
registry_unpin(struct registry *r)
{
	if (r->pins > 0 && --r->pins == 0)
		registry_free_removed(r);
}

/* The claim holds nothing any more: free it. */
static void
registry_claim_tidy(struct worker *w)
{
	if (w->claim != NULL && w->claim->exit_ev == NULL && w->claim->rival_timer == NULL) {
		free(w->claim);
		w->claim = NULL;
	}
}

void
registry_unwatch_exit(struct worker *w)
{
	if (w->claim == NULL || w->claim->exit_ev == NULL)
		return;
	evutil_socket_t fd = event_get_fd(w->claim->exit_ev);
	event_free(w->claim->exit_ev);
	close(fd);
	fdbudget_release();
	w->claim->exit_ev = NULL;
	registry_claim_tidy(w);
}

void
registry_drop_rival(struct worker *w)
{
	if (w->claim == NULL || w->claim->rival_timer == NULL)
		return;
	event_free(w->claim->rival_timer);
	w->claim->rival_timer = NULL;
	w->claim->rival_pid = 0;
	registry_claim_tidy(w);
}

int
registry_pidfd(const struct worker *w)
{
	return w->claim != NULL && w->claim->exit_ev != NULL ? (int)event_get_fd(w->claim->exit_ev)
							     : -1;
}

int
registry_set_addr(struct worker *w, const struct sockaddr_un *addr, socklen_t len)
{
	if (len > sizeof(*addr)) {
		errno = EINVAL; /* not an AF_UNIX address: the kernel never gives one */
		return -1;
	}
	if (addr == NULL || len == 0) {
		free(w->addr);
		w->addr = NULL;
		w->addrlen = 0;
		return 0;
	}
	if (w->addr != NULL && len == w->addrlen && memcmp(w->addr, addr, len) == 0)
		return 0;
	struct sockaddr_un *copy = malloc(len);
	if (copy == NULL)
		return -1;
	memcpy(copy, addr, len);
	free(w->addr);
	w->addr = copy;
	w->addrlen = (uint8_t)len;
	return 0;
}

/*
 * Keep STATUS= text as the worker wrote it where it is valid UTF-8 (café,
 * ☕); a control character (C0, DEL, C1) or a byte that is not UTF-8 shows
 * as '?'. At most VIGIL_STATUS_TEXT_MAX bytes, never cut inside a character.
 */
int
registry_set_status(struct worker *w, const char *text, size_t len)
{
	/* Full size once: a worker that reports status changes it often. */
	if (w->status == NULL && (w->status = malloc(VIGIL_STATUS_TEXT_MAX + 1)) == NULL)
		return -1;
	const unsigned char *p = (const unsigned char *)text;
	size_t i = 0, o = 0;
	while (i < len && o < VIGIL_STATUS_TEXT_MAX) {
		size_t n = vigil_wire_utf8_len(text + i, len - i);
		if (n == 1) {
			w->status[o++] = p[i] >= 0x20 && p[i] != 0x7f ? (char)p[i] : '?';
		} else if (n == 0 || (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0)) {
			w->status[o++] = '?'; /* not UTF-8, or a C1 control (U+0080-U+009F) */
			n = n == 0 ? 1 : n;
		} else if (o + n > VIGIL_STATUS_TEXT_MAX) {
			break; /* no half of a character */
		} else {
			memcpy(w->status + o, p + i, n);
			o += n;
		}
		i += n;
	}
	w->status[o] = '\0';
	return 0;
}

size_t
registry_footprint(const struct registry *r, const struct worker *w)
{
	/* What malloc gives each block, and its header word (glibc's chunk overhead). */
	size_t n = malloc_usable_size((void *)w) + sizeof(size_t);

	if (w->addr != NULL)
		n += malloc_usable_size(w->addr) + sizeof(size_t);
	if (w->status != NULL)
		n += malloc_usable_size(w->status) + sizeof(size_t);
	if (w->phi != NULL)
		n += malloc_usable_size(w->phi) + sizeof(size_t);
	/* The bucket array is sized for r->max workers: each one's share of it. */
	return n + (r->nbuckets * sizeof(*r->buckets) + r->max - 1) / r->max;
}

static int
cmp_name(const void *a, const void *b)
{
	const struct worker *const *wa = a, *const *wb = b;
	return strcmp((*wa)->name, (*wb)->name);
}

size_t
registry_collect(const struct registry *r, struct worker **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nbuckets && n < cap; i++) {
		for (struct worker *w = r->buckets[i]; w != NULL && n < cap; w = w->next)
			out[n++] = w;
	}
	return n;
}

size_t
registry_list(const struct registry *r, struct worker **out, size_t cap)
{
	size_t n = registry_collect(r, out, cap);

	if (n > 1)
		qsort(out, n, sizeof(*out), cmp_name);
	return n;
}

_Static_assert(REGISTRY_INTERVALS == 4, "next_interval is a 2-bit field, nintervals 3 bits");

void
registry_note_interval(struct worker *w, uint64_t usec)
{
	w->intervals[w->next_interval] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t)usec;
	w->next_interval = (w->next_interval + 1) % REGISTRY_INTERVALS;
	if (w->nintervals < REGISTRY_INTERVALS)
		w->nintervals++;
}

size_t
registry_intervals(const struct worker *w, uint64_t *min, uint64_t *mean, uint64_t *max)
{
	uint64_t sum = 0;

	*min = *mean = *max = 0;
	for (size_t i = 0; i < w->nintervals; i++) {
		uint64_t v = w->intervals[i];
		if (i == 0 || v < *min)
			*min = v;
		if (v > *max)
			*max = v;
		sum += v;
	}
	if (w->nintervals > 0)
		*mean = sum / w->nintervals;
	return w->nintervals;
}

void
registry_row(const struct worker *w, uint64_t now, struct vigil_status_row *row)
{
	const struct worker_core *c = &w->core;

	memset(row, 0, sizeof(*row));
	memcpy(row->name, w->name, strlen(w->name) + 1); /* stored to size, at most VIGIL_NAME_MAX */
	snprintf(row->state, sizeof(row->state), "%s", state_name(c, now));
	row->pid = c->pid;
	row->last_seq = c->last_seq;
	row->missed = c->missed;
	row->timeouts = c->timeouts;
	row->heartbeats = c->heartbeats;
	row->restarts = c->restarts;
	row->conflict_pid = w->claim != NULL && w->claim->rival_timer != NULL ? w->claim->rival_pid : 0;
	row->silent_s = now > c->last_hb ? (double)(now - c->last_hb) / 1e6 : 0.0;
	row->timeout_ms = c->timeout / 1000;
	row->interval_ms = c->interval / 1000;
	row->uid = w->owner;
	if (w->status != NULL)
		memcpy(row->status, w->status, strlen(w->status) + 1);
}
