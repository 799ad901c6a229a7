/*
 * config.c: the configuration file. See config.h.
 *
 * libinih splits "key = value" lines (trimming, inline "; comments") and
 * calls config_handler for each. We feed it through our own reader, which
 * sees every physical line first: it counts lines (so that every error has
 * its line, not only inih's first), takes section headers itself (inih's
 * section buffer is shorter than "worker " and a 64-byte name, and it never
 * reports a section without keys), refuses what inih would refuse silently
 * (a line too long for its buffer, a line without '='), and strips leading
 * blanks, so that an indented line is a key of its own, never the
 * continuation of the previous value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"

#define CONFIG_KEY_EXPECTED OPTIONS_MAX /* seen[]: the worker-only key "expected" */

enum config_section { SEC_NONE, SEC_SUPERVISOR, SEC_WORKER, SEC_BAD };

struct parser {
	struct config *c;
	const char *name; /* the file, in messages */
	const char *buf;  /* the source: the whole file */
	size_t len, pos;
	int lineno;
	enum config_section sec;
	size_t worker;                       /* SEC_WORKER: index in c->workers */
	char section[VIGIL_NAME_MAX + 16];   /* "supervisor", "worker NAME", for messages */
	int supervisor_line;                 /* of the first [supervisor] */
	int seen[OPTIONS_MAX + 1];           /* line each key was set at in this section */
	struct settings scratch;             /* a worker section's values, parsed */
};

static void config_add(struct config *c, const char *name, int line, size_t max, const char *fmt,
		       va_list ap) __attribute__((format(printf, 5, 0)));

void
config_error(struct config *c, const char *name, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_add(c, name, line, CONFIG_ERRORS_MAX, fmt, ap);
	va_end(ap);
}

/* The last word on errors beyond the limit: always kept. */
static void
config_error_last(struct config *c, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
config_error_last(struct config *c, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_add(c, name, 0, CONFIG_ERRORS_MAX + 1, fmt, ap);
	va_end(ap);
}

static void
config_add(struct config *c, const char *name, int line, size_t max, const char *fmt, va_list ap)
{
	struct config_error *e;

	if (c->nerrors >= max) {
		c->nerrors_dropped++;
		return;
	}
	if (c->nerrors == c->cap_errors) {
		size_t cap = c->cap_errors ? 2 * c->cap_errors : 8;
		if ((e = realloc(c->errors, cap * sizeof(*e))) == NULL) {
			c->nerrors_dropped++;
			return;
		}
		c->errors = e;
		c->cap_errors = cap;
	}
	e = &c->errors[c->nerrors++];
	e->line = line;
	int n = line > 0 ? snprintf(e->text, sizeof(e->text), "%s:%d: ", name, line)
			 : snprintf(e->text, sizeof(e->text), "%s: ", name);
	if (n < 0 || (size_t)n >= sizeof(e->text))
		return;
	vsnprintf(e->text + n, sizeof(e->text) - (size_t)n, fmt, ap);
}

struct config *
config_new(const struct settings *defaults)
{
	struct config *c = calloc(1, sizeof(*c));

	if (c != NULL)
		c->set = *defaults;
	return c;
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nworkers; i++)
		free(c->workers[i].policy);
	free(c->workers);
	free(c->errors);
	free(c);
}

/* [A-Za-z0-9._@:-]{1,64}, as WORKER= on the wire. */
static int
config_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VIGIL_NAME_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@:-") == n;
}

static int
config_blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* A section header's text, between its brackets, trimmed. */
static void
config_section(struct parser *p, char *text)
{
	struct config *c = p->c;

	memset(p->seen, 0, sizeof(p->seen));
	p->sec = SEC_BAD;
	if (strcmp(text, "supervisor") == 0) {
		snprintf(p->section, sizeof(p->section), "supervisor");
		if (p->supervisor_line != 0) {
			config_error(c, p->name, p->lineno,
				     "duplicate section [supervisor] (first at line %d)",
				     p->supervisor_line);
			return;
		}
		p->supervisor_line = p->lineno;
		p->sec = SEC_SUPERVISOR;
		return;
	}
	if (strncmp(text, "worker", 6) != 0 || (text[6] != '\0' && !config_blank(text[6]))) {
		config_error(c, p->name, p->lineno,
			     "unknown section [%.64s] (use [supervisor] or [worker NAME])", text);
		return;
	}
	char *name = text + 6;
	while (config_blank(*name))
		name++;
	if (*name == '\0') {
		config_error(c, p->name, p->lineno, "[worker] needs a name: [worker NAME]");
		return;
	}
	if (!config_name_valid(name)) {
		config_error(c, p->name, p->lineno,
			     "invalid worker name '%.80s' (1 to 64 of A-Z a-z 0-9 . _ @ : -)", name);
		return;
	}
	if (c->nworkers == c->cap_workers) {
		size_t cap = c->cap_workers ? 2 * c->cap_workers : 16;
		struct config_worker *w = realloc(c->workers, cap * sizeof(*w));
		if (w == NULL) {
			config_error(c, p->name, p->lineno, "out of memory");
			return;
		}
		c->workers = w;
		c->cap_workers = cap;
	}
	struct config_worker *w = &c->workers[c->nworkers];
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->line = p->lineno;
	w->expected = 1;
	p->worker = c->nworkers++;
	snprintf(p->section, sizeof(p->section), "worker %s", name);
	memset(&p->scratch, 0, sizeof(p->scratch));
	p->sec = SEC_WORKER;
}

