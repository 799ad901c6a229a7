/*
 * wire.c: tokenizer plus key table for vigil datagrams. See wire.h and
 * docs/PROTOCOL.md. Nothing here allocates, logs or touches a socket.
 */
#include <stdio.h>
#include <string.h>

#include "wire.h"

/*
 * V_NUMBER and V_ANY are the sd_notify keys vigil accepts without acting on
 * them: a number is still checked (MAINPID=abc is an error), text is not.
 */
enum value_type { V_FLAG, V_UINT, V_NAME, V_TEXT, V_WATCHDOG, V_NUMBER, V_ANY, V_ZERO };

struct key_def {
	const char *key;
	size_t keylen;
	enum vigil_field field;
	enum value_type type;
	size_t offset; /* of the uint64_t in struct vigil_msg, for V_UINT */
};

#define KEY(k, f, t, off) {k, sizeof(k) - 1, f, t, off}
#define UOFF(member) offsetof(struct vigil_msg, member)

/* Where each key is in keys[], for key_lookup. */
enum key_index {
	K_HEARTBEAT, K_TIMEOUT, K_WORKER, K_SEQ, K_PID, K_INTERVAL_MS, K_MISSED, K_SILENT_MS,
	K_LAST_SEQ, K_READY, K_STOPPING, K_WATCHDOG, K_WATCHDOG_USEC, K_STATUS, K_BARRIER,
	/* sd_notify(3)'s other keys: accepted, never encoded */
	K_MAINPID, K_ERRNO, K_BUSERROR, K_EXTEND_TIMEOUT_USEC, K_RELOADING, K_MONOTONIC_USEC,
	K_FDSTORE, K_FDSTOREREMOVE, K_FDNAME, K_FDPOLL, K_NOTIFYACCESS, K_EXIT_STATUS, K_N
};

/* Every key we understand, in encoding order. Unknown keys are ignored. */
static const struct key_def keys[K_N] = {
    [K_HEARTBEAT] = KEY("HEARTBEAT", VIGIL_F_HEARTBEAT, V_FLAG, 0),
    [K_TIMEOUT] = KEY("TIMEOUT", VIGIL_F_TIMEOUT, V_FLAG, 0),
    [K_WORKER] = KEY("WORKER", VIGIL_F_WORKER, V_NAME, 0),
    [K_SEQ] = KEY("SEQ", VIGIL_F_SEQ, V_UINT, UOFF(seq)),
    [K_PID] = KEY("PID", VIGIL_F_PID, V_UINT, UOFF(pid)),
    [K_INTERVAL_MS] = KEY("INTERVAL_MS", VIGIL_F_INTERVAL_MS, V_UINT, UOFF(interval_ms)),
    [K_MISSED] = KEY("MISSED", VIGIL_F_MISSED, V_UINT, UOFF(missed)),
    [K_SILENT_MS] = KEY("SILENT_MS", VIGIL_F_SILENT_MS, V_UINT, UOFF(silent_ms)),
    [K_LAST_SEQ] = KEY("LAST_SEQ", VIGIL_F_LAST_SEQ, V_UINT, UOFF(last_seq)),
    [K_READY] = KEY("READY", VIGIL_F_READY, V_FLAG, 0),
    [K_STOPPING] = KEY("STOPPING", VIGIL_F_STOPPING, V_FLAG, 0),
    [K_WATCHDOG] = KEY("WATCHDOG", VIGIL_F_WATCHDOG, V_WATCHDOG, 0),
    [K_WATCHDOG_USEC] = KEY("WATCHDOG_USEC", VIGIL_F_WATCHDOG_USEC, V_UINT, UOFF(watchdog_usec)),
    [K_STATUS] = KEY("STATUS", VIGIL_F_STATUS, V_TEXT, 0),
    [K_BARRIER] = KEY("BARRIER", VIGIL_F_BARRIER, V_FLAG, 0),
    [K_MAINPID] = KEY("MAINPID", VIGIL_F_MAINPID, V_NUMBER, 0),
    [K_ERRNO] = KEY("ERRNO", VIGIL_F_ERRNO, V_NUMBER, 0),
    [K_BUSERROR] = KEY("BUSERROR", VIGIL_F_BUSERROR, V_ANY, 0),
    [K_EXTEND_TIMEOUT_USEC] = KEY("EXTEND_TIMEOUT_USEC", VIGIL_F_EXTEND_TIMEOUT_USEC, V_NUMBER, 0),
    [K_RELOADING] = KEY("RELOADING", VIGIL_F_RELOADING, V_FLAG, 0),
    [K_MONOTONIC_USEC] = KEY("MONOTONIC_USEC", VIGIL_F_MONOTONIC_USEC, V_NUMBER, 0),
    [K_FDSTORE] = KEY("FDSTORE", VIGIL_F_FDSTORE, V_FLAG, 0),
    [K_FDSTOREREMOVE] = KEY("FDSTOREREMOVE", VIGIL_F_FDSTOREREMOVE, V_FLAG, 0),
    [K_FDNAME] = KEY("FDNAME", VIGIL_F_FDNAME, V_ANY, 0),
    [K_FDPOLL] = KEY("FDPOLL", VIGIL_F_FDPOLL, V_ZERO, 0),
    [K_NOTIFYACCESS] = KEY("NOTIFYACCESS", VIGIL_F_NOTIFYACCESS, V_ANY, 0),
    [K_EXIT_STATUS] = KEY("EXIT_STATUS", VIGIL_F_EXIT_STATUS, V_ANY, 0),
};

