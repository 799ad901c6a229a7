/*
 * log.c: logging to stderr, journald-aware. See log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

static const char *log_progname = "vigil";
static enum log_level log_threshold = LOG_LEVEL_INFO;
static int log_journal;

/* Whether stderr is the stream JOURNAL_STREAM ("dev:ino") names. */
static int
journal_detect(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_threshold = level;
	log_journal = journal_detect();
}

int
log_level_parse(const char *s, enum log_level *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"error", LOG_LEVEL_ERR},
		     {"warning", LOG_LEVEL_WARN},
		     {"info", LOG_LEVEL_INFO},
		     {"debug", LOG_LEVEL_DEBUG}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*level = names[i].level;
			return 0;
		}
	}
	return -1;
}

enum log_level
log_get_level(void)
{
	return log_threshold;
}

int
log_to_journal(void)
{
	return log_journal;
}

static const char *
level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR:
		return "error";
	case LOG_LEVEL_WARN:
		return "warning";
	case LOG_LEVEL_INFO:
		return "info";
	default:
		return "debug";
	}
}

static void
log_vwrite(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (level > log_threshold) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", (int)level, msg, suffix ? ": " : "",
			suffix ? suffix : "");
	} else {
		struct timeval tv;
		struct tm tm;
		char ts[32];

		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s %s: %s%s%s\n", ts, (long)(tv.tv_usec / 1000),
			log_progname, level_name(level), msg, suffix ? ": " : "",
			suffix ? suffix : "");
	}
	errno = saved;
}

#define LOG_BODY(level, suffix)                                                                    \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vwrite(level, suffix, fmt, ap);                                                \
		va_end(ap);                                                                        \
	} while (0)

void
log_error(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERR, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);
	LOG_BODY(LOG_LEVEL_WARN, e);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);
	LOG_BODY(LOG_LEVEL_ERR, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERR, NULL);
	exit(1);
}

static void
log_write(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

static void
log_write(enum log_level level, const char *fmt, ...)
{
	LOG_BODY(level, NULL);
}

int
log_ratelimited(struct log_ratelimit *rl, uint64_t now, enum log_level level, const char *fmt,
		...)
{
	uint64_t interval = rl->interval_usec ? rl->interval_usec : 1000000;
	uint64_t burst = rl->burst ? rl->burst : 1;
	char msg[900];
	va_list ap;

	if (rl->written == 0 || now - rl->window_usec >= interval) {
		rl->window_usec = now;
		rl->written = 0;
	}
	if (rl->written >= burst) {
		rl->suppressed++;
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->suppressed > 0)
		log_write(level, "%s (%llu similar messages suppressed)", msg,
			  (unsigned long long)rl->suppressed);
	else
		log_write(level, "%s", msg);
	rl->written++;
	rl->suppressed = 0;
	return 1;
}

void
log_escape(const char *in, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		char esc[4];
		size_t n;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			esc[0] = (char)c;
			n = 1;
		} else if (c == '\\') {
			esc[0] = '\\';
			esc[1] = '\\';
			n = 2;
		} else if (c == '\n') {
			esc[0] = '\\';
			esc[1] = 'n';
			n = 2;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			n = 4;
		}
		if (o + n >= cap)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
}

static void
log_libevent_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_libevent(void)
{
	event_set_log_callback(log_libevent_cb);
}
