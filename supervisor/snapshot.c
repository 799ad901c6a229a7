/*
 * snapshot.c: the registry snapshot's encoder and decoder. See snapshot.h.
 *
 * Everything is checked before anything is used: the header's own
 * checksum, the version, the body's size and checksum, then every record
 * and field (a first pass that calls nothing), and only then the callbacks
 * (a second pass over the same bytes, which cannot fail where the first
 * did not). The checksum catches a torn or damaged snapshot; the checks
 * behind it are what makes a snapshot crafted to pass it harmless.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "options.h"
#include "snapshot.h"
#include "status.h"

static const char snapshot_magic[8] = {'V', 'I', 'G', 'I', 'L', 'S', 'N', 'P'};

/* Records. */
enum { SNAP_R_SUPERVISOR = 1, SNAP_R_WORKER = 2, SNAP_R_EVENT = 3 };

/* The supervisor's fields; its counters from 16 on (snap_counters). */
enum {
	SNAP_S_SOCKET = 1,
	SNAP_S_BOOT_ID = 2,
	SNAP_S_WRITTEN_MONO = 3,
	SNAP_S_WRITTEN_WALL = 4,
	SNAP_S_GENERATION = 5,
	/* 6 is not used: invalid[] by the enum's index, which renumbers. */
	SNAP_S_EVENT_TOTAL = 7, /* one per type: its count (varint), then its name */
	SNAP_S_INVALID = 8,     /* one per reason: its count (varint), then its label */
};

/* A worker's fields with bytes; its numbers from 16 on (snap_worker_numbers). */
enum {
	SNAP_W_NAME = 1,
	SNAP_W_ADDR = 2,
	SNAP_W_STATUS = 3,
	SNAP_W_INTERVALS = 4, /* varints, oldest first */
	SNAP_W_PHI = 5,       /* its interval, then the samples oldest first, varints */
};

/* An event's fields. */
enum {
	SNAP_E_TIME = 1,
	SNAP_E_TYPE = 2, /* its name: events.h's vocabulary may grow or be reordered */
	SNAP_E_WORKER = 3,
	SNAP_E_STATE = 4,
	SNAP_E_PID = 5,
	SNAP_E_SEQ = 6,
	SNAP_E_MISSED = 7,
	SNAP_E_SILENT_MS = 8,
	SNAP_E_SIG = 9,
	SNAP_E_OTHER_PID = 10, /* the rival's pid (a conflict, a rival's timeout); 0 omitted */
};

/* Worker states as the bytes hold them: stable codes, whatever enum worker_state becomes. */
enum { SNAP_STATE_ALIVE = 1, SNAP_STATE_DEAD, SNAP_STATE_STOPPED, SNAP_STATE_EXITED,
       SNAP_STATE_MISSING, SNAP_STATE_UNWATCHED };

static const struct {
	enum worker_state state;
	uint64_t code;
} snap_states[] = {
    {WORKER_ALIVE, SNAP_STATE_ALIVE},     {WORKER_DEAD, SNAP_STATE_DEAD},
    {WORKER_STOPPED, SNAP_STATE_STOPPED}, {WORKER_EXITED, SNAP_STATE_EXITED},
    {WORKER_MISSING, SNAP_STATE_MISSING}, {WORKER_UNWATCHED, SNAP_STATE_UNWATCHED},
};
#define NSTATES (sizeof(snap_states) / sizeof(snap_states[0]))

/* A number field: its tag, where it lives in the struct, the largest value accepted. */
struct snap_number {
	unsigned tag;
	size_t off;
	uint64_t max;
};

