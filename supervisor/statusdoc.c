/*
 * statusdoc.c: the status document, in slices. See statusdoc.h.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "registry.h"
#include "statusdoc.h"

#define STATUSDOC_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

/* The supervisor's fields, in the order shown. */
enum statusdoc_type {
	SD_UINT,
	SD_STRING,
	SD_UPTIME,
	SD_MS,      /* usec shown as whole ms */
	SD_MS_REAL, /* usec shown as ms with decimals */
	SD_INVALID_TOTAL,
	SD_INVALID_BY
};

static const struct statusdoc_field {
	const char *key;
	enum statusdoc_type type;
	size_t offset; /* in struct statusdoc_input */
} statusdoc_fields[] = {
    {"pid", SD_UINT, offsetof(struct statusdoc_input, pid)},
    {"version", SD_STRING, offsetof(struct statusdoc_input, version)},
    {"uptime_s", SD_UPTIME, 0},
    {"timeout_ms", SD_MS, offsetof(struct statusdoc_input, timeout)},
    {"workers", SD_UINT, offsetof(struct statusdoc_input, workers)},
    {"max_workers", SD_UINT, offsetof(struct statusdoc_input, max_workers)},
    {"datagrams", SD_UINT, offsetof(struct statusdoc_input, counters.datagrams)},
    {"invalid_datagrams", SD_INVALID_TOTAL, 0},
    {"invalid_by_reason", SD_INVALID_BY, 0},
    {"ignored_lines", SD_UINT, offsetof(struct statusdoc_input, counters.ignored_lines)},
    {"rejected_workers", SD_UINT, offsetof(struct statusdoc_input, counters.rejected_full)},
    {"timeouts_sent", SD_UINT, offsetof(struct statusdoc_input, counters.timeouts_sent)},
    {"timeouts_undelivered", SD_UINT,
     offsetof(struct statusdoc_input, counters.timeouts_undelivered)},
    {"pause_graces", SD_UINT, offsetof(struct statusdoc_input, counters.graces)},
    {"senders_refused", SD_UINT, offsetof(struct statusdoc_input, counters.senders_refused)},
    {"impersonations", SD_UINT, offsetof(struct statusdoc_input, counters.impersonations)},
    {"signals_sent", SD_UINT, offsetof(struct statusdoc_input, counters.signals_sent)},
    {"signals_refused", SD_UINT, offsetof(struct statusdoc_input, counters.signals_refused)},
    {"hooks_started", SD_UINT, offsetof(struct statusdoc_input, hooks_started)},
    {"hooks_refused", SD_UINT, offsetof(struct statusdoc_input, hooks_refused)},
    {"hooks_killed", SD_UINT, offsetof(struct statusdoc_input, hooks_killed)},
    {"exits_unwatched", SD_UINT, offsetof(struct statusdoc_input, counters.exits_unwatched)},
    {"helper_pings", SD_UINT, offsetof(struct statusdoc_input, counters.helper_pings)},
    {"conflict_heartbeats", SD_UINT, offsetof(struct statusdoc_input, counters.conflict_beats)},
    {"seq_resets", SD_UINT, offsetof(struct statusdoc_input, counters.seq_resets)},
    {"stalls", SD_UINT, offsetof(struct statusdoc_input, counters.stalls)},
    {"timer_lateness_max_ms", SD_MS_REAL, offsetof(struct statusdoc_input, counters.timer_late_max)},
};
#define STATUSDOC_NFIELDS (sizeof(statusdoc_fields) / sizeof(statusdoc_fields[0]))

