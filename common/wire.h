/*
 * wire.h: the datagram codec (docs/PROTOCOL.md). Pure functions: no I/O, no
 * allocation, no logging. A datagram is KEY=VALUE lines; decoding fills a
 * struct vigil_msg whose STATUS text points into the caller's buffer.
 */
#ifndef VIGIL_WIRE_H
#define VIGIL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define VIGIL_WIRE_MAX 4096 /* largest valid datagram, in bytes */
#define VIGIL_NAME_MAX 64   /* longest worker name */
#define VIGIL_WIRE_NUM_MAX 9223372036854775807ULL /* largest number: 2^63 - 1 */

/* Which fields a message carries (struct vigil_msg.fields). */
enum vigil_field {
	VIGIL_F_HEARTBEAT = 1u << 0,
	VIGIL_F_WORKER = 1u << 1,
	VIGIL_F_SEQ = 1u << 2,
	VIGIL_F_PID = 1u << 3,
	VIGIL_F_INTERVAL_MS = 1u << 4,
	VIGIL_F_STATUS = 1u << 5,
	VIGIL_F_READY = 1u << 6,
	VIGIL_F_STOPPING = 1u << 7,
	VIGIL_F_WATCHDOG = 1u << 8,
	VIGIL_F_WATCHDOG_USEC = 1u << 9,
	VIGIL_F_TIMEOUT = 1u << 10,
	VIGIL_F_MISSED = 1u << 11,
	VIGIL_F_SILENT_MS = 1u << 12,
	VIGIL_F_LAST_SEQ = 1u << 13,
	VIGIL_F_BARRIER = 1u << 14, /* sd_notify BARRIER=1: answered by closing its descriptor */
	/* sd_notify keys vigil accepts (their values checked) and does not act on. */
	VIGIL_F_MAINPID = 1u << 15,
	VIGIL_F_ERRNO = 1u << 16,
	VIGIL_F_BUSERROR = 1u << 17,
	VIGIL_F_EXTEND_TIMEOUT_USEC = 1u << 18,
	VIGIL_F_RELOADING = 1u << 19,
	VIGIL_F_MONOTONIC_USEC = 1u << 20,
	VIGIL_F_FDSTORE = 1u << 21,
	VIGIL_F_FDSTOREREMOVE = 1u << 22,
	VIGIL_F_FDNAME = 1u << 23,
	VIGIL_F_FDPOLL = 1u << 24,
	VIGIL_F_NOTIFYACCESS = 1u << 25,
	VIGIL_F_EXIT_STATUS = 1u << 26,
	VIGIL_F_X = 1u << 27, /* one or more X_* lines (sd_notify's own extension keys) */
};

/* The sd_notify fields that ask nothing of the supervisor: accepted quietly. */
#define VIGIL_F_SD_QUIET                                                                   \
	(VIGIL_F_MAINPID | VIGIL_F_ERRNO | VIGIL_F_BUSERROR | VIGIL_F_EXTEND_TIMEOUT_USEC |   \
	 VIGIL_F_RELOADING | VIGIL_F_MONOTONIC_USEC | VIGIL_F_FDSTORE | VIGIL_F_FDSTOREREMOVE | \
	 VIGIL_F_FDNAME | VIGIL_F_FDPOLL | VIGIL_F_NOTIFYACCESS | VIGIL_F_EXIT_STATUS | VIGIL_F_X)

/* Why a datagram was rejected; also the label under which drops are counted. */
enum vigil_wire_err {
	VIGIL_WIRE_OK = 0,
	VIGIL_WIRE_EMPTY,      /* zero bytes */
	VIGIL_WIRE_OVERSIZED,  /* more than VIGIL_WIRE_MAX bytes */
	VIGIL_WIRE_NUL,        /* a NUL byte inside the datagram */
	VIGIL_WIRE_BAD_VALUE,  /* a known key with a value it does not accept */
	VIGIL_WIRE_NO_WORKER,  /* a heartbeat or lifecycle message without WORKER= */
	VIGIL_WIRE_NO_CGROUP,  /* nameless, and the sender's /proc/PID/cgroup cannot be read */
	VIGIL_WIRE_NO_MESSAGE, /* valid fields, but nothing that means anything to us */
	VIGIL_WIRE_NERR
};

/*
 * Why a line was ignored (as systemd ignores what it does not know): the
 * rest of the datagram still counts, so no WATCHDOG=1 is lost to a line.
 */