#define TIME_MAX (UINT64_C(1) << 62) /* monotonic usec: 146 000 years; no sum overflows */
#define W(field) offsetof(struct snapshot_worker, field)
static const struct snap_number snap_worker_numbers[] = {
    {16, W(owner), UINT32_MAX},
    {17, W(pid), UINT32_MAX},
    {18, W(pid_vouched), 1},
    {19, W(start_time), UINT64_MAX},
    {20, W(state), NSTATES},
    {21, W(failed), 1},
    {22, W(graced), 1},
    {23, W(last_seq), UINT64_MAX},
    {24, W(missed), TIME_MAX},
    {25, W(timeouts), UINT64_MAX},
    {26, W(heartbeats), UINT64_MAX},
    {27, W(restarts), UINT64_MAX},
    {28, W(last_hb), TIME_MAX},
    {29, W(timeout), SUPERVISOR_TIMEOUT_MAX},
    {30, W(interval), SUPERVISOR_INTERVAL_MAX_MS * 1000},
    {31, W(due), TIME_MAX},
    {32, W(watchdog_usec), SUPERVISOR_TIMEOUT_MAX},
    {33, W(incidents_start), TIME_MAX},
    {34, W(incidents_n), UINT64_MAX},
};
#undef W

#define C(field) offsetof(struct supervisor_counters, field)
static const struct snap_number snap_counters[] = {
    {16, C(datagrams), UINT64_MAX},      {17, C(rejected_full), UINT64_MAX},
    {18, C(timeouts_sent), UINT64_MAX},  {19, C(timeouts_undelivered), UINT64_MAX},
    {20, C(graces), UINT64_MAX},         {21, C(stalls), UINT64_MAX},
    {22, C(timer_late_max), UINT64_MAX}, {23, C(senders_refused), UINT64_MAX},
    {24, C(impersonations), UINT64_MAX}, {25, C(signals_sent), UINT64_MAX},
    {26, C(signals_refused), UINT64_MAX}, {27, C(exits_unwatched), UINT64_MAX},
    {28, C(ignored_lines), UINT64_MAX},  {29, C(helper_pings), UINT64_MAX},
    {30, C(conflict_beats), UINT64_MAX}, {31, C(seq_resets), UINT64_MAX},
};
#undef C
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- CRC-32C, slicing by 8 (about 1.5 GB/s: 15 MB in 10 ms) */

static uint32_t crc_table[8][256];

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t
snapshot_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (crc_table[0][1] == 0)
		crc_init();
	crc = ~crc;
	while (len >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
		      crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* ---- writing */

static unsigned char *
buf_room(struct snapshot_buf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap != 0 ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		unsigned char *d = realloc(b->data, cap);
		if (d == NULL) {
			b->failed = 1;
			return NULL;
		}
		b->data = d;
		b->cap = cap;
	}
	unsigned char *p = b->data + b->len;
	b->len += n;
	return p;
}

static void
put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void
put_varint(struct snapshot_buf *b, uint64_t v)
{
	unsigned char *p = buf_room(b, varint_size(v));

	if (p == NULL)
		return;
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p = (unsigned char)v;
}

static void
put_bytes(struct snapshot_buf *b, unsigned tag, const void *data, size_t n)
{
	put_varint(b, tag);
	put_varint(b, n);
	unsigned char *p = buf_room(b, n);
	if (p != NULL && n > 0)
		memcpy(p, data, n);
}

/* A number: left out when zero, which is what a missing field decodes to. */
static void
put_number(struct snapshot_buf *b, unsigned tag, uint64_t v)
{
	if (v == 0)
		return;
	put_varint(b, tag);
	put_varint(b, varint_size(v));
	put_varint(b, v);
}

static void
put_numbers(struct snapshot_buf *b, const struct snap_number *t, size_t n, const void *s)
{
	for (size_t i = 0; i < n; i++)
		put_number(b, t[i].tag, *(const uint64_t *)(const void *)((const char *)s + t[i].off));
}