/* Character classes, one table lookup a byte: a key's, a worker name's, a digit. */
#define C_KEY 1   /* [A-Z0-9_]: a key after its first character */
#define C_NAME 2  /* [A-Za-z0-9._@:-] */
#define C_DIGIT 4 /* [0-9] */
#define C_UPPER (C_KEY | C_NAME)
#define C_LOWER C_NAME
#define C_NUM (C_KEY | C_NAME | C_DIGIT)
static const unsigned char cclass[256] = {
    ['0'] = C_NUM, ['1'] = C_NUM, ['2'] = C_NUM, ['3'] = C_NUM, ['4'] = C_NUM,
    ['5'] = C_NUM, ['6'] = C_NUM, ['7'] = C_NUM, ['8'] = C_NUM, ['9'] = C_NUM,
    ['A'] = C_UPPER, ['B'] = C_UPPER, ['C'] = C_UPPER, ['D'] = C_UPPER, ['E'] = C_UPPER,
    ['F'] = C_UPPER, ['G'] = C_UPPER, ['H'] = C_UPPER, ['I'] = C_UPPER, ['J'] = C_UPPER,
    ['K'] = C_UPPER, ['L'] = C_UPPER, ['M'] = C_UPPER, ['N'] = C_UPPER, ['O'] = C_UPPER,
    ['P'] = C_UPPER, ['Q'] = C_UPPER, ['R'] = C_UPPER, ['S'] = C_UPPER, ['T'] = C_UPPER,
    ['U'] = C_UPPER, ['V'] = C_UPPER, ['W'] = C_UPPER, ['X'] = C_UPPER, ['Y'] = C_UPPER,
    ['Z'] = C_UPPER,
    ['a'] = C_LOWER, ['b'] = C_LOWER, ['c'] = C_LOWER, ['d'] = C_LOWER, ['e'] = C_LOWER,
    ['f'] = C_LOWER, ['g'] = C_LOWER, ['h'] = C_LOWER, ['i'] = C_LOWER, ['j'] = C_LOWER,
    ['k'] = C_LOWER, ['l'] = C_LOWER, ['m'] = C_LOWER, ['n'] = C_LOWER, ['o'] = C_LOWER,
    ['p'] = C_LOWER, ['q'] = C_LOWER, ['r'] = C_LOWER, ['s'] = C_LOWER, ['t'] = C_LOWER,
    ['u'] = C_LOWER, ['v'] = C_LOWER, ['w'] = C_LOWER, ['x'] = C_LOWER, ['y'] = C_LOWER,
    ['z'] = C_LOWER,
    ['_'] = C_KEY | C_NAME, ['.'] = C_NAME, ['@'] = C_NAME, [':'] = C_NAME, ['-'] = C_NAME,
};

