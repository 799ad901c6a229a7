/*
 * test_wire.c: the datagram codec (common/wire.c, docs/PROTOCOL.md): every
 * field, the accept and reject tables, the 4096-byte boundary, error labels
 * and descriptions, message kinds, and encoding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "wire.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Criterion runs each test in a fresh process and copies the parameter
 * array into it, so parameters hold their strings inline: a pointer to a
 * string literal would not survive the copy.
 */
#define CASE_MAX 96

/* Names built from every character a worker name may hold: 64 is the longest valid one. */
#define NAME16 "abcXYZ019._@:-_a"
#define NAME64 NAME16 NAME16 NAME16 NAME16
#define NAME65 NAME64 "b"

/* Where the decoder writes; poisoned before every test so stale bytes cannot pass for output. */
static struct vigil_msg msg;
static struct vigil_wire_error werr;

/* Fill the decoder's outputs with garbage: decode must initialise everything itself. */
static void
poison(void)
{
	memset(&msg, 0xa5, sizeof(msg));
	memset(&werr, 0xa5, sizeof(werr));
}

/* Render len bytes of a datagram for an assert message: "\n", "\0" and the like made visible. */
static const char *
show(const char *in, size_t len)
{
	static char out[2][240];
	static int which;
	char *o = out[which ^= 1];
	size_t i, j = 0;

	for (i = 0; i < len && j + 5 < 200; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '\n')
			j += (size_t)snprintf(o + j, sizeof(out[0]) - j, "\\n");
		else if (c == '\\')
			j += (size_t)snprintf(o + j, sizeof(out[0]) - j, "\\\\");
		else if (c < 0x20 || c >= 0x7f)
			j += (size_t)snprintf(o + j, sizeof(out[0]) - j, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	o[j] = '\0';
	if (i < len)
		snprintf(o + j, sizeof(out[0]) - j, "...(%zu bytes)", len);
	return o;
}

/* Decode a NUL-terminated datagram into msg/werr. */
static int
decode_str(const char *in)
{
	return vigil_wire_decode(in, strlen(in), &msg, &werr);
}

/* The decoder's own description of werr, for assert messages. */
static const char *
why(void)
{
	static char buf[160];

	vigil_wire_describe(&werr, buf, sizeof(buf));
	return buf;
}

/* The uint64_t members of struct vigil_msg, so a test can check the ones a key must not touch. */
static const struct {
	const char *name;
	size_t off;
} uint_members[] = {
    {"seq", offsetof(struct vigil_msg, seq)},
    {"pid", offsetof(struct vigil_msg, pid)},
    {"interval_ms", offsetof(struct vigil_msg, interval_ms)},
    {"watchdog_usec", offsetof(struct vigil_msg, watchdog_usec)},
    {"missed", offsetof(struct vigil_msg, missed)},
    {"silent_ms", offsetof(struct vigil_msg, silent_ms)},
    {"last_seq", offsetof(struct vigil_msg, last_seq)},
};

static uint64_t
uint_at(const struct vigil_msg *m, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)m + off, sizeof(v));
	return v;
}

/* Expect b to carry exactly the same fields and values as a (what says which check this is). */
static void
expect_same_msg(const struct vigil_msg *a, const struct vigil_msg *b, const char *what)
{
	cr_expect_eq(b->fields, a->fields, "%s: fields 0x%x, expected 0x%x", what,
		     (unsigned)b->fields, (unsigned)a->fields);
	cr_expect_str_eq(b->worker, a->worker, "%s: worker", what);
	for (size_t i = 0; i < ARRAY_LEN(uint_members); i++)
		cr_expect_eq(uint_at(b, uint_members[i].off), uint_at(a, uint_members[i].off),
			     "%s: %s is %llu, expected %llu", what, uint_members[i].name,
			     (unsigned long long)uint_at(b, uint_members[i].off),
			     (unsigned long long)uint_at(a, uint_members[i].off));
	cr_expect_eq(b->status_len, a->status_len, "%s: status_len %zu, expected %zu", what,
		     b->status_len, a->status_len);
	if (b->status_len == a->status_len && a->status_len > 0)
		cr_expect_eq(memcmp(b->status, a->status, a->status_len), 0, "%s: status \"%s\"",
			     what, show(b->status, b->status_len));
	cr_expect_eq(b->watchdog_trigger, a->watchdog_trigger, "%s: watchdog_trigger", what);
}

TestSuite(wire_field, .init = poison);
TestSuite(wire_decode, .init = poison);
TestSuite(wire_reject, .init = poison);
TestSuite(wire_describe, .init = poison);
TestSuite(wire_kind, .init = poison);
TestSuite(wire_encode, .init = poison);
TestSuite(wire_strerror);

/* ---- one key at a time: each lands in its own field and nowhere else ---- */

#define NO_NUM SIZE_MAX
#define NUM(member) offsetof(struct vigil_msg, member)

struct field_case {
	char in[CASE_MAX]; /* one canonical KEY=VALUE line, no newline */
	uint32_t field;    /* the only bit decode may set */
	size_t num_off;    /* the uint64_t member it sets, or NO_NUM */
	uint64_t num;      /* ... to this */
	char text[CASE_MAX]; /* the expected WORKER or STATUS text */
	int trigger;       /* expected watchdog_trigger */
};

static struct field_case field_cases[] = {
    {"HEARTBEAT=1", VIGIL_F_HEARTBEAT, NO_NUM, 0, "", 0},
    {"WORKER=web-1", VIGIL_F_WORKER, NO_NUM, 0, "web-1", 0},
    {"WORKER=" NAME64, VIGIL_F_WORKER, NO_NUM, 0, NAME64, 0},
    {"SEQ=42", VIGIL_F_SEQ, NUM(seq), 42, "", 0},
    {"SEQ=0", VIGIL_F_SEQ, NUM(seq), 0, "", 0},
    {"SEQ=9223372036854775807", VIGIL_F_SEQ, NUM(seq), VIGIL_WIRE_NUM_MAX, "", 0},
    {"PID=5616", VIGIL_F_PID, NUM(pid), 5616, "", 0},
    {"INTERVAL_MS=200", VIGIL_F_INTERVAL_MS, NUM(interval_ms), 200, "", 0},
    {"STATUS=warming up: 3/4 caches, a=b", VIGIL_F_STATUS, NO_NUM, 0,
     "warming up: 3/4 caches, a=b", 0},
    {"STATUS=", VIGIL_F_STATUS, NO_NUM, 0, "", 0},
    {"READY=1", VIGIL_F_READY, NO_NUM, 0, "", 0},
    {"STOPPING=1", VIGIL_F_STOPPING, NO_NUM, 0, "", 0},
    {"WATCHDOG=1", VIGIL_F_WATCHDOG, NO_NUM, 0, "", 0},
    {"WATCHDOG=trigger", VIGIL_F_WATCHDOG, NO_NUM, 0, "", 1},
    {"WATCHDOG_USEC=30000000", VIGIL_F_WATCHDOG_USEC, NUM(watchdog_usec), 30000000, "", 0},
    {"TIMEOUT=1", VIGIL_F_TIMEOUT, NO_NUM, 0, "", 0},
    {"MISSED=3", VIGIL_F_MISSED, NUM(missed), 3, "", 0},
    {"SILENT_MS=600", VIGIL_F_SILENT_MS, NUM(silent_ms), 600, "", 0},
    {"LAST_SEQ=41", VIGIL_F_LAST_SEQ, NUM(last_seq), 41, "", 0},
};