/* A list of varints as one field. */
static void
put_list(struct snapshot_buf *b, unsigned tag, const uint64_t *first, const uint32_t *v, size_t n)
{
	size_t size = first != NULL ? varint_size(*first) : 0;

	for (size_t i = 0; i < n; i++)
		size += varint_size(v[i]);
	put_varint(b, tag);
	put_varint(b, size);
	if (first != NULL)
		put_varint(b, *first);
	for (size_t i = 0; i < n; i++)
		put_varint(b, v[i]);
}

static void
record_open(struct snapshot_buf *b, unsigned tag)
{
	put_varint(b, tag);
	b->record = b->len;
	buf_room(b, 4);
}

static void
record_close(struct snapshot_buf *b)
{
	if (!b->failed)
		put_le(b->data + b->record, b->len - b->record - 4, 4);
}

/* A count by name (an event type, a reason): names are stable where enums renumber. */
static void
put_named_count(struct snapshot_buf *b, unsigned tag, uint64_t v, const char *name)
{
	if (v == 0)
		return;
	put_varint(b, tag);
	put_varint(b, varint_size(v) + strlen(name));
	put_varint(b, v);
	unsigned char *p = buf_room(b, strlen(name));
	if (p != NULL)
		memcpy(p, name, strlen(name));
}

/* The slot of a count by name: NULL for a name this supervisor does not know. */
static uint64_t *
named_count_slot(struct snapshot_head *h, unsigned tag, const unsigned char *p, size_t n)
{
	if (tag == SNAP_S_EVENT_TOTAL) {
		for (size_t t = 0; t < SV_EVENT_NTYPES; t++) {
			const char *name = events_name((enum sv_event_type)t);
			if (n == strlen(name) && memcmp(p, name, n) == 0)
				return &h->event_totals[t];
		}
		return NULL;
	}
	for (size_t i = 1; i < VIGIL_WIRE_NERR; i++) {
		const char *name = vigil_wire_strerror((enum vigil_wire_err)i);
		if (n == strlen(name) && memcmp(p, name, n) == 0)
			return &h->counters.invalid[i];
	}
	return NULL;
}

void
snapshot_begin(struct snapshot_buf *b, const struct snapshot_head *h)
{
	memset(b, 0, sizeof(*b));
	unsigned char *room = buf_room(b, SNAPSHOT_HEADER);
	if (room != NULL)
		memset(room, 0, SNAPSHOT_HEADER); /* written out as is by the first drain, then over */
	record_open(b, SNAP_R_SUPERVISOR);
	put_bytes(b, SNAP_S_SOCKET, h->socket, h->socket_len);
	put_bytes(b, SNAP_S_BOOT_ID, h->boot_id, strnlen(h->boot_id, sizeof(h->boot_id)));
	put_number(b, SNAP_S_WRITTEN_MONO, h->written_mono);
	put_number(b, SNAP_S_WRITTEN_WALL, h->written_wall);
	put_number(b, SNAP_S_GENERATION, h->generation);
	for (size_t i = 1; i < VIGIL_WIRE_NERR; i++)
		put_named_count(b, SNAP_S_INVALID, h->counters.invalid[i],
				vigil_wire_strerror((enum vigil_wire_err)i));
	put_numbers(b, snap_counters, NELEMS(snap_counters), &h->counters);
	for (size_t t = 0; t < SV_EVENT_NTYPES; t++)
		put_named_count(b, SNAP_S_EVENT_TOTAL, h->event_totals[t],
				events_name((enum sv_event_type)t));
	record_close(b);
}

void
snapshot_add_worker(struct snapshot_buf *b, const struct snapshot_worker *w)
{
	record_open(b, SNAP_R_WORKER);
	put_bytes(b, SNAP_W_NAME, w->name, w->name_len);
	if (w->addr != NULL)
		put_bytes(b, SNAP_W_ADDR, w->addr, w->addr_len);
	if (w->status != NULL)
		put_bytes(b, SNAP_W_STATUS, w->status, w->status_len);
	if (w->nintervals > 0)
		put_list(b, SNAP_W_INTERVALS, NULL, w->intervals, w->nintervals);
	if (w->has_phi)
		put_list(b, SNAP_W_PHI, &w->phi_interval, w->phi_iv, w->phi_n);
	put_numbers(b, snap_worker_numbers, NELEMS(snap_worker_numbers), w);
	record_close(b);
}

