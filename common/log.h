/*
 * log.h: the one log API of the daemons. Lines go to stderr; when stderr is
 * the journal (JOURNAL_STREAM names it) each line carries a <N> priority
 * prefix and no timestamp, otherwise a local timestamp and the level; lines
 * about a worker go to the journal with fields (log_fields).
 * Every function preserves errno. Text a peer sent must go through
 * log_escape() first.
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_LEVEL_ERR = 3, LOG_LEVEL_WARN = 4, LOG_LEVEL_INFO = 6, LOG_LEVEL_DEBUG = 7 };

/* A limiter for messages a peer can trigger: at most burst lines per interval. */
struct log_ratelimit {
	uint64_t interval_usec; /* 0 means 1 second */
	uint64_t burst;         /* 0 means 1 */
	uint64_t window_usec;   /* when the current interval began */
	uint64_t written;       /* lines written in it */
	uint64_t suppressed;    /* lines dropped since the last one written */
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void log_init(const char *progname, enum log_level level);
int log_level_parse(const char *s, enum log_level *level);
enum log_level log_get_level(void);
int log_to_journal(void);

void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);  /* why we are about to exit 1 */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);   /* appends ": strerror(errno)" */
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));  /* with errno */
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/*
 * Log at level unless rl already allowed its burst of lines in the current
 * interval (now in monotonic usec). The first line written after some were
 * dropped says how many. Returns 1 if a line was written.
 */
int log_ratelimited(struct log_ratelimit *rl, uint64_t now, enum log_level level,
		    const char *fmt, ...) LOG_PRINTF(4, 5);

/*
 * What a line about a worker is about. Under journald such lines are sent
 * with sd_journal_send() and these as fields (WORKER=, EVENT=, PID=,
 * MISSED=), so that `journalctl -u vigil-supervisor WORKER=web-1` finds
 * them; elsewhere they are plain lines. pid and missed 0 are left out.
 */
struct log_fields {
	const char *worker;
	const char *event;
	uint64_t pid;
	uint64_t missed;
};

/* Log a line about a worker at level, through rl unless it is NULL (see log_ratelimited). */
int log_fields(struct log_ratelimit *rl, uint64_t now, enum log_level level,
	       const struct log_fields *f, const char *fmt, ...) LOG_PRINTF(5, 6);

/* Copy len bytes of peer text into out as printable ASCII (\n, \xNN escapes). */
void log_escape(const char *in, size_t len, char *out, size_t cap);

/* Route libevent's own messages into this log. */
void log_libevent(void);

#endif