ParameterizedTestParameters(wire_field, decodes)
{
	return cr_make_param_array(struct field_case, field_cases, ARRAY_LEN(field_cases));
}

ParameterizedTest(struct field_case *c, wire_field, decodes)
{
	const char *in = c->in;

	cr_assert_eq(decode_str(in), 0, "decode(\"%s\") failed: %s", show(in, strlen(in)), why());
	cr_expect_eq(msg.fields, c->field, "\"%s\": fields 0x%x, expected 0x%x", in,
		     (unsigned)msg.fields, (unsigned)c->field);
	for (size_t i = 0; i < ARRAY_LEN(uint_members); i++) {
		uint64_t want = uint_members[i].off == c->num_off ? c->num : 0;

		cr_expect_eq(uint_at(&msg, uint_members[i].off), want,
			     "\"%s\": %s is %llu, not %llu", in, uint_members[i].name,
			     (unsigned long long)uint_at(&msg, uint_members[i].off),
			     (unsigned long long)want);
	}
	if (c->field == VIGIL_F_WORKER)
		cr_expect_str_eq(msg.worker, c->text, "\"%s\": worker \"%s\"", in, msg.worker);
	else
		cr_expect_str_eq(msg.worker, "", "\"%s\": worker \"%s\" set", in, msg.worker);
	/* The decoder measures the name for the supervisor, which copies it on every heartbeat. */
	cr_expect_eq(msg.worker_len, strlen(msg.worker), "\"%s\": worker_len %u", in,
		     (unsigned)msg.worker_len);
	if (c->field == VIGIL_F_STATUS) {
		/* STATUS points into the caller's buffer, right after "STATUS=". */
		cr_expect_eq(msg.status, in + strlen("STATUS="), "\"%s\": status not in the buffer",
			     in);
		cr_expect_eq(msg.status_len, strlen(c->text), "\"%s\": status_len %zu", in,
			     msg.status_len);
	} else {
		cr_expect_null(msg.status, "\"%s\": status set", in);
		cr_expect_eq(msg.status_len, 0, "\"%s\": status_len %zu", in, msg.status_len);
	}
	cr_expect_eq(msg.watchdog_trigger, c->trigger, "\"%s\": watchdog_trigger %d", in,
		     msg.watchdog_trigger);
}

ParameterizedTestParameters(wire_field, encodes_canonically)
{
	return cr_make_param_array(struct field_case, field_cases, ARRAY_LEN(field_cases));
}

/* Each single-key line is canonical: decoding then encoding gives it back, newline added. */
ParameterizedTest(struct field_case *c, wire_field, encodes_canonically)
{
	char want[VIGIL_WIRE_MAX], out[VIGIL_WIRE_MAX];
	struct vigil_msg m;

	cr_assert_eq(decode_str(c->in), 0, "decode(\"%s\") failed: %s", c->in, why());
	m = msg;
	snprintf(want, sizeof(want), "%s\n", c->in);
	memset(out, 'Z', sizeof(out));
	int n = vigil_wire_encode(&m, out, sizeof(out));
	cr_assert_eq(n, (int)strlen(want), "encode(decode(\"%s\")) returned %d", c->in, n);
	cr_expect_eq(memcmp(out, want, (size_t)n), 0, "encode(decode(\"%s\")) gave \"%s\"", c->in,
		     show(out, (size_t)n));
}

/* ---- whole datagrams ---- */

Test(wire_decode, heartbeat_example)
{
	const char *in = "HEARTBEAT=1\nWORKER=web-1\nSEQ=42\nPID=5616\nINTERVAL_MS=200\n"
			 "STATUS=serving\nWATCHDOG_USEC=7\n";

	cr_assert_eq(decode_str(in), 0, "decode(\"%s\") failed: %s", show(in, strlen(in)), why());
	cr_expect_eq(msg.fields,
		     VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ | VIGIL_F_PID |
			 VIGIL_F_INTERVAL_MS | VIGIL_F_STATUS | VIGIL_F_WATCHDOG_USEC,
		     "fields 0x%x", (unsigned)msg.fields);
	cr_expect_str_eq(msg.worker, "web-1");
	cr_expect_eq(msg.seq, 42);
	cr_expect_eq(msg.pid, 5616);
	cr_expect_eq(msg.interval_ms, 200);
	cr_expect_eq(msg.watchdog_usec, 7);
	cr_expect_eq(msg.status_len, strlen("serving"), "status_len %zu", msg.status_len);
	cr_expect_eq(strncmp(msg.status, "serving", strlen("serving")), 0, "status \"%s\"",
		     show(msg.status, msg.status_len));
	cr_expect_eq(msg.missed, 0);
	cr_expect_eq(msg.silent_ms, 0);
	cr_expect_eq(msg.last_seq, 0);
	cr_expect_eq(msg.watchdog_trigger, 0);
}

Test(wire_decode, timeout_example)
{
	const char *in = "TIMEOUT=1\nWORKER=web-1\nMISSED=2\nSILENT_MS=600\nLAST_SEQ=42";

	cr_assert_eq(decode_str(in), 0, "decode(\"%s\") failed: %s", show(in, strlen(in)), why());
	cr_expect_eq(msg.fields,
		     VIGIL_F_TIMEOUT | VIGIL_F_WORKER | VIGIL_F_MISSED | VIGIL_F_SILENT_MS |
			 VIGIL_F_LAST_SEQ,
		     "fields 0x%x", (unsigned)msg.fields);
	cr_expect_str_eq(msg.worker, "web-1");
	cr_expect_eq(msg.missed, 2);
	cr_expect_eq(msg.silent_ms, 600);
	cr_expect_eq(msg.last_seq, 42);
	cr_expect_eq(msg.seq, 0);
}

struct accept_case {
	char in[CASE_MAX];
	uint32_t fields;
};