void
snapshot_add_event(struct snapshot_buf *b, const struct sv_event *ev)
{
	const char *type = events_name(ev->type);

	record_open(b, SNAP_R_EVENT);
	put_number(b, SNAP_E_TIME, ev->time_us);
	put_bytes(b, SNAP_E_TYPE, type, strlen(type));
	put_bytes(b, SNAP_E_WORKER, ev->worker, strnlen(ev->worker, sizeof(ev->worker)));
	put_bytes(b, SNAP_E_STATE, ev->state, strnlen(ev->state, sizeof(ev->state)));
	put_number(b, SNAP_E_PID, ev->pid);
	put_number(b, SNAP_E_SEQ, ev->seq);
	put_number(b, SNAP_E_MISSED, ev->missed);
	put_number(b, SNAP_E_SILENT_MS, ev->silent_ms);
	put_number(b, SNAP_E_SIG, (uint64_t)(ev->sig > 0 ? ev->sig : 0));
	if (ev->other_pid != 0)
		put_number(b, SNAP_E_OTHER_PID, ev->other_pid);
	record_close(b);
}

static void
fill_header(unsigned char *h, uint64_t body, uint32_t crc)
{
	memcpy(h, snapshot_magic, sizeof(snapshot_magic));
	put_le(h + 8, SNAPSHOT_MAJOR, 2);
	put_le(h + 10, SNAPSHOT_MINOR, 2);
	put_le(h + 12, SNAPSHOT_HEADER, 4);
	put_le(h + 16, body, 8);
	put_le(h + 24, crc, 4);
	put_le(h + 28, snapshot_crc32c(0, h, 28), 4);
}

int
snapshot_finish(struct snapshot_buf *b)
{
	if (b->failed || b->data == NULL || b->drained != 0)
		return -1;
	size_t body = b->len - SNAPSHOT_HEADER;
	fill_header(b->data, body, snapshot_crc32c(0, b->data + SNAPSHOT_HEADER, body));
	return 0;
}

void
snapshot_drain(struct snapshot_buf *b, const unsigned char **p, size_t *n)
{
	size_t header = b->drained < SNAPSHOT_HEADER ? SNAPSHOT_HEADER - (size_t)b->drained : 0;

	*p = b->data;
	*n = b->failed ? 0 : b->len;
	if (header > *n)
		header = *n;
	b->crc = snapshot_crc32c(b->crc, b->data + header, *n - header);
	b->drained += *n;
	b->len = 0;
}

int
snapshot_header(const struct snapshot_buf *b, unsigned char hdr[SNAPSHOT_HEADER])
{
	if (b->failed || b->len != 0 || b->drained < SNAPSHOT_HEADER)
		return -1;
	fill_header(hdr, b->drained - SNAPSHOT_HEADER, b->crc);
	return 0;
}

void
snapshot_buf_free(struct snapshot_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- reading */

struct reader {
	const unsigned char *p, *end;
};

static uint64_t
get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A varint; -1 if it runs past the end or beyond 64 bits. */
static int
get_varint(struct reader *r, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		unsigned char c = *r->p++;
		if (shift == 63 && c > 1)
			return -1;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* The next field: its tag and its bytes; 0 at the end, -1 if malformed. */
static int
get_field(struct reader *r, uint64_t *tag, struct reader *value)
{
	uint64_t n;

	if (r->p == r->end)
		return 0;
	if (get_varint(r, tag) == -1 || get_varint(r, &n) == -1 || n > (uint64_t)(r->end - r->p))
		return -1;
	value->p = r->p;
	value->end = r->p + n;
	r->p += n;
	return 1;
}

/* A field that is one number, exactly. */
static int
get_number(struct reader v, uint64_t *out)
{
	return get_varint(&v, out) == -1 || v.p != v.end ? -1 : 0;
}

static void
fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A number field of table t into s; 1 if tag was one of them, 0 if not, -1 if bad. */
static int
get_table_number(const struct snap_number *t, size_t n, uint64_t tag, struct reader v, void *s)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].tag != tag)
			continue;
		uint64_t x;
		if (get_number(v, &x) == -1 || x > t[i].max)
			return -1;
		*(uint64_t *)(void *)((char *)s + t[i].off) = x;
		return 1;
	}
	return 0;
}

