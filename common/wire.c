/*
 * wire.c: tokenizer plus key table for vigil datagrams. See wire.h and
 * docs/PROTOCOL.md. Nothing here allocates, logs or touches a socket.
 */
#include <stdio.h>
#include <string.h>

#include "wire.h"

enum value_type { V_FLAG, V_UINT, V_NAME, V_TEXT, V_WATCHDOG };

struct key_def {
	const char *key;
	size_t keylen;
	enum vigil_field field;
	enum value_type type;
	size_t offset; /* of the uint64_t in struct vigil_msg, for V_UINT */
};

#define KEY(k, f, t, off) {k, sizeof(k) - 1, f, t, off}
#define UOFF(member) offsetof(struct vigil_msg, member)

/* Every key we understand, in encoding order. Unknown keys are ignored. */
static const struct key_def keys[] = {
    KEY("HEARTBEAT", VIGIL_F_HEARTBEAT, V_FLAG, 0),
    KEY("TIMEOUT", VIGIL_F_TIMEOUT, V_FLAG, 0),
    KEY("WORKER", VIGIL_F_WORKER, V_NAME, 0),
    KEY("SEQ", VIGIL_F_SEQ, V_UINT, UOFF(seq)),
    KEY("PID", VIGIL_F_PID, V_UINT, UOFF(pid)),
    KEY("INTERVAL_MS", VIGIL_F_INTERVAL_MS, V_UINT, UOFF(interval_ms)),
    KEY("MISSED", VIGIL_F_MISSED, V_UINT, UOFF(missed)),
    KEY("SILENT_MS", VIGIL_F_SILENT_MS, V_UINT, UOFF(silent_ms)),
    KEY("LAST_SEQ", VIGIL_F_LAST_SEQ, V_UINT, UOFF(last_seq)),
    KEY("READY", VIGIL_F_READY, V_FLAG, 0),
    KEY("STOPPING", VIGIL_F_STOPPING, V_FLAG, 0),
    KEY("WATCHDOG", VIGIL_F_WATCHDOG, V_WATCHDOG, 0),
    KEY("WATCHDOG_USEC", VIGIL_F_WATCHDOG_USEC, V_UINT, UOFF(watchdog_usec)),
    KEY("STATUS", VIGIL_F_STATUS, V_TEXT, 0),
    KEY("BARRIER", VIGIL_F_BARRIER, V_FLAG, 0),
};

static const char *const err_labels[VIGIL_WIRE_NERR] = {
    [VIGIL_WIRE_OK] = "ok",
    [VIGIL_WIRE_EMPTY] = "empty",
    [VIGIL_WIRE_OVERSIZED] = "oversized",
    [VIGIL_WIRE_NUL] = "nul_byte",
    [VIGIL_WIRE_EMPTY_LINE] = "empty_line",
    [VIGIL_WIRE_NO_EQUALS] = "no_equals",
    [VIGIL_WIRE_BAD_KEY] = "bad_key",
    [VIGIL_WIRE_BAD_VALUE] = "bad_value",
    [VIGIL_WIRE_DUPLICATE] = "duplicate_key",
    [VIGIL_WIRE_NO_WORKER] = "no_worker",
    [VIGIL_WIRE_NO_MESSAGE] = "no_message",
};

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

int
vigil_wire_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > VIGIL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (c == '.' || c == '_' || c == '@' || c == ':' || c == '-')
			continue;
		return 0;
	}
	return 1;
}

