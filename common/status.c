/*
 * status.c: the status field table and its two renderings. See status.h.
 */
#include <stdio.h>
#include <string.h>

#include "status.h"

#define F(key, header, type, member)                                                               \
	{key, header, type, offsetof(struct vigil_status_row, member),                            \
	 sizeof(((struct vigil_status_row *)0)->member)}

const struct vigil_status_field vigil_status_fields[] = {
    F("name", "NAME", VIGIL_STATUS_STR, name),
    F("state", "STATE", VIGIL_STATUS_STR, state),
    F("pid", "PID", VIGIL_STATUS_UINT, pid),
    F("last_seq", "LAST_SEQ", VIGIL_STATUS_UINT, last_seq),
    F("missed", "MISSED", VIGIL_STATUS_UINT, missed),
    F("timeouts", "TIMEOUTS", VIGIL_STATUS_UINT, timeouts),
    F("heartbeats", "HEARTBEATS", VIGIL_STATUS_UINT, heartbeats),
    F("restarts", "RESTARTS", VIGIL_STATUS_UINT, restarts),
    F("silent_s", "SILENT", VIGIL_STATUS_SECONDS, silent_s),
    F("timeout_ms", NULL, VIGIL_STATUS_UINT, timeout_ms),
    F("interval_ms", NULL, VIGIL_STATUS_UINT, interval_ms),
    F("uid", NULL, VIGIL_STATUS_UINT, uid),
    F("conflict_pid", NULL, VIGIL_STATUS_UINT, conflict_pid),
    F("status", "STATUS", VIGIL_STATUS_STR, status),
};
const size_t vigil_status_nfields = sizeof(vigil_status_fields) / sizeof(vigil_status_fields[0]);

#define MEMBER(row, f, type) ((type *)(void *)((char *)(row) + (f)->offset))

/* A JSON string of s; bytes that would make it invalid UTF-8 become '?'. */
static json_t *
status_string(const char *s, size_t size)
{
	json_t *v = json_string(s);
	char copy[VIGIL_STATUS_TEXT_MAX + 1];

	if (v != NULL)
		return v;
	snprintf(copy, sizeof(copy) < size ? sizeof(copy) : size, "%s", s);
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	return json_string(copy);
}

/* Where the text of a row is written, and whether it still fits. */
struct status_out {
	char *p, *end;
};

static void
status_put(struct status_out *o, const char *s, size_t n)
{
	if (o->p == NULL || (size_t)(o->end - o->p) < n) {
		o->p = NULL;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

/* Whether s (NUL-terminated) is valid UTF-8, as jansson checks it. */
static int
status_utf8_valid(const unsigned char *s)
{
	while (*s != '\0') {
		unsigned c = *s;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		s += n + 1;
	}
	return 1;
}

/* A JSON string as jansson writes it; invalid UTF-8 has its bytes >= 0x80 as '?' (status_string). */
static void
status_put_string(struct status_out *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001F */
	int valid = status_utf8_valid((const unsigned char *)s);

	status_put(o, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		char esc[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
		switch (*p) {
		case '"':
			status_put(o, "\\\"", 2);
			break;
		case '\\':
			status_put(o, "\\\\", 2);
			break;
		case '\b':
			status_put(o, "\\b", 2);
			break;
		case '\f':
			status_put(o, "\\f", 2);
			break;
		case '\n':
			status_put(o, "\\n", 2);
			break;
		case '\r':
			status_put(o, "\\r", 2);
			break;
		case '\t':
			status_put(o, "\\t", 2);
			break;
		default:
			if (*p < 0x20)
				status_put(o, esc, 6);
			else if (*p >= 0x80 && !valid)
				status_put(o, "?", 1);
			else
				status_put(o, (const char *)p, 1);
		}
	}
	status_put(o, "\"", 1);
}

/* A real as jansson writes it with JSON_REAL_PRECISION(6) (its jsonp_dtostr). */
static void
status_put_real(struct status_out *o, double v)
{
	char b[64];
	int len = snprintf(b, sizeof(b), "%.6g", v);

	if (len < 0 || (size_t)len >= sizeof(b) - 3) {
		o->p = NULL;
		return;
	}
	if (strchr(b, '.') == NULL && strchr(b, 'e') == NULL) {
		memcpy(b + len, ".0", 3);
		len += 2;
	}
	char *start = strchr(b, 'e');
	if (start != NULL) {
		/* No '+' in a positive exponent, no leading zeros in any. */
		start++;
		char *end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, (size_t)len - (size_t)(end - b) + 1);
			len -= (int)(end - start);
		}
	}
	status_put(o, b, (size_t)len);
}

int
vigil_status_row_write(const struct vigil_status_row *row, char *buf, size_t cap)
{
	struct status_out o = {buf, buf + cap};
	char num[32];

	status_put(&o, "{", 1);
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		if (i > 0)
			status_put(&o, ",", 1);
		status_put_string(&o, f->key);
		status_put(&o, ":", 1);
		switch (f->type) {
		case VIGIL_STATUS_STR:
			status_put_string(&o, MEMBER(row, f, const char));
			break;
		case VIGIL_STATUS_UINT: {
			uint64_t u = *MEMBER(row, f, const uint64_t);
			int n = snprintf(num, sizeof(num), "%llu",
					 (unsigned long long)(u > VIGIL_WIRE_NUM_MAX ? VIGIL_WIRE_NUM_MAX : u));
			status_put(&o, num, (size_t)n);
			break;
		}
		case VIGIL_STATUS_SECONDS:
			status_put_real(&o, *MEMBER(row, f, const double));
			break;
		}
	}
	status_put(&o, "}", 1);
	return o.p == NULL ? -1 : (int)(o.p - buf);
}