/* Up to cap varints, each at most UINT32_MAX, after an optional first one. */
static int
get_list(struct reader v, uint64_t *first, uint32_t *out, size_t cap, size_t *n)
{
	uint64_t x;

	if (first != NULL && get_varint(&v, first) == -1)
		return -1;
	for (*n = 0; v.p < v.end; (*n)++) {
		if (*n == cap || get_varint(&v, &x) == -1 || x > UINT32_MAX)
			return -1;
		out[*n] = (uint32_t)x;
	}
	return 0;
}

static int
decode_supervisor(struct reader r, struct snapshot_head *h, char *err, size_t errlen)
{
	struct reader v;
	uint64_t tag, x;
	int rc;

	while ((rc = get_field(&r, &tag, &v)) == 1) {
		size_t n = (size_t)(v.end - v.p);
		switch (tag) {
		case SNAP_S_SOCKET:
			if (n == 0 || n >= SETTINGS_PATH_MAX || memchr(v.p, '\0', n) != NULL)
				goto bad;
			h->socket = (const char *)v.p;
			h->socket_len = n;
			break;
		case SNAP_S_BOOT_ID:
			if (n > SNAPSHOT_BOOT_ID_MAX || memchr(v.p, '\0', n) != NULL)
				goto bad;
			memcpy(h->boot_id, v.p, n);
			h->boot_id[n] = '\0';
			break;
		case SNAP_S_WRITTEN_MONO:
		case SNAP_S_WRITTEN_WALL:
		case SNAP_S_GENERATION:
			if (get_number(v, &x) == -1)
				goto bad;
			*(tag == SNAP_S_WRITTEN_MONO   ? &h->written_mono
			  : tag == SNAP_S_WRITTEN_WALL ? &h->written_wall
						       : &h->generation) = x;
			break;
		case SNAP_S_INVALID:
		case SNAP_S_EVENT_TOTAL: {
			/* Names this supervisor does not know are dropped. */
			if (get_varint(&v, &x) == -1)
				goto bad;
			uint64_t *slot = named_count_slot(h, tag, v.p, (size_t)(v.end - v.p));
			if (slot != NULL)
				*slot = x;
			break;
		}
		default:
			if ((rc = get_table_number(snap_counters, NELEMS(snap_counters), tag, v,
						   &h->counters)) == -1)
				goto bad;
			break; /* unknown: a newer minor version's */
		}
		continue;
	bad:
		fail(err, errlen, "bad supervisor field %llu", (unsigned long long)tag);
		return -1;
	}
	if (rc == -1) {
		fail(err, errlen, "malformed supervisor record");
		return -1;
	}
	if (h->socket == NULL) {
		fail(err, errlen, "no heartbeat socket named");
		return -1;
	}
	return 0;
}