static const char *const err_labels[VIGIL_WIRE_NERR] = {
    [VIGIL_WIRE_OK] = "ok",
    [VIGIL_WIRE_EMPTY] = "empty",
    [VIGIL_WIRE_OVERSIZED] = "oversized",
    [VIGIL_WIRE_NUL] = "nul_byte",
    [VIGIL_WIRE_BAD_VALUE] = "bad_value",
    [VIGIL_WIRE_NO_WORKER] = "no_worker",
    [VIGIL_WIRE_NO_CGROUP] = "no_cgroup",
    [VIGIL_WIRE_NO_MESSAGE] = "no_message",
};

static const char *const skip_names[] = {
    [VIGIL_SKIP_NONE] = "not ignored",
    [VIGIL_SKIP_EMPTY_LINE] = "an empty line",
    [VIGIL_SKIP_NO_EQUALS] = "no '='",
    [VIGIL_SKIP_BAD_KEY] = "not a key of [A-Z][A-Z0-9_]*",
    [VIGIL_SKIP_DUPLICATE] = "a key given again (the first one counts)",
    [VIGIL_SKIP_UNKNOWN_KEY] = "an unknown key",
};

const char *
vigil_wire_skip_name(enum vigil_wire_skip why)
{
	if ((unsigned)why >= sizeof(skip_names) / sizeof(skip_names[0]))
		return "unknown";
	return skip_names[why];
}

const char *
vigil_wire_strerror(enum vigil_wire_err code)
{
	if ((unsigned)code >= VIGIL_WIRE_NERR)
		return "unknown";
	return err_labels[code];
}

static int
fail(struct vigil_wire_error *err, enum vigil_wire_err code, size_t line, const char *key,
     size_t keylen)
{
	err->code = code;
	err->line = line;
	if (keylen > VIGIL_NAME_MAX)
		keylen = VIGIL_NAME_MAX;
	memcpy(err->key, key, keylen);
	err->key[keylen] = '\0';
	return -1;
}

/* Whether c is of class cl (C_KEY, C_NAME, C_DIGIT). */
static int
char_is(char c, unsigned char cl)
{
	return (cclass[(unsigned char)c] & cl) != 0;
}

size_t
vigil_wire_utf8_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len;
	unsigned min;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	unsigned cp = p[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
vigil_wire_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > VIGIL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!char_is(name[i], C_NAME))
			return 0;
	}
	return 1;
}

/* Where the value at v (up to end) ends: its line's newline, or end. */
static const char *
value_end(const char *v, const char *end)
{
	if (v >= end)
		return end;
	const char *nl = memchr(v, '\n', (size_t)(end - v));

	return nl != NULL ? nl : end;
}

/* Whether a value ends at q: its line's newline, or the end of the datagram. */
static int
ends_at(const char *q, const char *end)
{
	return q == end || *q == '\n';
}

/*
 * The key k (len bytes, a valid key) names, or NULL. No two keys share their
 * length and first letter: those pick the one candidate, compared in full.
 */
