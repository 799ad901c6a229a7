/*
 * policy.c: --on-timeout ladders. See policy.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* One "SIG@N" (the part after "signal:", len bytes at s) into st; 0, or -1 with err. */
static int
policy_parse_signal(const char *s, size_t len, struct policy_step *st, char *err, size_t errlen)
{
	const char *at = memchr(s, '@', len);
	char name[16];

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
	const char *d = at + 1;
	size_t dlen = len - (size_t)(d - s);
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
	st->at = v;
	return 0;
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
		} else if (len > 7 && strncmp(s, "signal:", 7) == 0) {
			struct policy_step st;
			if (p->n == POLICY_MAX_STEPS) {
				snprintf(err, errlen, "more than %d steps", POLICY_MAX_STEPS);
				return -1;
			}
			if (policy_parse_signal(s + 7, len - 7, &st, err, errlen) == -1)
				return -1;
			if (p->n > 0 && st.at <= p->step[p->n - 1].at) {
				snprintf(
				    err, errlen,
				    "'%.*s' must come at a higher MISSED than the step before it",
				    (int)len, s);
				return -1;
			}
			p->step[p->n++] = st;
		} else if (len > 5 && strncmp(s, "exec:", 5) == 0) {
			snprintf(err, errlen,
			         "exec: hooks are not supported yet (use notify or "
			         "signal:SIG@N)");
			return -1;
		} else {
			snprintf(err, errlen, "unknown step '%.*s' (use notify or signal:SIG@N)",
			         (int)len, s);
			return -1;
		}
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

int
policy_signal_at(const struct policy *p, uint64_t missed)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->step[i].at == missed)
			return p->step[i].sig;
	return 0;
}

void
policy_describe(const struct policy *p, char *buf, size_t cap)
{
	size_t off = 0;

	snprintf(buf, cap, "notify");
	for (size_t i = 0; i < p->n && off < cap; i++) {
		int n =
		    snprintf(buf + off, cap - off, "%ssignal:%s@%llu", i == 0 ? "" : ",",
		             policy_signal_name(p->step[i].sig), (unsigned long long)p->step[i].at);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}