enum vigil_wire_skip {
	VIGIL_SKIP_NONE = 0,
	VIGIL_SKIP_EMPTY_LINE,  /* an empty line other than the optional final newline */
	VIGIL_SKIP_NO_EQUALS,   /* a line without '=' */
	VIGIL_SKIP_BAD_KEY,     /* a key that is not [A-Z][A-Z0-9_]* (x_debug=1, =1) */
	VIGIL_SKIP_DUPLICATE,   /* a known key given again: the first one counts, as in systemd */
	VIGIL_SKIP_UNKNOWN_KEY, /* a well-formed key neither vigil nor sd_notify(3) defines */
};

/* What a decoded message asks for, in order of precedence. */
enum vigil_msg_kind {
	VIGIL_MSG_NONE = 0,
	VIGIL_MSG_HEARTBEAT, /* HEARTBEAT=1 or WATCHDOG=1 (READY=1 counts too; WATCHDOG=trigger not) */
	VIGIL_MSG_STOPPING,  /* STOPPING=1: a clean exit follows */
	VIGIL_MSG_TIMEOUT,   /* TIMEOUT=1: supervisor -> worker */
	VIGIL_MSG_TRIGGER,   /* WATCHDOG=trigger: the sender asks to be declared dead now */
	VIGIL_MSG_UPDATE,    /* only STATUS=, WATCHDOG_USEC= or BARRIER=1: news, not a heartbeat */
	VIGIL_MSG_QUIET,     /* only sd_notify keys vigil does not act on (MAINPID=, ERRNO=, X_*) */
};

struct vigil_msg {
	uint32_t fields; /* enum vigil_field bits present */
	char worker[VIGIL_NAME_MAX + 1];
	uint8_t worker_len; /* bytes of worker before its NUL (decoded: 1 to VIGIL_NAME_MAX) */
	uint64_t seq;
	uint64_t pid;
	uint64_t interval_ms;
	uint64_t watchdog_usec;
	uint64_t missed;
	uint64_t silent_ms;
	uint64_t last_seq;
	const char *status; /* points into the decoded buffer; not NUL-terminated */
	size_t status_len;
	int watchdog_trigger; /* WATCHDOG=trigger */
	uint16_t ignored;      /* lines ignored (enum vigil_wire_skip), not counting X_* lines */
	uint16_t ignored_line; /* the first of them, 1-based; 0 if none */
	uint8_t ignored_why;   /* enum vigil_wire_skip of that first one */
};

/* Details of a rejection, for counting and for a log line. */
struct vigil_wire_error {
	enum vigil_wire_err code;
	size_t line;                        /* 1-based line of the problem, 0 if none */
	char key[VIGIL_NAME_MAX + 1];       /* the key involved, possibly truncated */
};

/* Decode len bytes of buf into *m. Returns 0, or -1 with *err filled. */
int vigil_wire_decode(const char *buf, size_t len, struct vigil_msg *m,
		      struct vigil_wire_error *err);

/* The kind of a decoded message (precedence: STOPPING, heartbeat, TIMEOUT). */
enum vigil_msg_kind vigil_wire_kind(const struct vigil_msg *m);

/*
 * Encode the fields present in *m into buf (cap bytes), one KEY=VALUE line
 * each, in a fixed order with a trailing newline, and a NUL after it (so cap
 * must be one more than the message). Returns the length, or -1 if it does
 * not fit in cap or in VIGIL_WIRE_MAX.
 */
int vigil_wire_encode(const struct vigil_msg *m, char *buf, size_t cap);

/*
 * The length of the UTF-8 character at p (at most n bytes): 1 for ASCII,
 * 2 to 4, or 0 if the bytes there are not one (a stray continuation byte,
 * an overlong form, a surrogate, beyond U+10FFFF, or cut short).
 */
size_t vigil_wire_utf8_len(const char *p, size_t n);

/* Whether name is a valid worker name ([A-Za-z0-9._@:-]{1,64}). */
int vigil_wire_name_valid(const char *name, size_t len);

/* A short stable label for an error code ("oversized", "bad_value", ...). */
const char *vigil_wire_strerror(enum vigil_wire_err code);

/* A short description of why a line was ignored ("no '='", "unknown key", ...). */
const char *vigil_wire_skip_name(enum vigil_wire_skip why);

/* Write a one-line description of *err into buf ("bad value for SEQ on line 3"). */
void vigil_wire_describe(const struct vigil_wire_error *err, char *buf, size_t cap);

#endif