/*
 * One physical line, in the way of fgets: what inih gets is the line, or an
 * empty one where we took the line ourselves (a section header) or refused
 * it (the error is recorded).
 */
static char *
config_reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	size_t n = 0, len = 0, max = num > 3 ? (size_t)num - 3 : 0;
	int ch, eof = 1, nul = 0;

	/* Read to the end of the line, keeping what fits. */
	for (;;) {
		ch = p->pos < p->len ? (unsigned char)p->buf[p->pos++] : EOF;
		if (ch == EOF)
			break;
		eof = 0;
		if (ch == '\n')
			break;
		if (ch == '\0')
			nul = 1;
		if (len < max)
			str[n++] = (char)ch;
		len++;
	}
	if (eof)
		return NULL;
	p->lineno++;
	str[n] = '\0';
	while (n > 0 && config_blank(str[n - 1]))
		str[--n] = '\0';
	if (nul) {
		config_error(p->c, p->name, p->lineno, "a NUL byte in the line");
		str[0] = '\0';
		return str;
	}
	if (len > max) {
		config_error(p->c, p->name, p->lineno, "line too long (more than %zu characters)",
			     max);
		str[0] = '\0';
		return str;
	}
	/* A UTF-8 byte order mark, then leading blanks: not part of anything. */
	char *s = str;
	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (config_blank(*s))
		s++;
	memmove(str, s, strlen(s) + 1);

	if (str[0] == '\0' || str[0] == ';' || str[0] == '#')
		return str;
	if (str[0] == '[') {
		char *end = strchr(str, ']');
		if (end == NULL) {
			config_error(p->c, p->name, p->lineno, "section header without ']'");
			p->sec = SEC_BAD;
		} else {
			char *rest = end + 1;
			while (config_blank(*rest))
				rest++;
			*end = '\0';
			char *name = str + 1;
			while (config_blank(*name))
				name++;
			for (char *e = end; e > name && config_blank(e[-1]); e--)
				e[-1] = '\0';
			if (*rest != '\0' && *rest != ';' && *rest != '#') {
				config_error(p->c, p->name, p->lineno,
					     "unexpected text after the section header: '%.64s'",
					     rest);
				p->sec = SEC_BAD;
			} else
				config_section(p, name);
		}
		str[0] = '\0';
		return str;
	}
	/* What inih needs: '=' (or ':') before any inline comment (" ;"). */
	for (char *q = str;; q++) {
		if (*q == '=' || *q == ':')
			break;
		if (*q == '\0' || (*q == ';' && q > str && config_blank(q[-1]))) {
			config_error(p->c, p->name, p->lineno, "expected 'key = value', got '%.64s'",
				     str);
			str[0] = '\0';
			break;
		}
	}
	return str;
}

/* A key of [worker NAME], parsed into the scratch settings, then kept. */
static void
config_worker_key(struct parser *p, const struct option_def *o, const char *key,
		  const char *value)
{
	struct config_worker *w = &p->c->workers[p->worker];
	char why[CONFIG_ERROR_LEN];

	if (strcmp(key, "expected") == 0) {
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			w->expected = 1;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			w->expected = 0;
		else
			config_error(p->c, p->name, p->lineno,
				     "invalid value '%.80s' for 'expected' in [%s]: use yes or no",
				     value, p->section);
		return;
	}
	if (o->parse(&p->scratch, value, why, sizeof(why)) == -1) {
		config_error(p->c, p->name, p->lineno, "invalid value '%.80s' for '%s' in [%s]: %s",
			     value, key, p->section, why);
		return;
	}
	if (strcmp(key, "timeout") == 0) {
		if (p->scratch.phi.threshold != 0) {
			config_error(p->c, p->name, p->lineno,
				     "invalid value '%.80s' for 'timeout' in [%s]: phi:T is for "
				     "[supervisor] only; a worker's timeout is a duration",
				     value, p->section);
			return;
		}
		w->timeout = p->scratch.timeout;
		w->given |= CONFIG_W_TIMEOUT;
	} else if (strcmp(key, "on-timeout") == 0) {
		if (w->policy == NULL && (w->policy = malloc(sizeof(*w->policy))) == NULL) {
			config_error(p->c, p->name, p->lineno, "out of memory");
			return;
		}
		*w->policy = p->scratch.policy;
		w->given |= CONFIG_W_POLICY;
	} else {
		w->intensity = p->scratch.intensity;
		w->given |= CONFIG_W_INTENSITY;
	}
}

