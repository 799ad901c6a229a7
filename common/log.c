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
#include <sys/uio.h>
#include <time.h>

#include <event2/event.h>
#include <systemd/sd-journal.h>

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

/* Send msg to the journal with f's fields; -1 if it could not be sent. */
static int
log_journal_send(enum log_level level, const struct log_fields *f, const char *msg)
{
	char m[1100], prio[16], id[80], worker[80], event[48], pid[32], missed[40];
	struct iovec iov[7];
	int n = 0;

#define LOG_IOV(buf, ...)                                                                          \
	do {                                                                                       \
		snprintf(buf, sizeof(buf), __VA_ARGS__);                                           \
		iov[n].iov_base = buf;                                                             \
		iov[n++].iov_len = strlen(buf);                                                    \
	} while (0)
	LOG_IOV(m, "MESSAGE=%s", msg);
	LOG_IOV(prio, "PRIORITY=%d", (int)level);
	LOG_IOV(id, "SYSLOG_IDENTIFIER=%s", log_progname);
	if (f->worker != NULL)
		LOG_IOV(worker, "WORKER=%s", f->worker);
	if (f->event != NULL)
		LOG_IOV(event, "EVENT=%s", f->event);
	if (f->pid != 0)
		LOG_IOV(pid, "PID=%llu", (unsigned long long)f->pid);
	if (f->missed != 0)
		LOG_IOV(missed, "MISSED=%llu", (unsigned long long)f->missed);
#undef LOG_IOV
	return sd_journal_sendv(iov, n) < 0 ? -1 : 0;
}

static void
log_vwrite_fields(enum log_level level, const char *suffix, const struct log_fields *f,
		  const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (level > log_threshold) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A line about a worker goes with its fields; if journald refuses it, as a plain line. */
	if (log_journal && f != NULL && log_journal_send(level, f, msg) == 0) {
		errno = saved;
		return;
	}
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

static void
log_vwrite(enum log_level level, const char *suffix, const char *fmt, va_list ap)
{
	log_vwrite_fields(level, suffix, NULL, fmt, ap);
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
log_write_fields(enum log_level level, const struct log_fields *f, const char *fmt, ...)
	LOG_PRINTF(3, 4);

static void
log_write_fields(enum log_level level, const struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite_fields(level, NULL, f, fmt, ap);
	va_end(ap);
}

/* Whether rl lets one more line through at now (counting it if so); NULL lets all through. */
static int
log_allow(struct log_ratelimit *rl, uint64_t now)
{
	if (rl == NULL)
		return 1;
	uint64_t interval = rl->interval_usec ? rl->interval_usec : 1000000;
	uint64_t burst = rl->burst ? rl->burst : 1;

	/* now may be earlier than the window's start (a heartbeat's arrival
	 * stamp, older than the last line's): it belongs to the current window. */
	if (rl->written == 0 || (now >= rl->window_usec && now - rl->window_usec >= interval)) {
		rl->window_usec = now;
		rl->written = 0;
	}
	if (rl->written >= burst) {
		rl->suppressed++;
		return 0;
	}
	return 1;
}

/* Write a line rl allowed, saying how many were suppressed before it. */
static void
log_limited_write(struct log_ratelimit *rl, enum log_level level, const struct log_fields *f,
		  const char *fmt, va_list ap)
{
	char msg[900];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (rl != NULL && rl->suppressed > 0)
		log_write_fields(level, f, "%s (%llu similar messages suppressed)", msg,
				 (unsigned long long)rl->suppressed);
	else
		log_write_fields(level, f, "%s", msg);
	if (rl != NULL) {
		rl->written++;
		rl->suppressed = 0;
	}
}

int
log_ratelimited(struct log_ratelimit *rl, uint64_t now, enum log_level level, const char *fmt,
		...)
{
	va_list ap;

	if (!log_allow(rl, now))
		return 0;
	va_start(ap, fmt);
	log_limited_write(rl, level, NULL, fmt, ap);
	va_end(ap);
	return 1;
}

int
log_fields(struct log_ratelimit *rl, uint64_t now, enum log_level level,
	   const struct log_fields *f, const char *fmt, ...)
{
	va_list ap;

	if (!log_allow(rl, now))
		return 0;
	va_start(ap, fmt);
	log_limited_write(rl, level, f, fmt, ap);
	va_end(ap);
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