static int
decode_worker(struct reader r, struct snapshot_worker *w, char *err, size_t errlen)
{
	struct reader v;
	uint64_t tag;
	int rc;

	memset(w, 0, sizeof(*w));
	while ((rc = get_field(&r, &tag, &v)) == 1) {
		size_t n = (size_t)(v.end - v.p);
		switch (tag) {
		case SNAP_W_NAME:
			if (!vigil_wire_name_valid((const char *)v.p, n))
				goto bad;
			w->name = (const char *)v.p;
			w->name_len = n;
			break;
		case SNAP_W_ADDR:
			if (n <= offsetof(struct sockaddr_un, sun_path) ||
			    n > sizeof(struct sockaddr_un))
				goto bad;
			sa_family_t family;
			memcpy(&family, v.p, sizeof(family));
			if (family != AF_UNIX)
				goto bad;
			w->addr = v.p;
			w->addr_len = n;
			break;
		case SNAP_W_STATUS:
			if (n > VIGIL_STATUS_TEXT_MAX)
				goto bad;
			w->status = (const char *)v.p;
			w->status_len = n;
			break;
		case SNAP_W_INTERVALS:
			if (get_list(v, NULL, w->intervals, REGISTRY_INTERVALS, &w->nintervals) == -1)
				goto bad;
			break;
		case SNAP_W_PHI:
			if (get_list(v, &w->phi_interval, w->phi_iv, PHI_SAMPLES, &w->phi_n) == -1)
				goto bad;
			w->has_phi = 1;
			break;
		default:
			if (get_table_number(snap_worker_numbers, NELEMS(snap_worker_numbers), tag, v,
					     w) == -1)
				goto bad;
			break;
		}
		continue;
	bad:
		fail(err, errlen, "bad field %llu of worker %.*s", (unsigned long long)tag,
		     w->name != NULL ? (int)w->name_len : 1, w->name != NULL ? w->name : "?");
		return -1;
	}
	if (rc == -1 || w->name == NULL || w->state == 0) {
		fail(err, errlen, "malformed worker record%s",
		     w->name == NULL ? " (no name)" : w->state == 0 ? " (no state)" : "");
		return -1;
	}
	return 0;
}

/* An event; 0 if its type is one this supervisor does not know (then skipped). */
static int
decode_event(struct reader r, struct sv_event *ev, char *err, size_t errlen)
{
	struct reader v;
	uint64_t tag, x;
	int rc, known = 0;

	memset(ev, 0, sizeof(*ev));
	while ((rc = get_field(&r, &tag, &v)) == 1) {
		size_t n = (size_t)(v.end - v.p);
		switch (tag) {
		case SNAP_E_TYPE:
			for (size_t t = 0; t < SV_EVENT_NTYPES; t++) {
				const char *name = events_name((enum sv_event_type)t);
				if (n == strlen(name) && memcmp(v.p, name, n) == 0) {
					ev->type = (enum sv_event_type)t;
					known = 1;
				}
			}
			break;
		case SNAP_E_WORKER:
			if (!vigil_wire_name_valid((const char *)v.p, n))
				goto bad;
			memcpy(ev->worker, v.p, n);
			break;
		case SNAP_E_STATE:
			if (n >= sizeof(ev->state) || memchr(v.p, '\0', n) != NULL)
				goto bad;
			memcpy(ev->state, v.p, n);
			break;
		case SNAP_E_TIME:
		case SNAP_E_PID:
		case SNAP_E_SEQ:
		case SNAP_E_MISSED:
		case SNAP_E_SILENT_MS:
		case SNAP_E_OTHER_PID:
			if (get_number(v, &x) == -1)
				goto bad;
			*(tag == SNAP_E_TIME	   ? &ev->time_us
			  : tag == SNAP_E_PID	   ? &ev->pid
			  : tag == SNAP_E_SEQ	   ? &ev->seq
			  : tag == SNAP_E_MISSED   ? &ev->missed
			  : tag == SNAP_E_SILENT_MS ? &ev->silent_ms
						   : &ev->other_pid) = x;
			break;
		case SNAP_E_SIG:
			if (get_number(v, &x) == -1 || x > 64)
				goto bad;
			ev->sig = (int)x;
			break;
		default:
			break;
		}
		continue;
	bad:
		fail(err, errlen, "bad field %llu of an event", (unsigned long long)tag);
		return -1;
	}
	if (rc == -1 || ev->worker[0] == '\0') {
		fail(err, errlen, "malformed event record");
		return -1;
	}
	return known;
}