static int
config_handler(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;
	struct config *c = p->c;
	char why[CONFIG_ERROR_LEN];

	(void)section; /* ours, from the reader */
	if (p->sec == SEC_BAD)
		return 1; /* the section's error is reported; its keys mean nothing */
	if (key[0] == '\0') {
		config_error(c, p->name, p->lineno, "a value without a key");
		return 1;
	}
	if (p->sec == SEC_NONE) {
		config_error(c, p->name, p->lineno,
			     "key '%.64s' outside any section (settings go in [supervisor])", key);
		return 1;
	}
	const struct option_def *o = options_find(key, strlen(key));
	unsigned need = p->sec == SEC_WORKER ? OPTION_WORKER : OPTION_FILE;
	size_t i;
	if (p->sec == SEC_WORKER && strcmp(key, "expected") == 0)
		i = CONFIG_KEY_EXPECTED;
	else if (o != NULL && (o->flags & need))
		i = (size_t)(o - options_table);
	else {
		config_error(c, p->name, p->lineno, "unknown key '%.64s' in [%s]", key, p->section);
		return 1;
	}
	if (p->seen[i] != 0 && (o == NULL || !(o->flags & OPTION_REPEAT))) {
		config_error(c, p->name, p->lineno, "duplicate key '%s' in [%s] (first at line %d)",
			     key, p->section, p->seen[i]);
		return 1;
	}
	if (p->seen[i] == 0)
		p->seen[i] = p->lineno;
	if (value[0] == '\0') {
		config_error(c, p->name, p->lineno, "missing value for '%s' in [%s]", key,
			     p->section);
		return 1;
	}
	if (p->sec == SEC_WORKER) {
		config_worker_key(p, o, key, value);
		return 1;
	}
	if (options_apply(&c->set, (unsigned)i, value, why, sizeof(why)) == -1) {
		config_error(c, p->name, p->lineno, "invalid value '%.80s' for '%s' in [%s]: %s",
			     value, key, p->section, why);
		return 1;
	}
	if (c->key_line[i] == 0)
		c->key_line[i] = p->lineno;
	return 1;
}

static int
config_cmp_worker(const void *a, const void *b)
{
	const struct config_worker *wa = a, *wb = b;
	int d = strcmp(wa->name, wb->name);

	return d != 0 ? d : (wa->line > wb->line) - (wa->line < wb->line);
}

static int
config_cmp_error(const void *a, const void *b)
{
	const struct config_error *ea = a, *eb = b;

	/* Stable enough: errors on one line come in the order found (text as tie-break). */
	if (ea->line != eb->line)
		return (ea->line > eb->line) - (ea->line < eb->line);
	return 0;
}

/* Sort the workers, refuse a name given twice, put the errors in line order. */
static int
config_finish(struct parser *p, int rc)
{
	struct config *c = p->c;
	size_t n = 0;

	if (rc == -2)
		config_error(c, p->name, 0, "out of memory");
	else if (rc > 0) {
		/* inih refused a line we let through: say so, unless it is already said. */
		int said = 0;
		for (size_t i = 0; i < c->nerrors; i++)
			said |= c->errors[i].line == rc;
		if (!said)
			config_error(c, p->name, rc, "syntax error");
	}
	if (c->nworkers > 1)
		qsort(c->workers, c->nworkers, sizeof(*c->workers), config_cmp_worker);
	for (size_t i = 0; i < c->nworkers; i++) {
		if (n > 0 && strcmp(c->workers[n - 1].name, c->workers[i].name) == 0) {
			config_error(c, p->name, c->workers[i].line,
				     "duplicate section [worker %s] (first at line %d)",
				     c->workers[i].name, c->workers[n - 1].line);
			free(c->workers[i].policy);
			continue;
		}
		c->workers[n++] = c->workers[i];
	}
	c->nworkers = n;
	c->nexpected = 0;
	for (size_t i = 0; i < n; i++)
		c->nexpected += c->workers[i].expected != 0;
	/* Insertion sort: stable, and the list is nearly sorted already. */
	for (size_t i = 1; i < c->nerrors; i++) {
		struct config_error e = c->errors[i];
		size_t j = i;
		for (; j > 0 && config_cmp_error(&c->errors[j - 1], &e) > 0; j--)
			c->errors[j] = c->errors[j - 1];
		c->errors[j] = e;
	}
	if (c->nerrors_dropped > 0)
		config_error_last(c, p->name, "... and %zu more errors", c->nerrors_dropped);
	c->loaded = 1;
	return c->nerrors == 0 ? 0 : -1;
}