static const struct key_def *
key_lookup(const char *k, size_t len)
{
	enum key_index i;

	switch (len) {
	case 3:
		i = k[0] == 'S' ? K_SEQ : K_PID;
		break;
	case 5:
		i = k[0] == 'R' ? K_READY : K_ERRNO;
		break;
	case 6:
		i = k[0] == 'W'	  ? K_WORKER
		    : k[0] == 'M' ? K_MISSED
		    : k[0] == 'S' ? K_STATUS
		    : k[2] == 'N' ? K_FDNAME
				  : K_FDPOLL;
		break;
	case 7:
		i = k[0] == 'T' ? K_TIMEOUT : k[0] == 'B' ? K_BARRIER : k[0] == 'M' ? K_MAINPID : K_FDSTORE;
		break;
	case 8:
		i = k[0] == 'L'	  ? K_LAST_SEQ
		    : k[0] == 'S' ? K_STOPPING
		    : k[0] == 'W' ? K_WATCHDOG
				  : K_BUSERROR;
		break;
	case 9:
		i = k[0] == 'H' ? K_HEARTBEAT : k[0] == 'S' ? K_SILENT_MS : K_RELOADING;
		break;
	case 11:
		i = k[0] == 'I' ? K_INTERVAL_MS : K_EXIT_STATUS;
		break;
	case 12:
		i = K_NOTIFYACCESS;
		break;
	case 13:
		i = k[0] == 'W' ? K_WATCHDOG_USEC : K_FDSTOREREMOVE;
		break;
	case 14:
		i = K_MONOTONIC_USEC;
		break;
	case 19:
		i = K_EXTEND_TIMEOUT_USEC;
		break;
	default:
		return NULL;
	}
	return memcmp(keys[i].key, k, len) == 0 ? &keys[i] : NULL;
}

/*
 * Store one known field from the value at v, checking it as it is read
 * (one pass, no search for the line's end first); returns where the value
 * ends (its newline, or end), or NULL if it is not acceptable for the key.
 * Numbers have no sign, no spaces, no leading "+", and are at most
 * VIGIL_WIRE_NUM_MAX (2^63 - 1): every value then fits a JSON integer as
 * jansson and most JSON readers hold them.
 */
static const char *
store(struct vigil_msg *m, const struct key_def *kd, const char *v, const char *end)
{
	const char *q = v;

	switch (kd->type) {
	case V_FLAG:
		return q < end && *q == '1' && ends_at(q + 1, end) ? q + 1 : NULL;
	case V_WATCHDOG:
		if (q < end && *q == '1' && ends_at(q + 1, end))
			return q + 1;
		if (end - q >= 7 && memcmp(q, "trigger", 7) == 0 && ends_at(q + 7, end)) {
			m->watchdog_trigger = 1;
			return q + 7;
		}
		return NULL;
	case V_ZERO:
		return q < end && *q == '0' && ends_at(q + 1, end) ? q + 1 : NULL;
	case V_ANY:
		return value_end(v, end);
	case V_NUMBER:
	case V_UINT: {
		uint64_t n = 0;
		for (; q < end && char_is(*q, C_DIGIT); q++) {
			unsigned d = (unsigned)(*q - '0');
			if (n > (VIGIL_WIRE_NUM_MAX - d) / 10)
				return NULL;
			n = n * 10 + d;
		}
		if (q == v || !ends_at(q, end))
			return NULL;
		if (kd->type == V_UINT)
			memcpy((char *)m + kd->offset, &n, sizeof(n));
		return q;
	}
	case V_NAME:
		while (q < end && q - v <= VIGIL_NAME_MAX && char_is(*q, C_NAME))
			q++;
		if (q == v || q - v > VIGIL_NAME_MAX || !ends_at(q, end))
			return NULL;
		memcpy(m->worker, v, (size_t)(q - v));
		m->worker[q - v] = '\0';
		m->worker_len = (uint8_t)(q - v);
		return q;
	case V_TEXT:
		q = value_end(v, end);
		m->status = v;
		m->status_len = (size_t)(q - v);
		return q;
	}
	return NULL;
}

/* Why the line from p to eol, not KEY=VALUE with a valid key, is ignored. */
static enum vigil_wire_skip
line_skip(const char *p, const char *eol)
{
	if (p == eol)
		return VIGIL_SKIP_EMPTY_LINE;
	if (memchr(p, '=', (size_t)(eol - p)) == NULL)
		return VIGIL_SKIP_NO_EQUALS;
	return VIGIL_SKIP_BAD_KEY;
}