ParameterizedTestParameters(wire_decode, accepts)
{
	static struct accept_case cases[] = {
	    {"HEARTBEAT=1\nWORKER=web-1\n", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER},
	    /* No trailing newline, as sd_notify(3) sends it. */
	    {"HEARTBEAT=1\nWORKER=web-1", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER},
	    {"WATCHDOG=1", VIGIL_F_WATCHDOG},
	    /* Unknown keys are ignored, wherever they are and whatever they hold. */
	    {"FOO_BAR=x\nHEARTBEAT=1\nWORKER=a", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER},
	    {"HEARTBEAT=1\nFOO_BAR=x\nWORKER=a\n", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER},
	    {"HEARTBEAT=1\nWORKER=a\nFOO_BAR=x", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER},
	    {"FOO_BAR=x", 0},
	    {"X=", 0},
	    {"X9_Y=lower case, spaces\tand = signs", 0},
	    {"FOO=1\nFOO=2", 0}, /* only known keys are checked for duplicates */
	    {"HEARTBEAT_X=yes\nSEQ_=-1\nXSEQ=abc", 0}, /* near-misses of known keys */
	    /* Keys that share a prefix or a suffix are distinct. */
	    {"WATCHDOG_USEC=5\nWATCHDOG=1", VIGIL_F_WATCHDOG | VIGIL_F_WATCHDOG_USEC},
	    {"SEQ=1\nLAST_SEQ=2", VIGIL_F_SEQ | VIGIL_F_LAST_SEQ},
	    {"STATUS=a\nHEARTBEAT=1", VIGIL_F_STATUS | VIGIL_F_HEARTBEAT},
	    {"WORKER=A.b_c@d:e-9", VIGIL_F_WORKER},
	};

	return cr_make_param_array(struct accept_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct accept_case *c, wire_decode, accepts)
{
	cr_assert_eq(decode_str(c->in), 0, "decode(\"%s\") failed: %s", show(c->in, strlen(c->in)),
		     why());
	cr_expect_eq(msg.fields, c->fields, "decode(\"%s\"): fields 0x%x, expected 0x%x",
		     show(c->in, strlen(c->in)), (unsigned)msg.fields, (unsigned)c->fields);
	cr_expect_eq(werr.code, VIGIL_WIRE_OK, "decode(\"%s\"): err.code %d after success",
		     show(c->in, strlen(c->in)), (int)werr.code);
}

/* Fill buf with exactly len bytes: prefix, then 'x' padding, then an optional final '\n'. */
static void
build(char *buf, size_t len, const char *prefix, int final_newline)
{
	size_t plen = strlen(prefix);

	cr_assert_geq(len, plen + 1 + (size_t)final_newline, "build: %zu bytes too few", len);
	memcpy(buf, prefix, plen);
	memset(buf + plen, 'x', len - plen);
	if (final_newline)
		buf[len - 1] = '\n';
}

Test(wire_decode, exactly_max_bytes_with_long_status)
{
	static char buf[VIGIL_WIRE_MAX];
	const char *prefix = "HEARTBEAT=1\nWORKER=a\nSTATUS=";

	build(buf, sizeof(buf), prefix, 0);
	cr_assert_eq(vigil_wire_decode(buf, sizeof(buf), &msg, &werr), 0,
		     "a %d-byte datagram was rejected: %s", VIGIL_WIRE_MAX, why());
	cr_expect_eq(msg.fields, VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_STATUS);
	cr_expect_eq(msg.status, buf + strlen(prefix));
	cr_expect_eq(msg.status_len, sizeof(buf) - strlen(prefix), "status_len %zu",
		     msg.status_len);
}

Test(wire_decode, exactly_max_bytes_with_unknown_key_and_newline)
{
	static char buf[VIGIL_WIRE_MAX];

	build(buf, sizeof(buf), "HEARTBEAT=1\nWORKER=a\nPADDING=", 1);
	cr_assert_eq(vigil_wire_decode(buf, sizeof(buf), &msg, &werr), 0,
		     "a %d-byte datagram (final newline) was rejected: %s", VIGIL_WIRE_MAX, why());
	cr_expect_eq(msg.fields, VIGIL_F_HEARTBEAT | VIGIL_F_WORKER);
}

Test(wire_decode, one_byte_over_max_is_oversized)
{
	static char buf[VIGIL_WIRE_MAX + 1];

	build(buf, sizeof(buf), "HEARTBEAT=1\nWORKER=a\nSTATUS=", 0);
	cr_assert_eq(vigil_wire_decode(buf, sizeof(buf), &msg, &werr), -1,
		     "a %d-byte datagram was accepted", VIGIL_WIRE_MAX + 1);
	cr_expect_eq(werr.code, VIGIL_WIRE_OVERSIZED, "code %s", vigil_wire_strerror(werr.code));
	cr_expect_eq(werr.line, 0, "line %zu", werr.line);
}

Test(wire_decode, far_over_max_is_oversized_before_anything_else)
{
	/* Full of NULs: size is judged first, before anything in the datagram. */
	static char buf[65536];

	buf[0] = 'x';
	cr_assert_eq(vigil_wire_decode(buf, sizeof(buf), &msg, &werr), -1);
	cr_expect_eq(werr.code, VIGIL_WIRE_OVERSIZED, "code %s", vigil_wire_strerror(werr.code));
}

/* ---- malformed datagrams: the code, the 1-based line and the key named ---- */

struct reject_case {
	char in[CASE_MAX];
	size_t len; /* 0: strlen(in) */
	enum vigil_wire_err code;
	size_t line;
	char key[CASE_MAX];
};

ParameterizedTestParameters(wire_reject, rejects)
{
	static struct reject_case cases[] = {
	    {"", 0, VIGIL_WIRE_EMPTY, 0, ""},
	    {"HEARTBEAT=1\0\nWORKER=a", 21, VIGIL_WIRE_NUL, 0, ""},
	    {"HEARTBEAT=1\nWORKER=a\n\0", 22, VIGIL_WIRE_NUL, 0, ""},
	    {"\0", 1, VIGIL_WIRE_NUL, 0, ""},
	    /* Flags take exactly "1". */
	    {"HEARTBEAT=2", 0, VIGIL_WIRE_BAD_VALUE, 1, "HEARTBEAT"},
	    {"HEARTBEAT=", 0, VIGIL_WIRE_BAD_VALUE, 1, "HEARTBEAT"},
	    {"HEARTBEAT=11", 0, VIGIL_WIRE_BAD_VALUE, 1, "HEARTBEAT"},
	    {"HEARTBEAT=yes", 0, VIGIL_WIRE_BAD_VALUE, 1, "HEARTBEAT"},
	    {"HEARTBEAT=1 ", 0, VIGIL_WIRE_BAD_VALUE, 1, "HEARTBEAT"},
	    {"WORKER=a\nREADY=0", 0, VIGIL_WIRE_BAD_VALUE, 2, "READY"},
	    {"STOPPING=true", 0, VIGIL_WIRE_BAD_VALUE, 1, "STOPPING"},
	    {"TIMEOUT=2", 0, VIGIL_WIRE_BAD_VALUE, 1, "TIMEOUT"},
	    {"WATCHDOG=yes", 0, VIGIL_WIRE_BAD_VALUE, 1, "WATCHDOG"},
	    {"WATCHDOG=0", 0, VIGIL_WIRE_BAD_VALUE, 1, "WATCHDOG"},
	    {"WATCHDOG=Trigger", 0, VIGIL_WIRE_BAD_VALUE, 1, "WATCHDOG"},
	    {"WATCHDOG=triggered", 0, VIGIL_WIRE_BAD_VALUE, 1, "WATCHDOG"},
	    /* Numbers: digits only, no sign, no space, at most 2^63 - 1 (JSON-safe). */
	    {"SEQ=9223372036854775808", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=18446744073709551615", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"WORKER=a\nSEQ=-1", 0, VIGIL_WIRE_BAD_VALUE, 2, "SEQ"},
	    {"SEQ=1x", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=+1", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ= 1", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=0x10", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=18446744073709551616", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=18446744073709551620", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=99999999999999999999", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"SEQ=184467440737095516150", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    {"PID=abc", 0, VIGIL_WIRE_BAD_VALUE, 1, "PID"},
	    {"INTERVAL_MS=1.5", 0, VIGIL_WIRE_BAD_VALUE, 1, "INTERVAL_MS"},
	    {"WATCHDOG_USEC=-5", 0, VIGIL_WIRE_BAD_VALUE, 1, "WATCHDOG_USEC"},
	    {"MISSED=x", 0, VIGIL_WIRE_BAD_VALUE, 1, "MISSED"},
	    {"SILENT_MS=", 0, VIGIL_WIRE_BAD_VALUE, 1, "SILENT_MS"},
	    {"LAST_SEQ=1e3", 0, VIGIL_WIRE_BAD_VALUE, 1, "LAST_SEQ"},
	    /* Worker names: [A-Za-z0-9._@:-]{1,64}. */
	    {"HEARTBEAT=1\nWORKER=a/b", 0, VIGIL_WIRE_BAD_VALUE, 2, "WORKER"},
	    {"WORKER=../etc", 0, VIGIL_WIRE_BAD_VALUE, 1, "WORKER"},
	    {"WORKER=", 0, VIGIL_WIRE_BAD_VALUE, 1, "WORKER"},
	    {"WORKER=a b", 0, VIGIL_WIRE_BAD_VALUE, 1, "WORKER"},
	    {"WORKER=caf\xc3\xa9", 0, VIGIL_WIRE_BAD_VALUE, 1, "WORKER"},
	    {"WORKER=" NAME65, 0, VIGIL_WIRE_BAD_VALUE, 1, "WORKER"},
	    /* sd_notify's keys that vigil does not act on are still checked. */
	    {"MAINPID=abc", 0, VIGIL_WIRE_BAD_VALUE, 1, "MAINPID"},
	    {"WATCHDOG=1\nERRNO=-1", 0, VIGIL_WIRE_BAD_VALUE, 2, "ERRNO"},
	    {"EXTEND_TIMEOUT_USEC=1s", 0, VIGIL_WIRE_BAD_VALUE, 1, "EXTEND_TIMEOUT_USEC"},
	    {"RELOADING=yes", 0, VIGIL_WIRE_BAD_VALUE, 1, "RELOADING"},
	    {"FDSTORE=0", 0, VIGIL_WIRE_BAD_VALUE, 1, "FDSTORE"},
	    {"FDPOLL=1", 0, VIGIL_WIRE_BAD_VALUE, 1, "FDPOLL"},
	    {"MONOTONIC_USEC=", 0, VIGIL_WIRE_BAD_VALUE, 1, "MONOTONIC_USEC"},
	    /* The first problem is the one reported. */
	    {"SEQ=x\nheartbeat=1", 0, VIGIL_WIRE_BAD_VALUE, 1, "SEQ"},
	    /* An ignored line before it does not hide a bad value. */
	    {"HEARTBEAT=1\nhb\nSEQ=x", 0, VIGIL_WIRE_BAD_VALUE, 3, "SEQ"},
	};

	return cr_make_param_array(struct reject_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct reject_case *c, wire_reject, rejects)
{
	size_t len = c->len != 0 ? c->len : strlen(c->in);
	const char *in = show(c->in, len);

	cr_assert_eq(vigil_wire_decode(c->in, len, &msg, &werr), -1, "decode(\"%s\") accepted",
		     in);
	cr_expect_eq(werr.code, c->code, "decode(\"%s\"): %s, expected %s", in,
		     vigil_wire_strerror(werr.code), vigil_wire_strerror(c->code));
	cr_expect_eq(werr.line, c->line, "decode(\"%s\"): line %zu, expected %zu", in, werr.line,
		     c->line);
	cr_expect_str_eq(werr.key, c->key, "decode(\"%s\"): key \"%s\", expected \"%s\"", in,
			 werr.key, c->key);
}

/* ---- ignored lines: as systemd does, a line is ignored and the rest of the datagram counts ---- */

struct ignore_case {
	char in[CASE_MAX];
	uint32_t fields;  /* what the rest of the datagram carries */
	unsigned ignored; /* lines ignored */
	unsigned line;    /* the first of them */
	enum vigil_wire_skip why;
};

ParameterizedTestParameters(wire_ignore, ignores)
{
	static struct ignore_case cases[] = {
	    /* The example: nothing but the WATCHDOG=1 counts, and it does. */
	    {"WATCHDOG=1\nX_FOO=1\nnonsense\nx_debug=1\n", VIGIL_F_WATCHDOG | VIGIL_F_X, 2, 3,
	     VIGIL_SKIP_NO_EQUALS},
	    /* Empty lines: one final newline is the optional end, any other is a line. */
	    {"\n", 0, 1, 1, VIGIL_SKIP_EMPTY_LINE},
	    {"HEARTBEAT=1\n\nWORKER=a\n", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER, 1, 2,
	     VIGIL_SKIP_EMPTY_LINE},
	    {"\nHEARTBEAT=1", VIGIL_F_HEARTBEAT, 1, 1, VIGIL_SKIP_EMPTY_LINE},
	    {"HEARTBEAT=1\nWORKER=a\n\n", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER, 1, 3,
	     VIGIL_SKIP_EMPTY_LINE},
	    /* No '='. */
	    {"HEARTBEAT", 0, 1, 1, VIGIL_SKIP_NO_EQUALS},
	    {"HEARTBEAT=1\nWORKER\n", VIGIL_F_HEARTBEAT, 1, 2, VIGIL_SKIP_NO_EQUALS},
	    /* Keys must be [A-Z][A-Z0-9_]*. */
	    {"heartbeat=1", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {"Heartbeat=1\nWATCHDOG=1", VIGIL_F_WATCHDOG, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {"HEARTBEAT=1\n1SEQ=1", VIGIL_F_HEARTBEAT, 1, 2, VIGIL_SKIP_BAD_KEY},
	    {"_SEQ=1", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {"=1", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {"HEARTBEAT=1\n=", VIGIL_F_HEARTBEAT, 1, 2, VIGIL_SKIP_BAD_KEY},
	    {"HEART BEAT=1", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {" HEARTBEAT=1", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {"HEARTBEAT =1", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    {"WORK-ER=a", 0, 1, 1, VIGIL_SKIP_BAD_KEY},
	    /* A known key given again: the first one counts (systemd reads the first match). */
	    {"HEARTBEAT=1\nWORKER=a\nHEARTBEAT=1", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER, 1, 3,
	     VIGIL_SKIP_DUPLICATE},
	    {"SEQ=1\nSEQ=1\n", VIGIL_F_SEQ, 1, 2, VIGIL_SKIP_DUPLICATE},
	    {"WATCHDOG=1\nWATCHDOG=trigger", VIGIL_F_WATCHDOG, 1, 2, VIGIL_SKIP_DUPLICATE},
	    /* Unknown keys are counted; X_* keys are sd_notify's own and are not. */
	    {"FOO_BAR=x\nHEARTBEAT=1\nWORKER=a", VIGIL_F_HEARTBEAT | VIGIL_F_WORKER, 1, 1,
	     VIGIL_SKIP_UNKNOWN_KEY},
	    {"FOO=1\nFOO=2", 0, 2, 1, VIGIL_SKIP_UNKNOWN_KEY},
	    {"HEARTBEAT_X=yes\nSEQ_=-1\nXSEQ=abc", 0, 3, 1, VIGIL_SKIP_UNKNOWN_KEY},
	    {"X_A=1\nX_A=2\nX_B=", VIGIL_F_X, 0, 0, VIGIL_SKIP_NONE},
	    {"X_=1", 0, 1, 1, VIGIL_SKIP_UNKNOWN_KEY},
	};

	return cr_make_param_array(struct ignore_case, cases, ARRAY_LEN(cases));
}

TestSuite(wire_ignore, .init = poison);

ParameterizedTest(struct ignore_case *c, wire_ignore, ignores)
{
	const char *in = show(c->in, strlen(c->in));

	cr_assert_eq(decode_str(c->in), 0, "decode(\"%s\") rejected: %s", in, why());
	cr_expect_eq(msg.fields, c->fields, "decode(\"%s\"): fields 0x%x, expected 0x%x", in,
		     (unsigned)msg.fields, (unsigned)c->fields);
	cr_expect_eq(msg.ignored, c->ignored, "decode(\"%s\"): %u lines ignored, expected %u", in,
		     (unsigned)msg.ignored, c->ignored);
	cr_expect_eq(msg.ignored_line, c->line, "decode(\"%s\"): first ignored line %u, not %u",
		     in, (unsigned)msg.ignored_line, c->line);
	cr_expect_eq(msg.ignored_why, c->why, "decode(\"%s\"): ignored as \"%s\", not \"%s\"", in,
		     vigil_wire_skip_name((enum vigil_wire_skip)msg.ignored_why),
		     vigil_wire_skip_name(c->why));
}

Test(wire_ignore, a_long_bad_key_is_one_ignored_line)
{
	char in[200];

	memset(in, 'k', 100);
	memcpy(in + 100, "=1\nWATCHDOG=1", 14);
	cr_assert_eq(decode_str(in), 0, "rejected: %s", why());
	cr_expect_eq(msg.fields, VIGIL_F_WATCHDOG);
	cr_expect_eq(msg.ignored, 1);
	cr_expect_eq(msg.ignored_why, VIGIL_SKIP_BAD_KEY);
}

Test(wire_ignore, skip_names_are_distinct)
{
	for (int a = 0; a <= VIGIL_SKIP_UNKNOWN_KEY; a++)
		for (int b = 0; b < a; b++)
			cr_expect_str_neq(vigil_wire_skip_name((enum vigil_wire_skip)a),
					  vigil_wire_skip_name((enum vigil_wire_skip)b));
	cr_expect_str_eq(vigil_wire_skip_name((enum vigil_wire_skip)99), "unknown");
}

/* Every sd_notify key of sd_notify(3) that vigil does not act on: accepted quietly. */
Test(wire_kind, sd_notify_keys_are_quiet)
{
	static const char *const quiet[] = {
	    "MAINPID=4711", "ERRNO=2", "BUSERROR=org.freedesktop.DBus.Error.TimedOut",
	    "EXTEND_TIMEOUT_USEC=5000000", "RELOADING=1", "MONOTONIC_USEC=123456789",
	    "FDSTORE=1", "FDSTOREREMOVE=1", "FDNAME=listen", "FDPOLL=0", "NOTIFYACCESS=all",
	    "EXIT_STATUS=3", "X_MY_APP=anything at all",
	    "MAINPID=1\nERRNO=5\nRELOADING=1\nMONOTONIC_USEC=1",
	};

	for (size_t i = 0; i < ARRAY_LEN(quiet); i++) {
		cr_assert_eq(decode_str(quiet[i]), 0, "decode(\"%s\") rejected: %s",
			     show(quiet[i], strlen(quiet[i])), why());
		cr_expect_eq(msg.ignored, 0, "decode(\"%s\"): %u lines ignored",
			     show(quiet[i], strlen(quiet[i])), (unsigned)msg.ignored);
		cr_expect_eq(vigil_wire_kind(&msg), VIGIL_MSG_QUIET, "kind of \"%s\" is %d",
			     show(quiet[i], strlen(quiet[i])), (int)vigil_wire_kind(&msg));
	}
	/* With a verb, the verb decides. */
	cr_assert_eq(decode_str("MAINPID=1\nWATCHDOG=1"), 0);
	cr_expect_eq(vigil_wire_kind(&msg), VIGIL_MSG_HEARTBEAT);
	cr_assert_eq(decode_str("RELOADING=1\nSTATUS=reloading"), 0);
	cr_expect_eq(vigil_wire_kind(&msg), VIGIL_MSG_UPDATE);
	/* Read, never written: encoding leaves them out. */
	char out[64];
	cr_assert_eq(decode_str("MAINPID=1\nRELOADING=1\nWATCHDOG=1\nX_A=1"), 0);
	cr_expect_eq(vigil_wire_encode(&msg, out, sizeof(out)), (int)strlen("WATCHDOG=1\n"));
}

/* ---- describe: a log line that names the line and, where it helps, the key ---- */

struct describe_case {
	char in[CASE_MAX];
	size_t len; /* 0: strlen(in) */
	char needle[3][16]; /* "" for none */
};

ParameterizedTestParameters(wire_describe, names_key_and_line)
{
	static struct describe_case cases[] = {
	    {"WORKER=a\nSEQ=x", 0, {"SEQ", "line 2"}},
	    {"HEARTBEAT=1\nWORKER=a\nWATCHDOG=yes", 0, {"WATCHDOG", "line 3"}},
	    {"SEQ=1\nPID=2\nMAINPID=x", 0, {"MAINPID", "line 3"}},
	    {"HEARTBEAT=1\nWORKER=a\0", 21, {"NUL"}},
	};

	return cr_make_param_array(struct describe_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct describe_case *c, wire_describe, names_key_and_line)
{
	size_t len = c->len != 0 ? c->len : strlen(c->in);
	char buf[160];

	cr_assert_eq(vigil_wire_decode(c->in, len, &msg, &werr), -1, "decode(\"%s\") accepted",
		     show(c->in, len));
	vigil_wire_describe(&werr, buf, sizeof(buf));
	for (size_t i = 0; i < ARRAY_LEN(c->needle) && c->needle[i][0] != '\0'; i++)
		cr_expect_not_null(strstr(buf, c->needle[i]),
				   "decode(\"%s\") described as \"%s\": no \"%s\"",
				   show(c->in, len), buf, c->needle[i]);
}

Test(wire_describe, every_error_has_its_own_description)
{
	char text[VIGIL_WIRE_NERR][160];
	struct vigil_wire_error e = {.line = 7, .key = "SEQ"};

	for (int code = 1; code < VIGIL_WIRE_NERR; code++) {
		e.code = (enum vigil_wire_err)code;
		memset(text[code], 'Z', sizeof(text[code]));
		vigil_wire_describe(&e, text[code], sizeof(text[code]));
		cr_assert_not_null(memchr(text[code], '\0', sizeof(text[code])),
				   "describe(%s) did not terminate", vigil_wire_strerror(e.code));
		cr_expect_gt(strlen(text[code]), 0, "describe(%s) is empty",
			     vigil_wire_strerror(e.code));
		cr_expect_str_neq(text[code], "ok", "describe(%s) says ok",
				  vigil_wire_strerror(e.code));
		for (int other = 1; other < code; other++)
			cr_expect_str_neq(text[code], text[other],
					  "%s and %s both read \"%s\"", vigil_wire_strerror(e.code),
					  vigil_wire_strerror((enum vigil_wire_err)other),
					  text[code]);
	}
}

Test(wire_describe, respects_cap)
{
	char buf[16];

	cr_assert_eq(decode_str("WORKER=a\nINTERVAL_MS=forever"), -1);
	memset(buf, 'Z', sizeof(buf));
	vigil_wire_describe(&werr, buf, 8);
	cr_expect_eq(strlen(buf), 7, "\"%s\" in an 8-byte buffer", buf);
	for (size_t i = 8; i < sizeof(buf); i++)
		cr_expect_eq(buf[i], 'Z', "byte %zu past cap overwritten", i);
}

/* ---- strerror: the labels under which drops are counted (docs/PROTOCOL.md) ---- */

Test(wire_strerror, labels_are_the_documented_reasons)
{
	static const char *const want[VIGIL_WIRE_NERR] = {
	    [VIGIL_WIRE_OK] = "ok",
	    [VIGIL_WIRE_EMPTY] = "empty",
	    [VIGIL_WIRE_OVERSIZED] = "oversized",
	    [VIGIL_WIRE_NUL] = "nul_byte",
	    [VIGIL_WIRE_BAD_VALUE] = "bad_value",
	    [VIGIL_WIRE_NO_WORKER] = "no_worker",
	    [VIGIL_WIRE_NO_CGROUP] = "no_cgroup",
	    [VIGIL_WIRE_NO_MESSAGE] = "no_message",
	};

	for (int code = 0; code < VIGIL_WIRE_NERR; code++) {
		const char *got = vigil_wire_strerror((enum vigil_wire_err)code);

		cr_assert_not_null(got, "strerror(%d) is NULL", code);
		cr_expect_str_eq(got, want[code], "strerror(%d) is \"%s\"", code, got);
	}
}

Test(wire_strerror, labels_are_distinct_and_non_empty)
{
	for (int code = 0; code < VIGIL_WIRE_NERR; code++) {
		const char *a = vigil_wire_strerror((enum vigil_wire_err)code);

		cr_assert_not_null(a, "strerror(%d) is NULL", code);
		cr_expect_gt(strlen(a), 0, "strerror(%d) is empty", code);
		for (int other = 0; other < code; other++)
			cr_expect_str_neq(a, vigil_wire_strerror((enum vigil_wire_err)other),
					  "codes %d and %d share the label \"%s\"", other, code, a);
	}
}

Test(wire_strerror, out_of_range_code_gets_its_own_label)
{
	const char *got = vigil_wire_strerror(VIGIL_WIRE_NERR);

	cr_assert_not_null(got);
	cr_expect_gt(strlen(got), 0);
	for (int code = 0; code < VIGIL_WIRE_NERR; code++)
		cr_expect_str_neq(got, vigil_wire_strerror((enum vigil_wire_err)code),
				  "an invalid code reads as code %d", code);
	cr_expect_str_eq(vigil_wire_strerror((enum vigil_wire_err)-1), got);
}

/* ---- kind: what a message asks for (STOPPING, then heartbeat, then TIMEOUT) ---- */

struct kind_case {
	char in[CASE_MAX];
	enum vigil_msg_kind kind;
};

ParameterizedTestParameters(wire_kind, precedence)
{
	static struct kind_case cases[] = {
	    {"HEARTBEAT=1\nWORKER=a", VIGIL_MSG_HEARTBEAT},
	    {"WATCHDOG=1\nWORKER=a", VIGIL_MSG_HEARTBEAT},
	    {"READY=1\nWORKER=a", VIGIL_MSG_HEARTBEAT},
	    {"STOPPING=1\nWORKER=a", VIGIL_MSG_STOPPING},
	    {"TIMEOUT=1\nWORKER=a\nMISSED=1", VIGIL_MSG_TIMEOUT},
	    /* STOPPING wins over any heartbeat, wherever it comes. */
	    {"STOPPING=1\nHEARTBEAT=1\nWORKER=a", VIGIL_MSG_STOPPING},
	    {"HEARTBEAT=1\nWORKER=a\nSTOPPING=1", VIGIL_MSG_STOPPING},
	    {"READY=1\nSTOPPING=1", VIGIL_MSG_STOPPING},
	    {"WATCHDOG=1\nSTOPPING=1\nTIMEOUT=1", VIGIL_MSG_STOPPING},
	    /* A heartbeat wins over TIMEOUT. */
	    {"TIMEOUT=1\nHEARTBEAT=1", VIGIL_MSG_HEARTBEAT},
	    {"TIMEOUT=1\nREADY=1", VIGIL_MSG_HEARTBEAT},
	    {"TIMEOUT=1\nWATCHDOG=1", VIGIL_MSG_HEARTBEAT},
	    /* WATCHDOG=trigger asks to be failed: never a heartbeat. */
	    {"WATCHDOG=trigger\nWORKER=a", VIGIL_MSG_TRIGGER},
	    {"WATCHDOG=trigger\nHEARTBEAT=1\nWORKER=a", VIGIL_MSG_TRIGGER},
	    {"READY=1\nWATCHDOG=trigger", VIGIL_MSG_TRIGGER},
	    {"WATCHDOG=trigger\nSTOPPING=1\nWORKER=a", VIGIL_MSG_STOPPING},
	    /* sd_notify's news without a heartbeat: STATUS=, WATCHDOG_USEC=, BARRIER=1 alone */
	    {"STATUS=x", VIGIL_MSG_UPDATE},
	    {"WATCHDOG_USEC=5000000", VIGIL_MSG_UPDATE},
	    {"BARRIER=1", VIGIL_MSG_UPDATE},
	    {"BARRIER=1\nWATCHDOG=1", VIGIL_MSG_HEARTBEAT},
	    {"TIMEOUT=1\nSTATUS=x", VIGIL_MSG_TIMEOUT},
	    /* Fields without a verb ask for nothing. */
	    {"WORKER=a\nSEQ=1\nPID=2\nINTERVAL_MS=3\nSTATUS=x\nWATCHDOG_USEC=4", VIGIL_MSG_UPDATE},
	    {"WORKER=a\nSEQ=1\nPID=2\nINTERVAL_MS=3", VIGIL_MSG_NONE},
	    {"MISSED=1\nSILENT_MS=2\nLAST_SEQ=3", VIGIL_MSG_NONE},
	    {"FOO=1", VIGIL_MSG_NONE},
	};

	return cr_make_param_array(struct kind_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct kind_case *c, wire_kind, precedence)
{
	cr_assert_eq(decode_str(c->in), 0, "decode(\"%s\") failed: %s", show(c->in, strlen(c->in)),
		     why());
	enum vigil_msg_kind got = vigil_wire_kind(&msg);
	cr_expect_eq(got, c->kind, "kind(\"%s\") is %d, expected %d", show(c->in, strlen(c->in)),
		     (int)got, (int)c->kind);
}

/* ---- encode ---- */

/* Encode m into a large buffer, asserting success; returns the length. */
static int
encode_ok(const struct vigil_msg *m, char *buf, size_t cap)
{
	int n = vigil_wire_encode(m, buf, cap);

	cr_assert_gt(n, 0, "encode of fields 0x%x failed (%d)", (unsigned)m->fields, n);
	cr_assert_lt((size_t)n, cap);
	return n;
}

Test(wire_encode, heartbeat_round_trip)
{
	static const char status[] = "ok: 12 requests/s";
	struct vigil_msg m = {
	    .fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ | VIGIL_F_PID |
		      VIGIL_F_INTERVAL_MS | VIGIL_F_STATUS,
	    .worker = "web-1",
	    .seq = 42,
	    .pid = 5616,
	    .interval_ms = 200,
	    .status = status,
	    .status_len = sizeof(status) - 1,
	};
	char buf[VIGIL_WIRE_MAX];
	int n = encode_ok(&m, buf, sizeof(buf));

	cr_assert_eq(vigil_wire_decode(buf, (size_t)n, &msg, &werr), 0,
		     "decode(encode()) = decode(\"%s\") failed: %s", show(buf, (size_t)n), why());
	expect_same_msg(&m, &msg, "heartbeat round trip");
	cr_expect_eq(vigil_wire_kind(&msg), VIGIL_MSG_HEARTBEAT);
}

Test(wire_encode, timeout_round_trip)
{
	struct vigil_msg m = {
	    .fields = VIGIL_F_TIMEOUT | VIGIL_F_WORKER | VIGIL_F_MISSED | VIGIL_F_SILENT_MS |
		      VIGIL_F_LAST_SEQ,
	    .worker = NAME64,
	    .missed = 3,
	    .silent_ms = 1800,
	    .last_seq = VIGIL_WIRE_NUM_MAX,
	};
	char buf[VIGIL_WIRE_MAX];
	int n = encode_ok(&m, buf, sizeof(buf));

	cr_assert_eq(vigil_wire_decode(buf, (size_t)n, &msg, &werr), 0,
		     "decode(encode()) = decode(\"%s\") failed: %s", show(buf, (size_t)n), why());
	expect_same_msg(&m, &msg, "TIMEOUT round trip");
	cr_expect_eq(vigil_wire_kind(&msg), VIGIL_MSG_TIMEOUT);
}

Test(wire_encode, every_field_round_trip)
{
	static const char status[] = "x=y";
	struct vigil_msg m = {
	    .fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ | VIGIL_F_PID |
		      VIGIL_F_INTERVAL_MS | VIGIL_F_STATUS | VIGIL_F_READY | VIGIL_F_STOPPING |
		      VIGIL_F_WATCHDOG | VIGIL_F_WATCHDOG_USEC | VIGIL_F_TIMEOUT | VIGIL_F_MISSED |
		      VIGIL_F_SILENT_MS | VIGIL_F_LAST_SEQ,
	    .worker = "w@host:1",
	    .seq = 1,
	    .pid = 2,
	    .interval_ms = 3,
	    .watchdog_usec = 4,
	    .missed = 5,
	    .silent_ms = 6,
	    .last_seq = 7,
	    .status = status,
	    .status_len = sizeof(status) - 1,
	    .watchdog_trigger = 1,
	};
	char buf[VIGIL_WIRE_MAX];
	int n = encode_ok(&m, buf, sizeof(buf));

	cr_assert_eq(vigil_wire_decode(buf, (size_t)n, &msg, &werr), 0,
		     "decode(encode()) = decode(\"%s\") failed: %s", show(buf, (size_t)n), why());
	expect_same_msg(&m, &msg, "all-field round trip");
}

Test(wire_encode, timeout_text_is_exact)
{
	/* Set in another order than the key table, which fixes the output order. */
	struct vigil_msg m = {
	    .fields = VIGIL_F_LAST_SEQ | VIGIL_F_SILENT_MS | VIGIL_F_MISSED | VIGIL_F_WORKER |
		      VIGIL_F_TIMEOUT,
	    .worker = "web-1",
	    .missed = 1,
	    .silent_ms = 600,
	    .last_seq = 42,
	};
	const char *want = "TIMEOUT=1\nWORKER=web-1\nMISSED=1\nSILENT_MS=600\nLAST_SEQ=42\n";
	char buf[VIGIL_WIRE_MAX];
	int n = encode_ok(&m, buf, sizeof(buf));

	cr_expect_eq(n, (int)strlen(want), "length %d, expected %zu", n, strlen(want));
	cr_expect_str_eq(buf, want, "encoded \"%s\"", show(buf, (size_t)n));
}

Test(wire_encode, heartbeat_text_is_exact)
{
	static const char status[] = "busy";
	struct vigil_msg m = {
	    .fields = VIGIL_F_STATUS | VIGIL_F_INTERVAL_MS | VIGIL_F_PID | VIGIL_F_SEQ |
		      VIGIL_F_WORKER | VIGIL_F_HEARTBEAT,
	    .worker = "web-1",
	    .seq = 42,
	    .pid = 5616,
	    .interval_ms = 200,
	    .status = status,
	    .status_len = sizeof(status) - 1,
	};
	const char *want = "HEARTBEAT=1\nWORKER=web-1\nSEQ=42\nPID=5616\nINTERVAL_MS=200\n"
			   "STATUS=busy\n";
	char buf[VIGIL_WIRE_MAX];
	int n = encode_ok(&m, buf, sizeof(buf));

	cr_expect_eq(n, (int)strlen(want), "length %d, expected %zu", n, strlen(want));
	cr_expect_str_eq(buf, want, "encoded \"%s\"", show(buf, (size_t)n));
}

Test(wire_encode, only_fields_in_the_mask)
{
	struct vigil_msg m = {
	    .fields = VIGIL_F_HEARTBEAT,
	    .worker = "not-sent",
	    .seq = 99,
	    .missed = 98,
	};
	char buf[VIGIL_WIRE_MAX];
	int n = encode_ok(&m, buf, sizeof(buf));

	cr_expect_str_eq(buf, "HEARTBEAT=1\n", "encoded \"%s\"", show(buf, (size_t)n));
}

Test(wire_encode, refuses_too_small_buffer)
{
	struct vigil_msg m = {
	    .fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_SEQ,
	    .worker = "web-1",
	    .seq = 42,
	};
	const char *want = "HEARTBEAT=1\nWORKER=web-1\nSEQ=42\n";
	const size_t len = strlen(want);
	char buf[64];
	int n;

	for (size_t cap = 0; cap < len; cap++) {
		memset(buf, 'Z', sizeof(buf));
		cr_expect_eq(vigil_wire_encode(&m, buf, cap), -1, "encode into %zu bytes of %zu",
			     cap, len);
		for (size_t i = cap; i < sizeof(buf); i++)
			cr_assert_eq(buf[i], 'Z', "cap %zu: byte %zu written", cap, i);
	}
	/* Room for the text but not a NUL: refuse, or deliver every byte of it. */
	memset(buf, 'Z', sizeof(buf));
	n = vigil_wire_encode(&m, buf, len);
	if (n != -1) {
		cr_expect_eq(n, (int)len, "encode into exactly %zu bytes returned %d", len, n);
		cr_expect_eq(memcmp(buf, want, len), 0, "encode into exactly %zu bytes gave \"%s\"",
			     len, show(buf, len));
	}
	cr_expect_eq(buf[len], 'Z', "encode into %zu bytes wrote past them", len);
	n = vigil_wire_encode(&m, buf, len + 1);
	cr_expect_eq(n, (int)len, "encode into %zu bytes (text and NUL) returned %d", len + 1, n);
	cr_expect_str_eq(buf, want, "encoded \"%s\"", show(buf, len));
}

Test(wire_encode, exactly_max_bytes)
{
	static char status[VIGIL_WIRE_MAX - 8]; /* "STATUS=" + text + "\n" = 4096 */
	static char buf[2 * VIGIL_WIRE_MAX];
	struct vigil_msg m = {
	    .fields = VIGIL_F_STATUS,
	    .status = status,
	    .status_len = sizeof(status),
	};

	memset(status, 's', sizeof(status));
	cr_expect_eq(vigil_wire_encode(&m, buf, sizeof(buf)), VIGIL_WIRE_MAX,
		     "a message of exactly %d bytes must encode", VIGIL_WIRE_MAX);
	cr_expect_eq(vigil_wire_encode(&m, buf, VIGIL_WIRE_MAX + 1), VIGIL_WIRE_MAX,
		     "%d bytes and a NUL fit in %d", VIGIL_WIRE_MAX, VIGIL_WIRE_MAX + 1);
	cr_expect_eq(vigil_wire_encode(&m, buf, VIGIL_WIRE_MAX), -1, "no room for the NUL");
}

Test(wire_encode, refuses_more_than_max)
{
	static char status[VIGIL_WIRE_MAX];
	static char buf[4 * VIGIL_WIRE_MAX];
	struct vigil_msg m = {
	    .fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER | VIGIL_F_STATUS,
	    .worker = "a",
	    .status = status,
	    .status_len = sizeof(status),
	};

	memset(status, 's', sizeof(status));
	cr_expect_eq(vigil_wire_encode(&m, buf, sizeof(buf)), -1,
		     "encoded a datagram larger than %d bytes", VIGIL_WIRE_MAX);
}

struct bad_name_case {
	char worker[VIGIL_NAME_MAX + 1];
};

ParameterizedTestParameters(wire_encode, refuses_invalid_worker)
{
	static struct bad_name_case cases[] = {
	    {"a/b"}, {""}, {"a b"}, {"web\n1"}, {"caf\xc3\xa9"},
	};

	return cr_make_param_array(struct bad_name_case, cases, ARRAY_LEN(cases));
}

ParameterizedTest(struct bad_name_case *c, wire_encode, refuses_invalid_worker)
{
	struct vigil_msg m = {.fields = VIGIL_F_HEARTBEAT | VIGIL_F_WORKER};
	char buf[VIGIL_WIRE_MAX];

	snprintf(m.worker, sizeof(m.worker), "%s", c->worker);
	cr_expect_eq(vigil_wire_encode(&m, buf, sizeof(buf)), -1, "encoded WORKER=\"%s\"",
		     show(c->worker, strlen(c->worker)));
}

Test(wire_encode, refuses_status_with_newline_or_nul)
{
	static const char nl[] = "line one\nHEARTBEAT=1";
	static const char nul[] = "a\0b";
	struct vigil_msg m = {
	    .fields = VIGIL_F_WORKER | VIGIL_F_STATUS,
	    .worker = "a",
	    .status = nl,
	    .status_len = sizeof(nl) - 1,
	};
	char buf[VIGIL_WIRE_MAX];

	cr_expect_eq(vigil_wire_encode(&m, buf, sizeof(buf)), -1, "encoded STATUS=\"%s\"",
		     show(nl, sizeof(nl) - 1));
	m.status = nul;
	m.status_len = sizeof(nul) - 1;
	cr_expect_eq(vigil_wire_encode(&m, buf, sizeof(buf)), -1, "encoded STATUS=\"%s\"",
		     show(nul, sizeof(nul) - 1));
	/* The same message with a clean STATUS encodes: the refusals above are about the text. */
	m.status = "fine";
	m.status_len = 4;
	cr_expect_gt(vigil_wire_encode(&m, buf, sizeof(buf)), 0);
}

Test(wire_encode, status_is_not_read_past_its_length)
{
	static const char text[] = "abc\ndef";
	struct vigil_msg m = {
	    .fields = VIGIL_F_STATUS,
	    .status = text,
	    .status_len = 3, /* "abc": the newline after it is not part of STATUS */
	};
	char buf[VIGIL_WIRE_MAX];

	cr_assert_eq(vigil_wire_encode(&m, buf, sizeof(buf)), (int)strlen("STATUS=abc\n"));
	cr_expect_str_eq(buf, "STATUS=abc\n");
}