json_t *
vigil_status_row_to_json(const struct vigil_status_row *row)
{
	json_t *obj = json_object();

	if (obj == NULL)
		return NULL;
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		json_t *v = NULL;

		switch (f->type) {
		case VIGIL_STATUS_STR:
			v = status_string(MEMBER(row, f, const char), f->size);
			break;
		case VIGIL_STATUS_UINT: {
			/* JSON integers stop at 2^63 - 1 in jansson (and most readers). */
			uint64_t u = *MEMBER(row, f, const uint64_t);
			v = json_integer(u > VIGIL_WIRE_NUM_MAX ? (json_int_t)VIGIL_WIRE_NUM_MAX
								: (json_int_t)u);
			break;
		}
		case VIGIL_STATUS_SECONDS:
			v = json_real(*MEMBER(row, f, const double));
			break;
		}
		if (v == NULL || json_object_set_new(obj, f->key, v) == -1) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

int
vigil_status_row_from_json(const json_t *obj, struct vigil_status_row *row, char *err,
			   size_t errlen)
{
	memset(row, 0, sizeof(*row));
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "worker entry is not a JSON object");
		return -1;
	}
	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		json_t *v = json_object_get(obj, f->key);

		if (v == NULL) {
			snprintf(err, errlen, "worker entry has no \"%s\"", f->key);
			return -1;
		}
		switch (f->type) {
		case VIGIL_STATUS_STR:
			if (!json_is_string(v))
				goto mistyped;
			snprintf(MEMBER(row, f, char), f->size, "%s", json_string_value(v));
			break;
		case VIGIL_STATUS_UINT:
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				goto mistyped;
			*MEMBER(row, f, uint64_t) = (uint64_t)json_integer_value(v);
			break;
		case VIGIL_STATUS_SECONDS:
			if (!json_is_number(v))
				goto mistyped;
			*MEMBER(row, f, double) = json_number_value(v);
			break;
		}
		continue;
	mistyped:
		snprintf(err, errlen, "worker entry has a mistyped \"%s\"", f->key);
		return -1;
	}
	return 0;
}

static const char *
state_colour(const char *state)
{
	if (strcmp(state, "alive") == 0)
		return "\033[32m";
	if (strcmp(state, "late") == 0 || strcmp(state, "missing") == 0)
		return "\033[33m";
	if (strcmp(state, "expected") == 0)
		return "\033[2m";
	if (strcmp(state, "failed") == 0)
		return "\033[1;31m"; /* bold: it is no longer escalated */
	if (strcmp(state, "dead") == 0 || strcmp(state, "exited") == 0)
		return "\033[31m";
	return "\033[2m";
}

/* Render one cell of row for field f into buf. */
static void
cell(const struct vigil_status_row *row, const struct vigil_status_field *f, char *buf, size_t cap)
{
	switch (f->type) {
	case VIGIL_STATUS_STR:
		/* Peer text never reaches the terminal raw: no escapes, no control bytes. */
		snprintf(buf, cap, "%s", MEMBER(row, f, const char));
		for (char *p = buf; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
				*p = '?';
		break;
	case VIGIL_STATUS_UINT:
		if (strcmp(f->key, "pid") == 0 && *MEMBER(row, f, const uint64_t) == 0)
			snprintf(buf, cap, "-");
		else
			snprintf(buf, cap, "%llu",
				 (unsigned long long)*MEMBER(row, f, const uint64_t));
		break;
	case VIGIL_STATUS_SECONDS:
		snprintf(buf, cap, "%.1fs", *MEMBER(row, f, const double));
		break;
	}
}

void
vigil_status_print_table(FILE *fp, const struct vigil_status_row *rows, size_t n, int colour)
{
	size_t width[sizeof(vigil_status_fields) / sizeof(vigil_status_fields[0])];
	char buf[VIGIL_STATUS_TEXT_MAX + 32];

	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		width[i] = f->header ? strlen(f->header) : 0;
		for (size_t r = 0; f->header && r < n; r++) {
			cell(&rows[r], f, buf, sizeof(buf));
			if (strlen(buf) > width[i])
				width[i] = strlen(buf);
		}
	}
	for (size_t r = 0; r <= n; r++) {
		int first = 1;
		for (size_t i = 0; i < vigil_status_nfields; i++) {
			const struct vigil_status_field *f = &vigil_status_fields[i];
			int last = (i + 1 == vigil_status_nfields);

			if (f->header == NULL)
				continue;
			if (r == 0)
				snprintf(buf, sizeof(buf), "%s", f->header);
			else
				cell(&rows[r - 1], f, buf, sizeof(buf));
			int paint = colour && r > 0 && strcmp(f->key, "state") == 0;
			fprintf(fp, "%s%s%-*s%s", first ? "" : "  ", paint ? state_colour(buf) : "",
				last ? 0 : (int)width[i], buf, paint ? "\033[0m" : "");
			first = 0;
		}
		fputc('\n', fp);
	}
}

void
vigil_status_print_fields(FILE *fp, const struct vigil_status_row *row, int colour)
{
	char buf[VIGIL_STATUS_TEXT_MAX + 32];

	for (size_t i = 0; i < vigil_status_nfields; i++) {
		const struct vigil_status_field *f = &vigil_status_fields[i];
		int paint = colour && strcmp(f->key, "state") == 0;

		cell(row, f, buf, sizeof(buf));
		fprintf(fp, "%-12s %s%s%s\n", f->key, paint ? state_colour(buf) : "", buf,
			paint ? "\033[0m" : "");
	}
}