/* Count an ignored line; the first one is kept for a log line. */
static void
skip(struct vigil_msg *m, enum vigil_wire_skip why, size_t line)
{
	if (m->ignored == 0) {
		m->ignored_line = (uint16_t)line; /* a 4096-byte datagram has at most 4097 lines */
		m->ignored_why = (uint8_t)why;
	}
	m->ignored++;
}

int
vigil_wire_decode(const char *buf, size_t len, struct vigil_msg *m, struct vigil_wire_error *err)
{
	size_t line = 0;
	const char *p = buf, *end = buf + len;

	/*
	 * Member by member, not memset: for this size the compiler emits a
	 * "rep stos" whose start-up cost was a fifth of a heartbeat's decode.
	 * worker is a string: its first byte empties it.
	 */
	m->fields = 0;
	m->worker[0] = '\0';
	m->worker_len = 0;
	m->seq = m->pid = m->interval_ms = m->watchdog_usec = 0;
	m->missed = m->silent_ms = m->last_seq = 0;
	m->status = NULL;
	m->status_len = 0;
	m->watchdog_trigger = 0;
	m->ignored = m->ignored_line = 0;
	m->ignored_why = VIGIL_SKIP_NONE;
	err->code = VIGIL_WIRE_OK;
	err->line = 0;
	err->key[0] = '\0';
	if (len == 0)
		return fail(err, VIGIL_WIRE_EMPTY, 0, "", 0);
	if (len > VIGIL_WIRE_MAX)
		return fail(err, VIGIL_WIRE_OVERSIZED, 0, "", 0);
	if (memchr(buf, '\0', len) != NULL)
		return fail(err, VIGIL_WIRE_NUL, 0, "", 0);

	/* A missing final newline is fine, as in sd_notify(3). */
	if (end[-1] == '\n')
		end--;
	/*
	 * As systemd reads sd_notify messages: a line that is not KEY=VALUE, an
	 * unknown key or a known key given again is ignored (and counted), never
	 * the datagram; only a known key with a bad value rejects it.
	 */
	for (;;) {
		const char *k = p, *eol;

		line++;
		/* The key, [A-Z][A-Z0-9_]* up to the first '=', checked as it is scanned. */
		while (p < end && char_is(*p, C_KEY))
			p++;
		if (p == end || *p != '=' || p == k || *k < 'A' || *k > 'Z') {
			eol = value_end(k, end);
			skip(m, line_skip(k, eol), line);
		} else {
			size_t klen = (size_t)(p - k);
			const struct key_def *kd = key_lookup(k, klen);
			if (kd == NULL) {
				eol = value_end(p + 1, end);
				/* X_*: sd_notify's keys for the program's own use, not ours to count. */
				if (klen > 2 && k[0] == 'X' && k[1] == '_')
					m->fields |= VIGIL_F_X;
				else
					skip(m, VIGIL_SKIP_UNKNOWN_KEY, line);
			} else if (m->fields & kd->field) {
				eol = value_end(p + 1, end);
				skip(m, VIGIL_SKIP_DUPLICATE, line);
			} else if ((eol = store(m, kd, p + 1, end)) == NULL) {
				return fail(err, VIGIL_WIRE_BAD_VALUE, line, k, klen);
			} else {
				m->fields |= kd->field;
			}
		}
		if (eol == end)
			break;
		p = eol + 1;
	}
	return 0;
}