/* One pass over the body's records; callbacks only with a sink. */
static long
decode_body(struct reader body, struct snapshot_head *head, const struct snapshot_sink *sink,
	    char *err, size_t errlen)
{
	struct snapshot_worker w;
	struct sv_event ev;
	long workers = 0;
	int first = 1;

	while (body.p < body.end) {
		uint64_t tag;
		if (get_varint(&body, &tag) == -1 || body.end - body.p < 4) {
			fail(err, errlen, "malformed record after %ld workers", workers);
			return -1;
		}
		uint64_t n = get_le(body.p, 4);
		body.p += 4;
		if (n > (uint64_t)(body.end - body.p)) {
			fail(err, errlen, "record runs past the end after %ld workers", workers);
			return -1;
		}
		struct reader rec = {body.p, body.p + n};
		body.p += n;
		if (first != (tag == SNAP_R_SUPERVISOR)) {
			fail(err, errlen, "the supervisor's record is not first, or not alone");
			return -1;
		}
		first = 0;
		switch (tag) {
		case SNAP_R_SUPERVISOR:
			if (decode_supervisor(rec, head, err, errlen) == -1)
				return -1;
			break;
		case SNAP_R_WORKER:
			if (decode_worker(rec, &w, err, errlen) == -1)
				return -1;
			workers++;
			if (sink != NULL && sink->worker != NULL)
				sink->worker(&w, sink->arg);
			break;
		case SNAP_R_EVENT: {
			int known = decode_event(rec, &ev, err, errlen);
			if (known == -1)
				return -1;
			if (known && sink != NULL && sink->event != NULL)
				sink->event(&ev, sink->arg);
			break;
		}
		default:
			break; /* a newer minor version's record */
		}
	}
	if (first) {
		fail(err, errlen, "no supervisor record");
		return -1;
	}
	return workers;
}

long
snapshot_decode(const void *buf, size_t len, struct snapshot_head *head,
		const struct snapshot_sink *sink, char *err, size_t errlen)
{
	const unsigned char *p = buf;

	memset(head, 0, sizeof(*head));
	if (len < SNAPSHOT_HEADER || memcmp(p, snapshot_magic, sizeof(snapshot_magic)) != 0) {
		fail(err, errlen, "not a vigil registry snapshot (%zu bytes, no VIGILSNP header)", len);
		return -1;
	}
	if (get_le(p + 28, 4) != snapshot_crc32c(0, p, 28)) {
		fail(err, errlen, "damaged header (checksum mismatch)");
		return -1;
	}
	uint64_t major = get_le(p + 8, 2), minor = get_le(p + 10, 2), hsize = get_le(p + 12, 4);
	if (major != SNAPSHOT_MAJOR) {
		fail(err, errlen, "format version %llu.%llu, this supervisor reads %d.x",
		     (unsigned long long)major, (unsigned long long)minor, SNAPSHOT_MAJOR);
		return -1;
	}
	uint64_t bsize = get_le(p + 16, 8);
	if (hsize < SNAPSHOT_HEADER || hsize > len || bsize != len - hsize) {
		fail(err, errlen, "truncated or oversized: %zu bytes, the header says %llu",
		     len, (unsigned long long)(hsize + bsize));
		return -1;
	}
	if (get_le(p + 24, 4) != snapshot_crc32c(0, p + hsize, (size_t)bsize)) {
		fail(err, errlen, "damaged (checksum mismatch)");
		return -1;
	}
	struct reader body = {p + hsize, p + len};
	long n = decode_body(body, head, NULL, err, errlen);
	if (n == -1 || sink == NULL)
		return n;
	if (sink->accept != NULL && sink->accept(head, sink->arg, err, errlen) == -1)
		return -1;
	memset(head, 0, sizeof(*head));
	return decode_body(body, head, sink, err, errlen);
}