/* A JSON integer from a u64 (above 2^63 - 1: 2^63 - 1, as common/status.c does). */
static json_t *
statusdoc_uint(uint64_t v)
{
	return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* The value of one field of in. */
static json_t *
statusdoc_value(const struct statusdoc_field *f, const struct statusdoc_input *in)
{
	const char *base = (const char *)in + f->offset;
	uint64_t u;
	json_t *o;

	switch (f->type) {
	case SD_UINT:
		memcpy(&u, base, sizeof(u));
		return statusdoc_uint(u);
	case SD_MS:
		memcpy(&u, base, sizeof(u));
		return statusdoc_uint(u / 1000);
	case SD_MS_REAL:
		memcpy(&u, base, sizeof(u));
		return json_real((double)u / 1e3);
	case SD_STRING:
		return json_string(*(const char *const *)(const void *)base);
	case SD_UPTIME:
		return json_real((double)(in->now - in->started) / 1e6);
	case SD_INVALID_TOTAL:
		u = 0;
		for (int code = 1; code < VIGIL_WIRE_NERR; code++)
			u += in->counters.invalid[code];
		return statusdoc_uint(u);
	case SD_INVALID_BY:
		if ((o = json_object()) == NULL)
			return NULL;
		for (int code = 1; code < VIGIL_WIRE_NERR; code++)
			if (json_object_set_new(o, vigil_wire_strerror(code),
						statusdoc_uint(in->counters.invalid[code])) == -1) {
				json_decref(o);
				return NULL;
			}
		return o;
	}
	return NULL;
}

json_t *
statusdoc_supervisor(const struct statusdoc_input *in)
{
	json_t *o = json_object();

	for (size_t i = 0; o != NULL && i < STATUSDOC_NFIELDS; i++) {
		json_t *v = statusdoc_value(&statusdoc_fields[i], in);
		if (v == NULL || json_object_set_new(o, statusdoc_fields[i].key, v) == -1) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* Append obj (a reference this takes) to out, unterminated; -1 if it cannot be. */
static int
statusdoc_put(struct evbuffer *out, json_t *obj)
{
	char small[2048];
	int rc = -1;

	if (obj == NULL)
		return -1;
	size_t n = json_dumpb(obj, small, sizeof(small), STATUSDOC_JSON_FLAGS);
	if (n > 0 && n <= sizeof(small)) {
		rc = evbuffer_add(out, small, n);
	} else if (n > 0) {
		char *text = json_dumps(obj, STATUSDOC_JSON_FLAGS);
		if (text != NULL)
			rc = evbuffer_add(out, text, strlen(text));
		free(text);
	}
	json_decref(obj);
	return rc;
}

int
statusdoc_start(struct statusdoc *d, struct registry *r)
{
	memset(d, 0, sizeof(*d));
	return walk_start(&d->walk, r);
}

int
statusdoc_step(struct statusdoc *d, const struct statusdoc_input *in, struct evbuffer *out,
	       const struct slice *sl)
{
	unsigned tick = 0;
	struct worker *w;

	switch (d->phase) {
	case STATUSDOC_HEAD:
		if (evbuffer_add_printf(out, "{\"workers\":[") < 0)
			return -1;
		d->phase = STATUSDOC_ROWS;
		/* fall through */
	case STATUSDOC_ROWS:
		if (!walk_prepare(&d->walk, sl))
			return 0;
		for (;;) {
			if (slice_full(sl, evbuffer_get_length(out), &tick))
				return 0;
			if ((w = walk_next(&d->walk)) == NULL)
				break;
			struct vigil_status_row row;
			char text[VIGIL_STATUS_JSON_MAX + 1];
			registry_row(w, in->now, &row);
			/* Written straight from the field table: no tree of JSON per row. */
			text[0] = ',';
			int n = vigil_status_row_write(&row, text + 1, sizeof(text) - 1);
			if (n < 0 || evbuffer_add(out, d->rows > 0 ? text : text + 1,
						  (size_t)n + (d->rows > 0)) == -1)
				return -1;
			d->rows++;
		}
		d->phase = STATUSDOC_TAIL;
		/* fall through */
	case STATUSDOC_TAIL:
		if (evbuffer_add_printf(out, "],\"supervisor\":") < 0 ||
		    statusdoc_put(out, statusdoc_supervisor(in)) == -1 ||
		    evbuffer_add(out, "}\n", 2) == -1)
			return -1;
		d->phase = STATUSDOC_DONE;
		/* fall through */
	case STATUSDOC_DONE:
		return 1;
	}
	return -1;
}

void
statusdoc_end(struct statusdoc *d)
{
	walk_end(&d->walk);
	memset(d, 0, sizeof(*d));
}