static int
key_valid(const char *k, size_t len)
{
	if (len == 0 || k[0] < 'A' || k[0] > 'Z')
		return 0;
	for (size_t i = 1; i < len; i++) {
		char c = k[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/*
 * Parse a decimal number with no sign, no spaces, no leading "+", at most
 * VIGIL_WIRE_NUM_MAX (2^63 - 1): every value then fits a JSON integer as
 * jansson and most JSON readers hold them.
 */
static int
parse_u64(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (n > (VIGIL_WIRE_NUM_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

static const struct key_def *
key_lookup(const char *k, size_t len)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].keylen == len && memcmp(keys[i].key, k, len) == 0)
			return &keys[i];
	}
	return NULL;
}

/* Store one known field; -1 if the value is not acceptable for it. */
static int
store(struct vigil_msg *m, const struct key_def *kd, const char *v, size_t vlen)
{
	switch (kd->type) {
	case V_FLAG:
		return (vlen == 1 && v[0] == '1') ? 0 : -1;
	case V_WATCHDOG:
		if (vlen == 1 && v[0] == '1')
			return 0;
		if (vlen == 7 && memcmp(v, "trigger", 7) == 0) {
			m->watchdog_trigger = 1;
			return 0;
		}
		return -1;
	case V_UINT:
		return parse_u64(v, vlen, (uint64_t *)(void *)((char *)m + kd->offset));
	case V_NAME:
		if (!vigil_wire_name_valid(v, vlen))
			return -1;
		memcpy(m->worker, v, vlen);
		m->worker[vlen] = '\0';
		return 0;
	case V_TEXT:
		m->status = v;
		m->status_len = vlen;
		return 0;
	}
	return -1;
}

int
vigil_wire_decode(const char *buf, size_t len, struct vigil_msg *m, struct vigil_wire_error *err)
{
	size_t line = 0;
	const char *p = buf, *end = buf + len;

	memset(m, 0, sizeof(*m));
	memset(err, 0, sizeof(*err));
	if (len == 0)
		return fail(err, VIGIL_WIRE_EMPTY, 0, "", 0);
	if (len > VIGIL_WIRE_MAX)
		return fail(err, VIGIL_WIRE_OVERSIZED, 0, "", 0);
	if (memchr(buf, '\0', len) != NULL)
		return fail(err, VIGIL_WIRE_NUL, 0, "", 0);

	/* A missing final newline is fine, as in sd_notify(3). */
	if (end[-1] == '\n')
		end--;
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		size_t n = (size_t)(eol - p);

		line++;
		if (n == 0)
			return fail(err, VIGIL_WIRE_EMPTY_LINE, line, "", 0);
		const char *eq = memchr(p, '=', n);
		if (eq == NULL)
			return fail(err, VIGIL_WIRE_NO_EQUALS, line, p, n);
		size_t klen = (size_t)(eq - p);
		if (!key_valid(p, klen))
			return fail(err, VIGIL_WIRE_BAD_KEY, line, p, klen);

		const struct key_def *kd = key_lookup(p, klen);
		if (kd != NULL) {
			if (m->fields & kd->field)
				return fail(err, VIGIL_WIRE_DUPLICATE, line, p, klen);
			if (store(m, kd, eq + 1, (size_t)(eol - eq - 1)) == -1)
				return fail(err, VIGIL_WIRE_BAD_VALUE, line, p, klen);
			m->fields |= kd->field;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
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
	return VIGIL_MSG_NONE;
}

int
vigil_wire_encode(const struct vigil_msg *m, char *buf, size_t cap)
{
	size_t off = 0;

	/* snprintf needs room for a NUL after the last byte of a 4096-byte message. */
	if (cap > VIGIL_WIRE_MAX + 1)
		cap = VIGIL_WIRE_MAX + 1;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key_def *kd = &keys[i];
		int n = 0;

		if (!(m->fields & kd->field))
			continue;
		switch (kd->type) {
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
	case VIGIL_WIRE_EMPTY_LINE:
		snprintf(buf, cap, "empty line %zu", err->line);
		break;
	case VIGIL_WIRE_NO_EQUALS:
		snprintf(buf, cap, "line %zu has no '='", err->line);
		break;
	case VIGIL_WIRE_BAD_KEY:
		snprintf(buf, cap, "invalid key on line %zu", err->line);
		break;
	case VIGIL_WIRE_BAD_VALUE:
		snprintf(buf, cap, "bad value for %s on line %zu", err->key, err->line);
		break;
	case VIGIL_WIRE_DUPLICATE:
		snprintf(buf, cap, "duplicate key %s on line %zu", err->key, err->line);
		break;
	case VIGIL_WIRE_NO_WORKER:
		snprintf(buf, cap, "no WORKER= in message");
		break;
	case VIGIL_WIRE_NO_MESSAGE:
		snprintf(buf, cap, "no HEARTBEAT=1, WATCHDOG=1, READY=1 or STOPPING=1");
		break;
	default:
		snprintf(buf, cap, "ok");
		break;
	}
}