/* What a file that is not a regular one is, for the error that refuses it. */
static const char *
config_file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFDIR:
		return "a directory";
	case S_IFSOCK:
		return "a socket";
	default:
		return "of an unknown type";
	}
}

/* Refuse what is not a regular file, or is larger than CONFIG_FILE_MAX; 0 if st is fine. */
static int
config_file_check(struct config *c, const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode)) {
		config_error(c, path, 0, "not a regular file (%s)", config_file_kind(st->st_mode));
		return -1;
	}
	if (st->st_size > CONFIG_FILE_MAX) {
		config_error(c, path, 0, "too large (%jd bytes; at most %d MiB)",
			     (intmax_t)st->st_size, CONFIG_FILE_MAX >> 20);
		return -1;
	}
	return 0;
}

/*
 * The file's bytes, at most CONFIG_FILE_MAX, in a buffer of *len bytes that
 * the caller frees; NULL with c's error otherwise. Nothing here can block
 * or run for long: a FIFO, a device or a directory is refused before it is
 * read (stat() first, so that not even its open() runs, in the common case;
 * fstat() of what was opened, O_NONBLOCK, decides), and a regular file is
 * read to at most one byte beyond the limit, so that one that grows while
 * it is read is refused too.
 */
static char *
config_file_read(struct config *c, const char *path, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd, e;

	if (stat(path, &st) == 0 && config_file_check(c, path, &st) == -1)
		return NULL;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) == -1) {
		e = errno;
		c->missing = e == ENOENT;
		config_error(c, path, 0, "cannot read %s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		config_error(c, path, 0, "cannot read %s: %s", path, strerror(e));
		goto fail;
	}
	if (config_file_check(c, path, &st) == -1) {
		e = EINVAL;
		goto fail;
	}
	if ((buf = malloc((size_t)CONFIG_FILE_MAX + 1)) == NULL) {
		e = errno;
		config_error(c, path, 0, "out of memory");
		goto fail;
	}
	while (n <= CONFIG_FILE_MAX) {
		ssize_t r = read(fd, buf + n, (size_t)CONFIG_FILE_MAX + 1 - n);
		if (r == 0)
			break;
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = errno;
			config_error(c, path, 0, "cannot read %s: %s", path, strerror(e));
			goto fail;
		}
		n += (size_t)r;
	}
	if (n > CONFIG_FILE_MAX) {
		/* It grew while we read it, or its size says nothing (/proc): more, at least. */
		if (fstat(fd, &st) == 0 && st.st_size > (off_t)n)
			config_error(c, path, 0, "too large (%jd bytes; at most %d MiB)",
				     (intmax_t)st.st_size, CONFIG_FILE_MAX >> 20);
		else
			config_error(c, path, 0, "too large (more than %d bytes; at most %d MiB)",
				     CONFIG_FILE_MAX, CONFIG_FILE_MAX >> 20);
		e = EFBIG;
		goto fail;
	}
	close(fd);
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	errno = e;
	return NULL;
}

int
config_parse_file(struct config *c, const char *path)
{
	size_t len;
	char *buf = config_file_read(c, path, &len);

	if (buf == NULL)
		return -1;
	int rc = config_parse_buffer(c, path, buf, len);
	free(buf);
	return rc;
}

int
config_parse_buffer(struct config *c, const char *name, const char *buf, size_t len)
{
	struct parser p = {.c = c, .name = name, .buf = buf, .len = len};

	return config_finish(&p, ini_parse_stream(config_reader, &p, config_handler, &p));
}

const struct config_worker *
config_worker(const struct config *c, const char *name)
{
	size_t lo = 0, hi = c->nworkers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, c->workers[mid].name);
		if (d == 0)
			return &c->workers[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