/* ---- between a worker and its record */

int
snapshot_worker_of(const struct worker *w, struct snapshot_worker *out)
{
	const struct worker_core *c = &w->core;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < NSTATES; i++)
		if (snap_states[i].state == c->state)
			out->state = snap_states[i].code;
	if (out->state == 0 || w->removed)
		return 0;
	out->name = w->name;
	out->name_len = strlen(w->name);
	if (w->addr != NULL) {
		out->addr = (const unsigned char *)w->addr;
		out->addr_len = w->addrlen;
	}
	if (w->status != NULL) {
		out->status = w->status;
		out->status_len = strlen(w->status);
	}
	out->owner = w->owner;
	out->pid = c->pid;
	out->pid_vouched = w->pid_vouched;
	out->start_time = w->start_time;
	out->failed = c->failed;
	out->graced = c->graced;
	out->last_seq = c->last_seq;
	out->missed = c->missed;
	out->timeouts = c->timeouts;
	out->heartbeats = c->heartbeats;
	out->restarts = c->restarts;
	out->last_hb = c->last_hb;
	out->timeout = c->timeout;
	out->interval = c->interval;
	out->due = c->due;
	out->watchdog_usec = w->watchdog_usec;
	out->incidents_start = w->incidents.start;
	out->incidents_n = w->incidents.n;
	/* The ring of intervals, oldest first. */
	out->nintervals = w->nintervals;
	for (size_t i = 0; i < w->nintervals; i++)
		out->intervals[i] = w->intervals[(w->next_interval + REGISTRY_INTERVALS -
						  w->nintervals + i) % REGISTRY_INTERVALS];
	if (w->phi != NULL) {
		const struct phi_hist *h = w->phi;
		out->has_phi = 1;
		out->phi_interval = h->interval;
		out->phi_n = h->n;
		for (size_t i = 0; i < h->n; i++)
			out->phi_iv[i] = h->iv[(h->head + PHI_SAMPLES - h->n + i) % PHI_SAMPLES];
	}
	return 1;
}

int
snapshot_worker_apply(const struct snapshot_worker *sw, struct worker *w)
{
	struct worker_core *c = &w->core;

	for (size_t i = 0; i < NSTATES; i++)
		if (snap_states[i].code == sw->state)
			c->state = snap_states[i].state;
	c->failed = sw->failed != 0;
	c->graced = sw->graced != 0;
	c->pid = sw->pid;
	c->last_seq = sw->last_seq;
	c->missed = sw->missed;
	c->timeouts = sw->timeouts;
	c->heartbeats = sw->heartbeats;
	c->restarts = sw->restarts;
	c->last_hb = sw->last_hb;
	c->timeout = sw->timeout;
	c->interval = sw->interval;
	c->due = sw->due;
	w->owner = (uid_t)sw->owner;
	w->pid_vouched = sw->pid_vouched != 0;
	w->start_time = sw->start_time;
	w->watchdog_usec = sw->watchdog_usec;
	w->incidents.start = sw->incidents_start;
	w->incidents.n = sw->incidents_n;
	for (size_t i = 0; i < sw->nintervals; i++)
		registry_note_interval(w, sw->intervals[i]);
	if (w->phi != NULL && sw->has_phi) {
		phi_reset(w->phi);
		w->phi->interval = sw->phi_interval;
		for (size_t i = 0; i < sw->phi_n; i++)
			phi_record(w->phi, sw->phi_iv[i]);
	}
	if (sw->addr != NULL) {
		struct sockaddr_un sun; /* the bytes may sit anywhere: copied to be aligned */
		memcpy(&sun, sw->addr, sw->addr_len);
		if (registry_set_addr(w, &sun, (socklen_t)sw->addr_len) == -1)
			return -1;
	}
	if (sw->status != NULL && registry_set_status(w, sw->status, sw->status_len) == -1)
		return -1;
	return 0;
}