enum vigil_msg_kind
vigil_wire_kind(const struct vigil_msg *m)
{
	if (m->fields & VIGIL_F_STOPPING)
		return VIGIL_MSG_STOPPING;
	/* WATCHDOG=trigger asks to be failed now: it never counts as a heartbeat. */
	if ((m->fields & VIGIL_F_WATCHDOG) && m->watchdog_trigger)
		return VIGIL_MSG_TRIGGER;
	if (m->fields & (VIGIL_F_HEARTBEAT | VIGIL_F_READY | VIGIL_F_WATCHDOG))
		return VIGIL_MSG_HEARTBEAT;
	if (m->fields & VIGIL_F_TIMEOUT)
		return VIGIL_MSG_TIMEOUT;
	if (m->fields & (VIGIL_F_STATUS | VIGIL_F_WATCHDOG_USEC | VIGIL_F_BARRIER))
		return VIGIL_MSG_UPDATE;
	if (m->fields & VIGIL_F_SD_QUIET)
		return VIGIL_MSG_QUIET;
	return VIGIL_MSG_NONE;
}

int
vigil_wire_encode(const struct vigil_msg *m, char *buf, size_t cap)
{
	size_t off = 0;

	/* snprintf needs room for a NUL after the last byte of a 4096-byte message. */
	if (cap > VIGIL_WIRE_MAX + 1)
		cap = VIGIL_WIRE_MAX + 1;
	for (size_t i = 0; i < K_N; i++) {
		const struct key_def *kd = &keys[i];
		int n = 0;

		/* sd_notify's keys that vigil does not act on: read, never written. */
		if (!(m->fields & kd->field) || (kd->field & VIGIL_F_SD_QUIET))
			continue;
		switch (kd->type) {
		case V_NUMBER:
		case V_ANY:
		case V_ZERO:
			continue;
		case V_FLAG:
			n = snprintf(buf + off, cap - off, "%s=1\n", kd->key);
			break;
		case V_WATCHDOG:
			n = snprintf(buf + off, cap - off, "%s=%s\n", kd->key,
				     m->watchdog_trigger ? "trigger" : "1");
			break;
		case V_UINT:
			n = snprintf(buf + off, cap - off, "%s=%llu\n", kd->key,
				     (unsigned long long)*(const uint64_t *)(const void *)((const char *)m + kd->offset));
			break;
		case V_NAME:
			if (!vigil_wire_name_valid(m->worker, strlen(m->worker)))
				return -1;
			n = snprintf(buf + off, cap - off, "%s=%s\n", kd->key, m->worker);
			break;
		case V_TEXT:
			if (memchr(m->status, '\n', m->status_len) != NULL ||
			    memchr(m->status, '\0', m->status_len) != NULL)
				return -1;
			n = snprintf(buf + off, cap - off, "%s=%.*s\n", kd->key,
				     (int)m->status_len, m->status);
			break;
		}
		if (n < 0 || (size_t)n >= cap - off)
			return -1;
		off += (size_t)n;
	}
	return (int)off;
}

void
vigil_wire_describe(const struct vigil_wire_error *err, char *buf, size_t cap)
{
	switch (err->code) {
	case VIGIL_WIRE_EMPTY:
		snprintf(buf, cap, "empty datagram");
		break;
	case VIGIL_WIRE_OVERSIZED:
		snprintf(buf, cap, "datagram larger than %d bytes", VIGIL_WIRE_MAX);
		break;
	case VIGIL_WIRE_NUL:
		snprintf(buf, cap, "NUL byte in datagram");
		break;
	case VIGIL_WIRE_BAD_VALUE:
		snprintf(buf, cap, "bad value for %s on line %zu", err->key, err->line);
		break;
	case VIGIL_WIRE_NO_WORKER:
		snprintf(buf, cap, "no WORKER= in message");
		break;
	case VIGIL_WIRE_NO_CGROUP:
		snprintf(buf, cap, "no WORKER=, and the sender's /proc/PID/cgroup cannot be read");
		break;
	case VIGIL_WIRE_NO_MESSAGE:
		snprintf(buf, cap, "no HEARTBEAT=1, WATCHDOG=1, READY=1 or STOPPING=1");
		break;
	default:
		snprintf(buf, cap, "ok");
		break;
	}
}
