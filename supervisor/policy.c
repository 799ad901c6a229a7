/*
 * policy.c: --on-timeout ladders. See policy.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "policy.h"

/* The signals a policy may send: those that stop, end or poke a program. */
static const struct {
	const char *name;
	int sig;
} policy_signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ABRT", SIGABRT},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM},
};
#define POLICY_NSIGNALS (sizeof(policy_signals) / sizeof(policy_signals[0]))
#define POLICY_AT_MAX 1000000

const char *
policy_signal_name(int sig)
{
	for (size_t i = 0; i < POLICY_NSIGNALS; i++)
		if (policy_signals[i].sig == sig)
			return policy_signals[i].name;
	return NULL;
}

/* "N", the count after '@' (len bytes at d), into *at; 0, or -1 with err. */
static int
policy_parse_at(const char *d, size_t dlen, uint64_t *at, char *err, size_t errlen)
{
	uint64_t v = 0;
	int ok = dlen > 0 && dlen <= 7;

	for (size_t i = 0; ok && i < dlen; i++) {
		ok = d[i] >= '0' && d[i] <= '9';
		v = v * 10 + (uint64_t)(d[i] - '0');
	}
	if (!ok || v == 0 || v > POLICY_AT_MAX) {
		snprintf(err, errlen, "'%.*s' after @ is not a count from 1 to %d", (int)dlen, d,
			 POLICY_AT_MAX);
		return -1;
	}
	*at = v;
	return 0;
}

/* "PATH[@N]" (the part after "exec:", len bytes at s) into st; 0, or -1 with err. */
static int
policy_parse_exec(const char *s, size_t len, struct policy_step *st, char *err, size_t errlen)
{
	/* "@N" only if all that follows the last '@' is digits; else '@' is part of the path. */
	const char *at = memrchr(s, '@', len);
	if (at != NULL) {
		size_t dl = len - (size_t)(at + 1 - s);
		int digits = dl > 0;
		for (size_t i = 0; digits && i < dl; i++)
			digits = at[1 + i] >= '0' && at[1 + i] <= '9';
		if (!digits)
			at = NULL;
	}
	size_t plen = at != NULL ? (size_t)(at - s) : len;

	st->sig = 0;
	st->at = 1;
	if (at != NULL && policy_parse_at(at + 1, len - plen - 1, &st->at, err, errlen) == -1)
		return -1;
	if (plen == 0 || s[0] != '/') {
		snprintf(err, errlen, "'exec:%.*s' needs an absolute path", (int)len, s);
		return -1;
	}
	if (plen >= sizeof(st->path)) {
		snprintf(err, errlen, "exec: a path longer than %d bytes", POLICY_PATH_MAX - 1);
		return -1;
	}
	memcpy(st->path, s, plen);
	st->path[plen] = '\0';
	return 0;
}

/* One "SIG@N" (the part after "signal:", len bytes at s) into st; 0, or -1 with err. */
static int
policy_parse_signal(const char *s, size_t len, struct policy_step *st, char *err, size_t errlen)
{
	const char *at = memchr(s, '@', len);
	char name[16];

	st->path[0] = '\0';
	if (at == NULL) {
		snprintf(err, errlen, "'signal:%.*s' needs @N, the MISSED count to act at",
		         (int)len, s);
		return -1;
	}
	size_t nlen = (size_t)(at - s);
	const char *n = s;
	if (nlen > 3 && strncasecmp(n, "SIG", 3) == 0) {
		n += 3;
		nlen -= 3;
	}
	st->sig = 0;
	if (nlen > 0 && nlen < sizeof(name)) {
		memcpy(name, n, nlen);
		name[nlen] = '\0';
		for (size_t i = 0; i < POLICY_NSIGNALS; i++)
			if (strcasecmp(name, policy_signals[i].name) == 0)
				st->sig = policy_signals[i].sig;
	}
	if (st->sig == 0) {
		snprintf(
		    err, errlen,
		    "unknown signal '%.*s' (use HUP, INT, QUIT, ABRT, KILL, USR1, USR2 or TERM)",
		    (int)(at - s), s);
		return -1;
	}
	return policy_parse_at(at + 1, len - (size_t)(at + 1 - s), &st->at, err, errlen);
}

int
policy_parse(const char *text, struct policy *p, char *err, size_t errlen)
{
	const char *s = text;

	memset(p, 0, sizeof(*p));
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);

		if (len == 6 && strncmp(s, "notify", 6) == 0) {
			/* Reporting always happens: nothing to add. */
		} else if ((len > 7 && strncmp(s, "signal:", 7) == 0) ||
			   (len > 5 && strncmp(s, "exec:", 5) == 0)) {
			struct policy_step st;
			if (p->n == POLICY_MAX_STEPS) {
				snprintf(err, errlen, "more than %d steps", POLICY_MAX_STEPS);
				return -1;
			}
			if ((s[0] == 's' ? policy_parse_signal(s + 7, len - 7, &st, err, errlen)
					 : policy_parse_exec(s + 5, len - 5, &st, err, errlen)) == -1)
				return -1;
			if (p->n > 0 && st.at <= p->step[p->n - 1].at) {
				snprintf(err, errlen,
					 "'%.*s' must come at a higher MISSED than the step before it",
					 (int)len, s);
				return -1;
			}
			p->step[p->n++] = st;
		} else {
			snprintf(err, errlen,
				 "unknown step '%.*s' (use notify, signal:SIG@N or exec:PATH@N)",
				 (int)len, s);
			return -1;
		}
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

const struct policy_step *
policy_step_at(const struct policy *p, uint64_t missed)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->step[i].at == missed)
			return &p->step[i];
	return NULL;
}

void
policy_describe(const struct policy *p, char *buf, size_t cap)
{
	size_t off = 0;

	snprintf(buf, cap, "notify");
	for (size_t i = 0; i < p->n && off < cap; i++) {
		const struct policy_step *st = &p->step[i];
		int n = st->sig != 0 ? snprintf(buf + off, cap - off, "%ssignal:%s@%llu",
						i == 0 ? "" : ",", policy_signal_name(st->sig),
						(unsigned long long)st->at)
				     : snprintf(buf + off, cap - off, "%sexec:%s@%llu",
						i == 0 ? "" : ",", st->path,
						(unsigned long long)st->at);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

int
policy_parse_intensity(const char *text, struct intensity *in, char *err, size_t errlen)
{
	const char *slash = strchr(text, '/'), *why;
	uint64_t r = 0;
	int ok = slash != NULL && slash > text && slash - text <= 6;

	for (const char *p = text; ok && p < slash; p++) {
		ok = *p >= '0' && *p <= '9';
		r = r * 10 + (uint64_t)(*p - '0');
	}
	if (!ok || r == 0) {
		snprintf(err, errlen, "need R/W: a count from 1 to 999999, a slash, a duration "
				      "(e.g. 5/60s)");
		return -1;
	}
	if (vigil_duration_parse(slash + 1, &in->window, &why) == -1) {
		snprintf(err, errlen, "the window '%s': %s", slash + 1, why);
		return -1;
	}
	if (in->window == 0) {
		snprintf(err, errlen, "the window must be longer than 0");
		return -1;
	}
	in->max = r;
	return 0;
}

int
policy_incident(const struct intensity *in, struct intensity_count *c, uint64_t now)
{
	if (in->max == 0)
		return 0;
	if (c->n == 0 || now - c->start >= in->window) {
		c->start = now;
		c->n = 0;
	}
	c->n++;
	return c->n > in->max;
}
